// GELU, tanh approximation (GPT-2): y = ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
// backward: dinp += dout · dy/dx
// GELU, exact erf form (BERT): y = ½x(1 + erf(x/√2)); dy/dx = ½(1 + erf(x/√2)) + x·φ(x), φ(x) = e^{−x²/2}/√(2π)
#pragma once
#include "kernels/views.hpp"

namespace tessera {

template <class S>
void gelu_forward(View1<S> out, ConstView1<S> inp, int64_t n);

template <class S>
void gelu_backward(View1<S> dinp, ConstView1<S> inp, ConstView1<S> dout, int64_t n);

template <class S>
void gelu_erf_forward(View1<S> out, ConstView1<S> inp, int64_t n);

template <class S>
void gelu_erf_backward(View1<S> dinp, ConstView1<S> inp, ConstView1<S> dout, int64_t n);

}  // namespace tessera
