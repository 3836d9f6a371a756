// SwiGLU (Llama MLP) on gate_up rows [gate (F) | up (F)] of width 2F; out [N,F].
// forward : out[n,f] = silu(g)·u, silu(g) = g·σ(g), σ(g) = 1/(1+e^{−g})
// backward: dg += dout·u·σ(g)·(1 + g·(1−σ(g))); du += dout·silu(g)   (accumulate into dgate_up)
#pragma once
#include "kernels/views.hpp"

namespace tessera {

template <class S>
void swiglu_forward(View1<S> out, ConstView1<S> gate_up, int64_t N, int64_t F);

template <class S>
void swiglu_backward(View1<S> dgate_up, ConstView1<S> gate_up, ConstView1<S> dout, int64_t N, int64_t F);

}  // namespace tessera
