// tanh activation (BERT pooler, RoBERTa classification head).
// forward : y = tanh(x)
// backward: dinp += dout·(1 − y²)   (from the saved output y)
#pragma once
#include "kernels/views.hpp"

namespace tessera {

template <class S>
void tanh_forward(View1<S> out, ConstView1<S> inp, int64_t n);

template <class S>
void tanh_backward(View1<S> dinp, ConstView1<S> out, ConstView1<S> dout, int64_t n);

}  // namespace tessera
