// LayerNorm over the last dim C of N rows.
// forward : mean = Σx/C, rstd = 1/sqrt(Σ(x-mean)²/C + eps), out = (x-mean)·rstd·w + b
// backward: dinp += rstd·(w·dout - mean(w·dout) - x̂·mean(w·dout·x̂)); dw += Σ_n dout·x̂; db += Σ_n dout (empty dw/db: skipped)
#pragma once
#include "kernels/views.hpp"

namespace tessera {

template <class S>
void layernorm_forward(View1<S> out, View1<S> mean, View1<S> rstd, ConstView1<S> inp, ConstView1<S> weight,
                       ConstView1<S> bias, int64_t N, int C, S eps);

template <class S>
void layernorm_backward(View1<S> dinp, View1<S> dweight, View1<S> dbias, ConstView1<S> dout, ConstView1<S> inp,
                        ConstView1<S> weight, ConstView1<S> mean, ConstView1<S> rstd, int64_t N, int C);

}  // namespace tessera
