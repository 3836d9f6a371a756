// RMSNorm (Llama) over the last dim C of N rows.
// forward : rstd = 1/sqrt(Σx²/C + eps), out = x·rstd·w
// backward: dinp += rstd·(w·dout - x̂·mean(w·dout·x̂)), x̂ = x·rstd;  dw += Σ_n dout·x̂ (empty dw: skipped)
#pragma once
#include "kernels/views.hpp"

namespace tessera {

template <class S>
void rmsnorm_forward(View1<S> out, View1<S> rstd, ConstView1<S> inp, ConstView1<S> weight, int64_t N, int C, S eps);

template <class S>
void rmsnorm_backward(View1<S> dinp, View1<S> dweight, ConstView1<S> dout, ConstView1<S> inp, ConstView1<S> weight,
                      ConstView1<S> rstd, int64_t N, int C);

}  // namespace tessera
