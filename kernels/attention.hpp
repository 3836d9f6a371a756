// Multi-head self-attention core on a fused QKV buffer.
// qkv [B,T,3C] holds q|k|v, each C = NH·hd with heads contiguous; out [B,T,C].
// forward : S = q·kᵀ/√hd (+ causal mask, + key padding mask), P = softmax(S),
//           P' = dropout(P), out = P'·v.   The two matmuls go to the GEMM dispatch
//           as strided batched GEMMs (lda = 3C, no permute copies).
// backward: dv += P'ᵀ·dout; dP' = dout·vᵀ; dP = dropout_bwd(dP'); dS = P⊙(dP - Σ dP⊙P);
//           dq += dS·k/√hd; dk += dSᵀ·q/√hd       (all accumulate into dqkv)
// att  [B,NH,T,T]: P (post-softmax) saved for backward.
// attd [B,NH,T,T]: P' when attn dropout p > 0 (may be empty otherwise).
// scratch [B,NH,T,T]: workspace for backward.
// key_mask [B,T] (int32, 1 = attend, 0 = padding) may be empty (extent 0) = no padding.
#pragma once
#include "kernels/counter_rng.hpp"
#include "kernels/views.hpp"

namespace tessera {

struct AttentionShape {
  int B, T, C, NH;
  bool causal = true;
  // Where this call's batch rows and heads sit in the global [B_total, NH_total]
  // (data- and tensor-parallel shards), so dropout masks use global indices:
  // element ((b+batch_offset)·NH_total + h+head_offset)·T² + i·T + j.
  int batch_offset = 0, head_offset = 0, NH_total = 0;  // NH_total 0 = NH
};

template <class S>
void attention_forward(View1<S> out, View1<S> att, View1<S> attd, ConstView1<S> qkv, ConstView1<int32_t> key_mask,
                       const AttentionShape& shape, S dropout_p, RngKey dropout_key);

template <class S>
void attention_backward(View1<S> dqkv, View1<S> scratch, ConstView1<S> dout, ConstView1<S> qkv, ConstView1<S> att,
                        ConstView1<S> attd, const AttentionShape& shape, S dropout_p, RngKey dropout_key);

}  // namespace tessera
