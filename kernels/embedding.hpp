// Token + position embedding.
// forward : out[b,t,:] = wte[tok[b,t]-vocab_start, :] + wpe[t, :]
// backward: dwte[tok-vocab_start, :] += dout[b,t,:]; dwpe[t,:] += dout[b,t,:]
// Vocab-parallel ready: wte holds rows [vocab_start, vocab_start+vocab_local) of the
// full table; ids outside contribute zero. An empty wpe (extent 0) is skipped.
// Backward is race-free on threaded backends (parallel over channels).
#pragma once
#include "kernels/views.hpp"

namespace tessera {

template <class S>
void embedding_forward(View1<S> out, ConstView1<int32_t> tokens, ConstView1<S> wte, ConstView1<S> wpe, int B, int T,
                       int C, int64_t vocab_start, int64_t vocab_local);

template <class S>
void embedding_backward(View1<S> dwte, View1<S> dwpe, ConstView1<S> dout, ConstView1<int32_t> tokens, int B, int T,
                        int C, int64_t vocab_start, int64_t vocab_local);

}  // namespace tessera
