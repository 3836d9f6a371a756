// Attention-head gates (Michel, Levy & Neubig 2019, "Are Sixteen Heads Really Better
// than One?"): the context of head h (columns h·hd … h·hd+hd−1 of each row of the
// attention output [N, NH·hd]) is multiplied by a gate ξ_h before the output projection.
// forward : out[n, h·hd + j] = ξ_h · ctx[n, h·hd + j]
// backward: dξ_h += Σ_n Σ_j dout[n, h·hd + j] · ctx[n, h·hd + j]   (when dgate is non-empty)
//           dctx[n, h·hd + j] = ξ_h · dout[n, h·hd + j]            (in place on dout)
#pragma once
#include "kernels/views.hpp"

namespace tessera {

template <class S>
void head_gate_forward(View1<S> out, ConstView1<S> ctx, ConstView1<S> gate, int64_t N, int NH, int hd);

// dgate [NH] accumulates (+=); empty = not needed. d is d(out) on entry, d(ctx) on exit.
template <class S>
void head_gate_backward(View1<S> d, View1<S> dgate, ConstView1<S> ctx, ConstView1<S> gate, int64_t N, int NH, int hd);

}  // namespace tessera
