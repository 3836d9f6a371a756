// Multi-head self-attention core on a fused QKV buffer, with grouped-query attention (GQA).
// qkv [B,T,W] rows q|k|v: q = NH heads (C = NH·hd columns), k and v = NKV heads each (NKV·hd columns),
// W = (NH + 2·NKV)·hd (= 3C when NKV == NH); q head h reads kv head h / (NH/NKV); out [B,T,C].
// forward : S = q·kᵀ/√hd (+ causal mask, + key padding mask), P = softmax(S),
//           P' = dropout(P), out = P'·v.   The two matmuls go to the GEMM dispatch
//           as strided batched GEMMs (lda = W, no permute copies).
// backward: dv += P'ᵀ·dout; dP' = dout·vᵀ; dP = dropout_bwd(dP'); dS = P⊙(dP - Σ dP⊙P);
//           dq += dS·k/√hd; dk += dSᵀ·q/√hd       (all accumulate into dqkv; dk, dv sum over a group's q heads)
// att  [B,NH,T,T]: P (post-softmax) saved for backward.
// attd [B,NH,T,T]: P' when attn dropout p > 0 (may be empty otherwise).
// scratch [B,NH,T,T]: workspace for backward.
// key_mask [B,T] (int32, 1 = attend, 0 = padding) may be empty (extent 0) = no padding.
//
// attention_forward_cached (inference, KV cache): caches [B,NKV,T_max,hd]; qkv [B,T_new,W] holds the rows of
// positions pos0..pos0+T_new−1. Copies their k, v into the caches, then out[b,t,h] = softmax_j(q·k_jᵀ/√hd)·v_j
// over keys j < pos0+T_new (causal: j ≤ pos0+t; key_mask [B,T_max] may be empty). No dropout.
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
  int NKV = 0;  // key/value heads (GQA), 0 = NH; must divide NH
};

template <class S>
void attention_forward(View1<S> out, View1<S> att, View1<S> attd, ConstView1<S> qkv, ConstView1<int32_t> key_mask,
                       const AttentionShape& shape, S dropout_p, RngKey dropout_key);

template <class S>
void attention_backward(View1<S> dqkv, View1<S> scratch, ConstView1<S> dout, ConstView1<S> qkv, ConstView1<S> att,
                        ConstView1<S> attd, const AttentionShape& shape, S dropout_p, RngKey dropout_key);

template <class S>
void attention_forward_cached(View1<S> out, ConstView1<S> qkv, View1<S> k_cache, View1<S> v_cache,
                              ConstView1<int32_t> key_mask, int B, int T_new, int64_t pos0, int T_max, int NH,
                              int NKV, int hd, bool causal);

}  // namespace tessera
