// Residual add and gradient accumulation.
// forward : out = a + b
// backward: da += dout, db += dout  (call accumulate() once per input)
#pragma once
#include "kernels/views.hpp"

namespace tessera {

template <class S>
void residual_forward(View1<S> out, ConstView1<S> a, ConstView1<S> b, int64_t n);

// dst += src
template <class S>
void accumulate(View1<S> dst, ConstView1<S> src, int64_t n);

// x *= factor
template <class S>
void scale_inplace(View1<S> x, int64_t n, S factor);

}  // namespace tessera
