// Tiled ("flash-style") multi-head self-attention on the fused QKV buffer of attention.hpp, without the
// B·NH·T·T probability tensor. Same shapes, masks, GQA grouping, dropout masks and results as
// attention_forward / attention_backward (model.attention = "tiled", docs/config.md).
//
// forward : one Kokkos team per (batch b, q head h, tile of kTileQ query rows). The team walks the key tiles
//           (kTileK keys each, only those a causal row can see) holding its query rows, an output
//           accumulator and the running row max m and denominator l in team scratch (online softmax):
//             m' = max(m, max_j s_j), l' = l·e^{m−m'} + Σ_j e^{s_j−m'}, o' = o·e^{m−m'} + Σ_j keep_ij·e^{s_j−m'}/(1−p)·v_j
//           out = o/l; stored for the backward: out and lse = m + log l per row ([B,NH,T]).
//           Dropout keep_ij = rng_uniform(key, ((b+bo)·NH_total + h+ho)·T² + i·T + j) ≥ p: the very mask
//           attention_forward draws for element (b,h,i,j), so both paths give the same result.
// backward: D_i = Σ_d dout_id·out_id (= Σ_j P_ij·dP_ij, also with dropout), then the probabilities are
//           recomputed tile by tile from q, k and lse: P_ij = e^{s_ij − lse_i},
//             dP_ij = keep_ij/(1−p)·dout_i·v_j,  dS_ij = P_ij·(dP_ij − D_i),
//             dv_j += Σ_i keep_ij/(1−p)·P_ij·dout_i,  dk_j += Σ_i dS_ij·q_i/√hd,  dq_i += Σ_j dS_ij·k_j/√hd.
//           Two kernels, no atomics (deterministic): teams per (b, kv head, key tile) own dk/dv of their keys
//           (looping over the G = NH/NKV q heads of the group and every query tile), teams per
//           (b, q head, query tile) own dq of their rows. Accumulates (+=) into dqkv like attention_backward.
// Fully masked rows (every key padded): out = 0 and no gradient, as in attention_forward.
// Memory: lse and the backward's D are [B,NH,T]; everything else lives in team scratch (level 0 when it
// fits 40 KiB, level 1 otherwise, which on CUDA is global memory); on the host backends a team has one
// thread, on a GPU kTileQ threads (one query row / key each).
//
// tiled_attention_forward_cached: generation prefill with the KV cache (the signature and cache layout of
// attention_forward_cached): appends the new k, v rows to the caches, then runs the tiled forward of the
// T_new query rows over the keys j < pos0 + T_new of the cache (causal: j ≤ pos0 + t). No dropout, no lse.
#pragma once
#include "kernels/attention.hpp"

namespace tessera {

constexpr int kTileQ = 32;  // query rows per team
constexpr int kTileK = 32;  // keys per tile

// lse [B·NH·T] (row (b·NH + h)·T + i); a fully masked row stores numeric_limits<S>::max().
template <class S>
void tiled_attention_forward(View1<S> out, View1<S> lse, ConstView1<S> qkv, ConstView1<int32_t> key_mask,
                             const AttentionShape& shape, S dropout_p, RngKey dropout_key);

// out, lse: the forward's; delta [B·NH·T]: workspace; key_mask as the forward's.
template <class S>
void tiled_attention_backward(View1<S> dqkv, View1<S> delta, ConstView1<S> dout, ConstView1<S> qkv,
                              ConstView1<S> out, ConstView1<S> lse, ConstView1<int32_t> key_mask,
                              const AttentionShape& shape, S dropout_p, RngKey dropout_key);

template <class S>
void tiled_attention_forward_cached(View1<S> out, ConstView1<S> qkv, View1<S> k_cache, View1<S> v_cache,
                                    ConstView1<int32_t> key_mask, int B, int T_new, int64_t pos0, int T_max,
                                    int NH, int NKV, int hd, bool causal);

}  // namespace tessera
