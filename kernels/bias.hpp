// Bias of a linear layer on N rows of OC outputs (row stride ld, 0 = OC, so a column slice of a wider
// row-major buffer works: pass out/dout offset to the slice's first column and ld = the buffer's width).
// forward : out[n,o] += bias[o]
// backward: dbias[o] += Σ_n dout[n,o]   (race-free: parallel over o)
#pragma once
#include "kernels/views.hpp"

namespace tessera {

template <class S>
void bias_add_forward(View1<S> out, ConstView1<S> bias, int64_t N, int64_t OC, int64_t ld = 0);

template <class S>
void bias_backward(View1<S> dbias, ConstView1<S> dout, int64_t N, int64_t OC, int64_t ld = 0);

}  // namespace tessera
