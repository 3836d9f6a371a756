// Incremental decoding with a KV cache (inference only, decoder families, one
// pipeline stage; tensor parallelism works as in training). Each call runs the
// blocks on the T_new new tokens only: their keys/values are appended to the
// per-layer caches and their queries attend over every cached position, so the
// cost per generated token does not grow with the prompt the way a full
// recompute does. Output equals the full forward's last rows (tested).
#include <string>
#include "kernels/attention.hpp"
#include "kernels/tiled_attention.hpp"
#include "kernels/embedding.hpp"
#include "kernels/gelu.hpp"
#include "kernels/residual.hpp"
#include "kernels/rope.hpp"
#include "kernels/swiglu.hpp"
#include "src/model/transformer_internals.hpp"

namespace tessera {

template <class S>
void Transformer<S>::begin_decode(int B, int T_max) {
  require(!cfg_.is_encoder() && cfg_.causal, "incremental decoding needs a decoder family (gpt2, llama)");
  require(cfg_.head == HeadKind::CausalLM, "incremental decoding needs the causal_lm head");
  require(mp_.pp_size == 1, "incremental decoding runs on one pipeline stage (pp = 1)");
  require(B > 0 && T_max > 0, "begin_decode: B and T_max must be positive");
  if (cfg_.lora.enabled() && !lora_merged_) merge_lora();  // generation is inference: fold the adapters in
  require(cfg_.positions != PositionKind::Learned || T_max + cfg_.position_offset <= cfg_.n_positions,
          "begin_decode: " + std::to_string(T_max) + " positions exceed n_positions=" +
              std::to_string(cfg_.n_positions));
  const Dims d = dims_of(cfg_, mp_, layer_begin_, layer_end_);
  if (!cache_) cache_ = std::make_unique<DecodeCache>();
  const size_t n = size_t(d.L) * size_t(B) * size_t(d.NKVl) * size_t(T_max) * size_t(d.hd);
  if (cache_->k.extent(0) < n) {
    cache_->k = View1<S>("kv_cache_k", n);
    cache_->v = View1<S>("kv_cache_v", n);
  }
  cache_->B = B;
  cache_->T_max = T_max;
}

template <class S>
void Transformer<S>::forward_decode(const int32_t* tokens, int B, int T_new, int64_t pos0) {
  require(cache_ && cache_->B == B, "forward_decode: call begin_decode(B, T_max) first");
  require(T_new > 0 && pos0 >= 0 && pos0 + T_new <= cache_->T_max,
          "forward_decode: positions [" + std::to_string(pos0) + ", " + std::to_string(pos0 + T_new) +
              ") outside the cache (T_max=" + std::to_string(cache_->T_max) + ")");
  const FamilyNames nm(cfg_);
  const Dims d = dims_of(cfg_, mp_, layer_begin_, layer_end_);
  const int64_t L = d.L, C = d.C, Fl = d.Fl, Fh = d.Fh, W = d.W, Ql = d.Ql, KVl = d.KVl, Vl = d.Vl;
  const int T = T_new;
  const int64_t N = int64_t(B) * T;
  for (int64_t i = 0; i < N; ++i)
    if (!(tokens[i] >= 0 && tokens[i] < d.V))
      require(false, "forward_decode: token id " + std::to_string(tokens[i]) + " is outside [0, " +
                         std::to_string(d.V) + ")");
  Activations& a = *slots_[0];
  a.ensure(d, cfg_, true, true, B, T, false);
  a.backward_ready = false;
  a.has_targets = false;
  a.num_valid = 0;
  upload(a.tokens, tokens, N);

  View1<S> pos;
  if (cfg_.positions == PositionKind::Learned && mp_.tp_rank == 0)
    pos = sub(params_.value(nm.pos + ".weight"), (cfg_.position_offset + pos0) * C, T * C);
  embedding_forward<S>(a.x0, a.tokens, params_.value(nm.tok + ".weight"), pos, B, T, int(C), d.v0, Vl);
  tp_sum(mp_, a.x0, N * C);

  const View1<S> none;
  const View1<int32_t> no_mask;
  const int64_t per_layer = int64_t(B) * d.NKVl * cache_->T_max * d.hd;
  // One layer's buffers (slot 0, layer 0 slices) are reused by every layer.
  const View1<S> n1 = sub(a.n1, 0, N * C), n1_mean = sub(a.n1_mean, 0, N), n1_rstd = sub(a.n1_rstd, 0, N),
                 qkv = sub(a.qkv, 0, N * W), atty = sub(a.atty, 0, N * Ql), res2 = sub(a.res2, 0, N * C),
                 n2 = sub(a.n2, 0, N * C), n2_mean = sub(a.n2_mean, 0, N), n2_rstd = sub(a.n2_rstd, 0, N),
                 fch = sub(a.fch, 0, N * Fh), fact = sub(a.fact, 0, N * Fl), res3 = sub(a.res3, 0, N * C);
  View1<S> x = sub(a.x0, 0, N * C);
  for (int64_t li = 0; li < L; ++li) {
    const int l = layer_begin_ + int(li);
    const BlockWeights<S> w = block_weights(params_, nm, l, false);
    norm_forward<S>(cfg_, n1, n1_mean, n1_rstd, x, w.n1w, w.n1b, N, C);
    if (w.fused_qkv()) {
      linear_fwd<S>(qkv, n1, w.qkv_w, w.qkv_b, N, C, W, w.qkv_p);
    } else {
      linear_fwd<S>(qkv, W, n1, C, w.q_w, w.q_b, N, C, Ql, w.q_p);
      linear_fwd<S>(sub(qkv, Ql, N * W - Ql), W, n1, C, w.k_w, w.k_b, N, C, KVl, w.k_p);
      linear_fwd<S>(sub(qkv, Ql + KVl, N * W - Ql - KVl), W, n1, C, w.v_w, w.v_b, N, C, KVl, w.v_p);
    }
    if (cfg_.positions == PositionKind::Rotary)
      rope_forward<S>(qkv, N, T, pos0, int(d.NHl), int(d.NKVl), int(d.hd), cfg_.rope_theta);
    // Prefill (several new tokens) with model.attention = tiled: the tiled kernel; one token: the row kernel.
    if (cfg_.attention == AttentionKind::Tiled && T > 1)
      tiled_attention_forward_cached<S>(atty, qkv, sub(cache_->k, li * per_layer, per_layer),
                                        sub(cache_->v, li * per_layer, per_layer), no_mask, B, T, pos0,
                                        cache_->T_max, int(d.NHl), int(d.NKVl), int(d.hd), true);
    else
      attention_forward_cached<S>(atty, qkv, sub(cache_->k, li * per_layer, per_layer),
                                  sub(cache_->v, li * per_layer, per_layer), no_mask, B, T, pos0, cache_->T_max,
                                  int(d.NHl), int(d.NKVl), int(d.hd), true);
    linear_fwd<S>(a.branch, atty, w.o_w, none, N, Ql, C, w.o_p);
    tp_sum(mp_, a.branch, N * C);
    if (w.o_b.extent(0) > 0) bias_add_forward<S>(a.branch, w.o_b, N, C);
    residual_forward<S>(res2, x, a.branch, N * C);
    norm_forward<S>(cfg_, n2, n2_mean, n2_rstd, res2, w.n2w, w.n2b, N, C);
    if (cfg_.activation == Activation::SwiGLU) {
      linear_fwd<S>(fch, Fh, n2, C, w.gate_w, none, N, C, Fl, w.gate_p);
      linear_fwd<S>(sub(fch, Fl, N * Fh - Fl), Fh, n2, C, w.up_w, none, N, C, Fl, w.up_p);
      swiglu_forward<S>(fact, fch, N, Fl);
    } else {
      linear_fwd<S>(fch, n2, w.fc_w, w.fc_b, N, C, Fl, w.fc_p);
      if (cfg_.activation == Activation::GeluErf) gelu_erf_forward<S>(fact, fch, N * Fl);
      else gelu_forward<S>(fact, fch, N * Fl);
    }
    linear_fwd<S>(a.branch, fact, w.proj_w, none, N, Fl, C, w.proj_p);
    tp_sum(mp_, a.branch, N * C);
    if (w.proj_b.extent(0) > 0) bias_add_forward<S>(a.branch, w.proj_b, N, C);
    residual_forward<S>(res3, res2, a.branch, N * C);
    x = res3;
  }
  View1<S> h = x;
  if (cfg_.final_norm) {
    const View1<S> nb = cfg_.norm == NormKind::LayerNorm ? params_.value(nm.final_norm + ".bias") : View1<S>();
    norm_forward<S>(cfg_, a.lnf, a.lnf_mean, a.lnf_rstd, x, params_.value(nm.final_norm + ".weight"), nb, N, C);
    h = a.lnf;
  }
  const View1<S> wte = params_.value(cfg_.tie_word_embeddings ? nm.tok + ".weight" : nm.lm_head + ".weight");
  gemm<S>(Trans::No, Trans::Yes, N, Vl, C, S(1), h.data(), C, wte.data(), C, S(0), a.logits.data(), Vl);
  Kokkos::fence();
}

template void Transformer<float>::begin_decode(int, int);
template void Transformer<double>::begin_decode(int, int);
template void Transformer<float>::forward_decode(const int32_t*, int, int, int64_t);
template void Transformer<double>::forward_decode(const int32_t*, int, int, int64_t);

}  // namespace tessera
