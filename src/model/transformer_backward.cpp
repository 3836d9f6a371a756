// Transformer backward: the forward's steps in reverse — head and its loss, final
// norm, blocks of this stage (last to first), embeddings. Every parameter
// gradient accumulates (+=); the grads-ready hook fires per block so data-parallel
// reductions start while earlier blocks are still in backward.
#include <string>
#include "kernels/attention.hpp"
#include "kernels/tiled_attention.hpp"
#include "kernels/classification_loss.hpp"
#include "kernels/cross_entropy.hpp"
#include "kernels/cross_entropy_vocab_parallel.hpp"
#include "kernels/dropout.hpp"
#include "kernels/embedding.hpp"
#include "kernels/feature_input.hpp"
#include "kernels/gather_rows.hpp"
#include "kernels/gelu.hpp"
#include "kernels/head_gate.hpp"
#include "kernels/residual.hpp"
#include "kernels/rope.hpp"
#include "kernels/span_logits.hpp"
#include "kernels/swiglu.hpp"
#include "kernels/tanh_activation.hpp"
#include "src/model/transformer_internals.hpp"

namespace tessera {

template <class S>
void Transformer<S>::backward(S loss_scale) {
  require(mp_.pp_size == 1, "Transformer::backward: a pipeline stage runs backward_stage()");
  require(slots_[0]->has_targets || !slots_[0]->backward_ready,
          "model backward: needs a forward with labels first (and one backward per forward)");
  backward_stage(0, loss_scale, View1<S>());
}

template <class S>
void Transformer<S>::backward_stage(int slot, S loss_scale, const View1<S>& output_grad) {
  require(slot >= 0 && slot < int(slots_.size()), "Transformer::backward_stage: slot out of range");
  require(params_.packed_bytes() == 0, "model backward: a model with packed (quantised) weights is inference-only");
  Activations& a = *slots_[slot];
  require(a.backward_ready, "model backward: needs a forward with labels first (and one backward per forward)");
  const bool first = is_first_stage(), last = is_last_stage();
  require(!last || a.has_targets, "model backward: needs a forward with labels first (and one backward per forward)");
  a.backward_ready = false;
  require(!lora_merged_, "model backward: the LoRA adapters are merged into the base weights (unmerge to train)");
  const FamilyNames nm(cfg_);
  const Dims d = dims_of(cfg_, mp_, layer_begin_, layer_end_);
  const int64_t L = d.L, C = d.C, Fl = d.Fl, Vl = d.Vl, K = d.K, W = d.W, Ql = d.Ql, KVl = d.KVl, Fh = d.Fh;
  const int B = a.B, T = a.T;
  const int64_t N = int64_t(B) * T;
  const DropoutRates drop = a.drop;
  const ForwardOptions opt = a.opt;
  const uint64_t row_offset = uint64_t(mp_.dp_rank) * uint64_t(N);
  const uint64_t sample_offset = uint64_t(mp_.dp_rank) * uint64_t(B);
  const uint32_t head_layer = uint32_t(cfg_.n_layer + 1);
  auto key = [&](uint32_t layer, uint32_t site) { return RngKey{opt.seed, opt.step, layer, site}; };
  auto ready = [&](const std::string& name) {
    if (grads_ready_ && params_.contains(name)) {
      const size_t i = params_.index_of(name);
      grads_ready_(i, i + 1);
    }
  };
  auto ready_prefix = [&](const std::string& base) {
    ready(base + ".weight");
    ready(base + ".bias");
  };
  auto block_out = [&](int64_t li) { return a.block_output(cfg_, li); };
  const View1<S> none;

  if (last) {
    // Head → dh = d(hidden after the final norm).
    const View1<S> class_w = a.class_w;  // as uploaded by the forward
    const View1<S> h = cfg_.final_norm ? sub(a.lnf, 0, N * C) : block_out(L - 1);
    zero(a.dh, N * C);
    switch (cfg_.head) {
      case HeadKind::None:
        require(false, "model backward: head 'none' has no loss");
        break;
      case HeadKind::CausalLM: {
        // dlogits (in place) → dE += dlogitsᵀ·h, dh = dlogits·E (summed over vocab shards).
        const S dloss = a.num_valid > 0 ? S(loss_scale / S(a.num_valid)) : S(0);
        if (mp_.tp_size == 1)
          cross_entropy_backward_inplace<S>(a.logits, a.lse, a.labels, N, Vl, dloss, kIgnoreIndex);
        else
          cross_entropy_backward_inplace_shard<S>(a.logits, a.lse, a.labels, N, Vl, d.v0, dloss, kIgnoreIndex);
        const std::string wname = cfg_.tie_word_embeddings ? nm.tok + ".weight" : nm.lm_head + ".weight";
        const View1<S> wte = params_.value(wname), dwte = params_.grad(wname);
        if (dwte.extent(0) > 0) {  // empty = frozen
          gemm_model<S>(Trans::Yes, Trans::No, Vl, C, N, S(1), a.logits.data(), Vl, h.data(), C, S(1), dwte.data(), C);
          gemm_model_reuse_previous_a<S>();  // the N×V dlogits: one bf16 copy for both GEMMs
        }
        gemm_model<S>(Trans::No, Trans::No, N, C, Vl, S(1), a.logits.data(), Vl, wte.data(), C, S(0), a.dh.data(), C);
        tp_sum(mp_, a.dh, N * C);
        if (!cfg_.tie_word_embeddings || !first) ready(wname);  // no other contribution on this stage
        break;
      }
      case HeadKind::SequenceClassification: {
        // Rows B.. are SMOTE's synthetic head inputs: head gradients only (the gather takes B rows).
        const int Bh = B + a.smote_rows;
        const int64_t BC = int64_t(Bh) * C;
        zero(a.dhead_logits, int64_t(Bh) * K);
        const S scale = a.weight_sum > 0 ? S(loss_scale / a.weight_sum) : S(0);
        classification_loss_backward<S>(a.dhead_logits, a.head_logits, a.head_lse, a.labels, class_w, Bh, int(K),
                                        S(label_smoothing_), kIgnoreIndex, scale);
        // Walk back: classifier ← dropout (encoders) ← dense+tanh (BERT pooler / RoBERTa) ← dropout (RoBERTa) ← gather.
        const bool has_dense = !nm.pool_dense.empty();
        const bool drop_post = cfg_.is_encoder() && drop.head > 0;
        const bool drop_pre = cfg_.family == Family::RoBERTa && drop.head > 0;
        View1<S> p_pre = drop_pre ? a.pooled_d : a.pooled;          // input of the dense layer
        View1<S> p_cls = has_dense ? a.dense_t : a.pooled;          // input of the classifier (before dropout)
        View1<S> cls_in = drop_post ? a.dense_d : p_cls;
        const View1<S> cw = params_.value(nm.cls_out + ".weight");
        const View1<S> cb_g = cfg_.is_encoder() ? params_.grad(nm.cls_out + ".bias") : View1<S>();
        if (cfg_.feature_head()) {  // classifier ← feature hidden layers ← [cls_in ; features]
          feature_head_backward(a, Bh, a.ddense);
        } else {
          zero(a.ddense, BC);
          linear_bwd<S>(a.ddense, params_.grad(nm.cls_out + ".weight"), cb_g, a.dhead_logits, cls_in, cw, Bh, C, K);
        }
        ready_prefix(nm.cls_out);
        View1<S> g = a.ddense;  // d(cls_in)
        if (drop_post) {
          zero(a.dpooled, BC);
          dropout_backward<S>(a.dpooled, g, BC, S(drop.head), key(head_layer, 2), sample_offset * C);
          std::swap(a.dpooled, a.ddense);  // ddense = d(p_cls)
          g = a.ddense;
        }
        if (has_dense) {
          zero(a.dtmp, BC);
          tanh_backward<S>(a.dtmp, a.dense_t, g, BC);  // d(dense)
          zero(a.dpooled, BC);
          linear_bwd<S>(a.dpooled, params_.grad(nm.pool_dense + ".weight"), params_.grad(nm.pool_dense + ".bias"),
                        sub(a.dtmp, 0, BC), p_pre, params_.value(nm.pool_dense + ".weight"), Bh, C, C);
          ready_prefix(nm.pool_dense);
          g = a.dpooled;  // d(p_pre)
        }
        if (drop_pre) {
          zero(a.dtmp, BC);
          dropout_backward<S>(a.dtmp, g, BC, S(drop.head), key(head_layer, 1), sample_offset * C);
          g = sub(a.dtmp, 0, BC);
        }
        gather_rows_backward<S>(a.dh, g, a.pooled_rows, B, int(C));
        break;
      }
      case HeadKind::TokenClassification: {
        zero(a.dhead_logits, N * K);
        const S scale = a.weight_sum > 0 ? S(loss_scale / a.weight_sum) : S(0);
        classification_loss_backward<S>(a.dhead_logits, a.head_logits, a.head_lse, a.labels, class_w, N, int(K),
                                        S(label_smoothing_), kIgnoreIndex, scale);
        const View1<S> p = drop.head > 0 ? a.head_in : h;
        const View1<S> dp = drop.head > 0 ? a.dtmp : a.dh;
        zero(dp, N * C);
        linear_bwd<S>(dp, params_.grad("classifier.weight"), params_.grad("classifier.bias"), a.dhead_logits, p,
                      params_.value("classifier.weight"), N, C, K);
        if (drop.head > 0) dropout_backward<S>(a.dh, a.dtmp, N * C, S(drop.head), key(head_layer, 1), row_offset * C);
        ready_prefix("classifier");
        break;
      }
      case HeadKind::QuestionAnswering: {
        zero(a.dqa_start, N);
        zero(a.dqa_end, N);
        const View1<int32_t> ts = sub(a.qa_targets, 0, B), te = sub(a.qa_targets, B, B);
        const S ss = a.weight_sum > 0 ? S(0.5 * loss_scale / a.weight_sum) : S(0);
        const S se = a.weight_sum_end > 0 ? S(0.5 * loss_scale / a.weight_sum_end) : S(0);
        classification_loss_backward<S>(a.dqa_start, a.qa_start, a.head_lse, ts, none, B, T, S(0), kIgnoreIndex, ss);
        classification_loss_backward<S>(a.dqa_end, a.qa_end, a.qa_lse_end, te, none, B, T, S(0), kIgnoreIndex, se);
        zero(a.dhead_logits, N * 2);
        span_logits_merge_grad<S>(a.dhead_logits, a.dqa_start, a.dqa_end, N);
        linear_bwd<S>(a.dh, params_.grad("qa_outputs.weight"), params_.grad("qa_outputs.bias"), a.dhead_logits, h,
                      params_.value("qa_outputs.weight"), N, C, 2);
        ready_prefix("qa_outputs");
        break;
      }
    }
    // Final norm: dres = d(last block output).
    if (cfg_.final_norm) {
      zero(a.dres, N * C);
      const bool ln = cfg_.norm == NormKind::LayerNorm;
      norm_backward<S>(cfg_, a.dres, params_.grad(nm.final_norm + ".weight"),
                       ln ? params_.grad(nm.final_norm + ".bias") : none, a.dh, block_out(L - 1),
                       params_.value(nm.final_norm + ".weight"), a.lnf_mean, a.lnf_rstd, N, C);
      ready_prefix(nm.final_norm);
    } else {
      Kokkos::deep_copy(sub(a.dres, 0, N * C), sub(a.dh, 0, N * C));
    }
  } else {
    require(output_grad.extent(0) >= size_t(N * C), "model backward_stage: missing or short output gradient");
    Kokkos::deep_copy(sub(a.dres, 0, N * C), sub(output_grad, 0, N * C));
  }

  // Gradient of a residual branch from the stream's gradient: dbranch = dropout_bwd(dres).
  auto branch_grad = [&](RngKey k) -> View1<S> {
    if (drop.resid <= 0) return a.dres;
    zero(a.dbranch, N * C);
    dropout_backward<S>(a.dbranch, a.dres, N * C, S(drop.resid), k, row_offset * C);
    return a.dbranch;
  };

  AttentionShape shape{B, T, int(Ql), int(d.NHl), cfg_.causal};
  shape.NKV = int(d.NKVl);
  shape.batch_offset = mp_.dp_rank * B;
  shape.head_offset = int(mp_.tp_rank * d.NHl);
  shape.NH_total = int(d.NH);
  const bool gated = !head_gates_.empty();
  require(!gated || a.attg.extent(0) >= size_t(N * Ql), "model backward: head gates were set after the forward");
  // model.attention = tiled: att holds one logsumexp per row, no probabilities (tiled_attention.hpp).
  const bool tiled = cfg_.attention == AttentionKind::Tiled;
  for (int64_t li = L - 1; li >= 0; --li) {
    const int l = layer_begin_ + int(li);
    const BlockWeights<S> w = block_weights(params_, nm, l, false);
    const BlockWeights<S> g = block_weights(params_, nm, l, true);
    const View1<S> x = li == 0 ? sub(a.x0, 0, N * C) : block_out(li - 1);
    // train.recompute: the one layer slot of intermediates (full) or probabilities (selective) still holds the
    // last block's from the forward; every earlier block recomputes them here, from its kept input (full) or
    // its kept q/k/v (selective, below), with the forward's dropout keys.
    if (a.recompute_full && li < L - 1) forward_block(a, li, true);
    const bool recompute_probs = a.recompute_probs && !a.recompute_full && li < L - 1;
    const typename Activations::Block k = a.block(cfg_, d, li);
    const View1<S> n1 = k.n1, n1_mean = k.n1_mean, n1_rstd = k.n1_rstd, qkv = k.qkv, atty = k.atty, att = k.att,
                   attd = k.attd, res2 = k.res2, n2 = k.n2, n2_mean = k.n2_mean, n2_rstd = k.n2_rstd, fch = k.fch,
                   fact = k.fact, res3 = k.res3;
    // LoRA backward after a base layer's: (site, dy, lddy, out, x, ldx, in, dx, lddx, in_full, col0).
    auto lora = [&](int site, const View1<S>& dy, int64_t lddy, int64_t out, const View1<S>& xin, int64_t ldx,
                    int64_t in, View1<S> dx, int64_t lddx, int64_t in_full, int64_t col0) {
      const LoraCall<S> lc = lora_call(a, li, site, in, out, in_full, col0);
      if (lc.a.extent(0) == 0) return;
      LoraCall<S> c = lc;
      c.drop_shape.ld = ldx;
      lora_backward<S>(c, dy, lddy, xin, ldx, dx, lddx);
    };
    if (!cfg_.pre_norm) {  // out = norm2(res3): dres ← d(res3)
      zero(a.dtmp, N * C);
      norm_backward<S>(cfg_, a.dtmp, g.n2w, g.n2b, a.dres, res3, w.n2w, n2_mean, n2_rstd, N, C);
      Kokkos::deep_copy(sub(a.dres, 0, N * C), sub(a.dtmp, 0, N * C));
    }
    // MLP. dres holds d(res3); the skip path passes it on to d(m_in) / d(res2).
    const View1<S> m_in = cfg_.pre_norm ? n2 : n1;
    const View1<S> dmlp = branch_grad(key(uint32_t(l + 1), 3));
    if (g.proj_b.extent(0) > 0) bias_backward<S>(g.proj_b, dmlp, N, C);  // replicated bias, after the all-reduce
    zero(a.dfact, N * Fl);
    linear_bwd<S>(a.dfact, g.proj_w, none, dmlp, fact, w.proj_w, N, Fl, C);
    lora(kLoraProj, dmlp, C, C, fact, Fl, Fl, a.dfact, Fl, d.F, mp_.tp_rank * Fl);
    zero(a.dfch, N * Fh);
    if (cfg_.activation == Activation::SwiGLU) swiglu_backward<S>(a.dfch, fch, a.dfact, N, Fl);
    else if (cfg_.activation == Activation::GeluErf) gelu_erf_backward<S>(a.dfch, fch, a.dfact, N * Fl);
    else gelu_backward<S>(a.dfch, fch, a.dfact, N * Fl);
    zero(a.dln, N * C);
    if (cfg_.activation == Activation::SwiGLU) {
      linear_bwd<S>(a.dln, C, g.gate_w, none, a.dfch, Fh, m_in, C, w.gate_w, N, C, Fl);
      linear_bwd<S>(a.dln, C, g.up_w, none, sub(a.dfch, Fl, N * Fh - Fl), Fh, m_in, C, w.up_w, N, C, Fl);
      lora(kLoraGate, a.dfch, Fh, Fl, m_in, C, C, a.dln, C, C, 0);
      lora(kLoraUp, sub(a.dfch, Fl, N * Fh - Fl), Fh, Fl, m_in, C, C, a.dln, C, C, 0);
    } else {
      linear_bwd<S>(a.dln, g.fc_w, g.fc_b, a.dfch, m_in, w.fc_w, N, C, Fl);
      lora(kLoraFC, a.dfch, Fl, Fl, m_in, C, C, a.dln, C, C, 0);
    }
    tp_sum(mp_, a.dln, N * C);  // f backward: sum the input gradient over tp
    if (cfg_.pre_norm) {
      norm_backward<S>(cfg_, a.dres, g.n2w, g.n2b, a.dln, res2, w.n2w, n2_mean, n2_rstd, N, C);  // dres = d(res2)
    } else {
      accumulate<S>(a.dln, a.dres, N * C);  // d(n1) = skip + MLP
      zero(a.dres, N * C);
      norm_backward<S>(cfg_, a.dres, g.n1w, g.n1b, a.dln, res2, w.n1w, n1_mean, n1_rstd, N, C);  // d(res2)
    }
    // Attention. dres holds d(res2); the skip path passes it on to d(x).
    const View1<S> dattn = branch_grad(key(uint32_t(l + 1), 2));
    if (g.o_b.extent(0) > 0) bias_backward<S>(g.o_b, dattn, N, C);
    zero(a.datty, N * Ql);
    View1<S> ctx = atty;  // o_proj input (head gates: ξ_h·context, recomputed)
    const View1<S> gate = gated ? sub(gate_dev_, li * d.NHl, d.NHl) : View1<S>();
    if (gated) {
      head_gate_forward<S>(a.attg, atty, gate, N, int(d.NHl), int(d.hd));
      ctx = sub(a.attg, 0, N * Ql);
    }
    linear_bwd<S>(a.datty, g.o_w, none, dattn, ctx, w.o_w, N, Ql, C);
    lora(kLoraO, dattn, C, C, ctx, Ql, Ql, a.datty, Ql, d.NH * d.hd, mp_.tp_rank * Ql);
    if (gated)  // datty: d(gated) → d(context); ∂L/∂ξ_h accumulated when asked for
      head_gate_backward<S>(a.datty, gate_grad_on_ ? sub(gate_grad_dev_, li * d.NHl, d.NHl) : View1<S>(), atty, gate, N,
                            int(d.NHl), int(d.hd));
    zero(a.dqkv, N * W);
    if (recompute_probs)  // P (and P' with dropout) from the kept post-RoPE q/k; atty gets its forward value again
      attention_forward<S>(atty, att, attd, qkv, a.has_mask ? sub(a.mask, 0, N) : View1<int32_t>(), shape,
                           S(drop.attn), key(uint32_t(l + 1), 1));
    if (tiled)
      tiled_attention_backward<S>(a.dqkv, a.datt_scratch, a.datty, qkv, atty, att,
                                  a.has_mask ? sub(a.mask, 0, N) : View1<int32_t>(), shape, S(drop.attn),
                                  key(uint32_t(l + 1), 1));
    else
      attention_backward<S>(a.dqkv, a.datt_scratch, a.datty, qkv, att, attd, shape, S(drop.attn),
                            key(uint32_t(l + 1), 1));
    if (cfg_.positions == PositionKind::Rotary)
      rope_backward<S>(a.dqkv, N, T, 0, int(d.NHl), int(d.NKVl), int(d.hd), cfg_.rope_theta);
    const View1<S> a_in = cfg_.pre_norm ? n1 : x;
    zero(a.dln, N * C);
    if (w.qkv_w.extent(0) > 0) {
      linear_bwd<S>(a.dln, g.qkv_w, g.qkv_b, a.dqkv, a_in, w.qkv_w, N, C, W);
      lora(kLoraQKV, a.dqkv, W, W, a_in, C, C, a.dln, C, C, 0);
    } else {
      linear_bwd<S>(a.dln, C, g.q_w, g.q_b, a.dqkv, W, a_in, C, w.q_w, N, C, Ql);
      linear_bwd<S>(a.dln, C, g.k_w, g.k_b, sub(a.dqkv, Ql, N * W - Ql), W, a_in, C, w.k_w, N, C, KVl);
      linear_bwd<S>(a.dln, C, g.v_w, g.v_b, sub(a.dqkv, Ql + KVl, N * W - Ql - KVl), W, a_in, C, w.v_w, N, C, KVl);
      lora(kLoraQ, a.dqkv, W, Ql, a_in, C, C, a.dln, C, C, 0);
      lora(kLoraK, sub(a.dqkv, Ql, N * W - Ql), W, KVl, a_in, C, C, a.dln, C, C, 0);
      lora(kLoraV, sub(a.dqkv, Ql + KVl, N * W - Ql - KVl), W, KVl, a_in, C, C, a.dln, C, C, 0);
    }
    tp_sum(mp_, a.dln, N * C);
    if (cfg_.pre_norm) norm_backward<S>(cfg_, a.dres, g.n1w, g.n1b, a.dln, x, w.n1w, n1_mean, n1_rstd, N, C);
    else accumulate<S>(a.dres, a.dln, N * C);
    if (grads_ready_) {
      const auto [i0, i1] = block_param_range(params_, nm, l);
      grads_ready_(i0, i1);
    }
  }

  if (first && a.x0_overridden) {  // integrated gradients: stop at x0
    if (embedding_grad_.extent(0) != size_t(N * C)) embedding_grad_ = View1<S>("embedding_output_grad", N * C);
    Kokkos::deep_copy(embedding_grad_, sub(a.dres, 0, N * C));
  } else if (first) {
    // Embeddings: dres holds d(x0). Every tp rank accumulates its token rows and the replicated tables.
    View1<S> demb = a.dres;
    if (drop.embd > 0) {
      zero(a.dbranch, N * C);
      dropout_backward<S>(a.dbranch, a.dres, N * C, S(drop.embd), key(0, 0), row_offset * C);
      demb = a.dbranch;
    }
    if (cfg_.embedding_norm) {
      zero(a.dtmp, N * C);
      norm_backward<S>(cfg_, a.dtmp, params_.grad(nm.emb_norm + ".weight"), params_.grad(nm.emb_norm + ".bias"), demb,
                       a.emb, params_.value(nm.emb_norm + ".weight"), a.emb_mean, a.emb_rstd, N, C);
      demb = a.dtmp;
      ready_prefix(nm.emb_norm);
    }
    View1<S> dpos;
    if (cfg_.positions == PositionKind::Learned && params_.grad(nm.pos + ".weight").extent(0) > 0)
      dpos = sub(params_.grad(nm.pos + ".weight"), int64_t(cfg_.position_offset) * C, T * C);
    embedding_backward<S>(params_.grad(nm.tok + ".weight"), dpos, demb, a.tokens, B, T, int(C), d.v0, Vl);
    if (cfg_.type_vocab_size > 0) {
      embedding_backward<S>(params_.grad(nm.type + ".weight"), View1<S>(), demb, a.types, B, T, int(C), 0,
                            cfg_.type_vocab_size);
    }
    ready(nm.tok + ".weight");
    if (cfg_.positions == PositionKind::Learned) ready(nm.pos + ".weight");
    if (cfg_.type_vocab_size > 0) ready(nm.type + ".weight");
  } else {
    Kokkos::deep_copy(sub(a.dx0, 0, N * C), sub(a.dres, 0, N * C));
  }
  Kokkos::fence();
}

template <class S>
void Transformer<S>::feature_head_backward(Activations& a, int rows, View1<S> dz) {
  const FamilyNames nm(cfg_);
  const FeatureHeadConfig& fh = cfg_.features;
  const int64_t C = cfg_.n_embd, D = fh.dense_dim, M = fh.categorical_dim(), E = fh.embedding_dim;
  const int64_t K = cfg_.num_labels, nh = int64_t(fh.hidden.size());
  const uint32_t head_layer = uint32_t(cfg_.n_layer + 1);
  auto ready = [&](const std::string& name) {
    if (grads_ready_ && params_.contains(name)) {
      const size_t i = params_.index_of(name);
      grads_ready_(i, i + 1);
    }
  };
  auto width = [&](int64_t i) { return i == 0 ? fh.input_dim(C) : fh.hidden[size_t(i - 1)]; };
  // The classifier's input u_nh: the last hidden layer's (dropped) activation, or u_0.
  auto layer_out = [&](int64_t i) -> View1<S> {
    if (i == 0) return a.fh_u[0];
    return a.drop.feature > 0 ? a.fh_u[size_t(i)] : a.fh_act[size_t(i - 1)];
  };
  View1<S> du = a.fh_du, dv = a.fh_dv;
  {
    const int64_t w = width(nh);
    zero(du, int64_t(rows) * w);
    const View1<S> cb_g = cfg_.is_encoder() ? params_.grad(nm.cls_out + ".bias") : View1<S>();
    linear_bwd<S>(du, params_.grad(nm.cls_out + ".weight"), cb_g, a.dhead_logits, layer_out(nh),
                  params_.value(nm.cls_out + ".weight"), rows, w, K);
  }
  for (int64_t i = nh - 1; i >= 0; --i) {
    const int64_t H = fh.hidden[size_t(i)], in = width(i), n = int64_t(rows) * H;
    View1<S> g = du;  // d(u_{i+1})
    if (a.drop.feature > 0) {
      zero(dv, n);
      const uint64_t offset = uint64_t(mp_.dp_rank) * uint64_t(a.B) * uint64_t(H);
      dropout_backward<S>(dv, g, n, S(a.drop.feature), RngKey{a.opt.seed, a.opt.step, head_layer, uint32_t(3 + i)},
                          offset);
      g = dv;
    }
    zero(a.fh_dpre, n);
    if (fh.activation == "relu") relu_backward<S>(a.fh_dpre, a.fh_pre[size_t(i)], g, n);
    else if (fh.activation == "gelu") gelu_backward<S>(a.fh_dpre, a.fh_pre[size_t(i)], g, n);
    else tanh_backward<S>(a.fh_dpre, a.fh_act[size_t(i)], g, n);
    const std::string base = "feature_head.mlp." + std::to_string(i);
    View1<S> dnext = g.data() == du.data() ? dv : du;  // d(u_i), not aliasing g
    zero(dnext, int64_t(rows) * in);
    linear_bwd<S>(dnext, params_.grad(base + ".weight"), params_.grad(base + ".bias"), sub(a.fh_dpre, 0, n),
                  layer_out(i), params_.value(base + ".weight"), rows, in, H);
    ready(base + ".weight");
    ready(base + ".bias");
    if (dnext.data() != du.data()) std::swap(du, dv);  // du = d(u_i)
  }
  if (a.x0_overridden) {  // integrated gradients: keep d(u_0) (feature_input_grad())
    const size_t n = size_t(rows) * size_t(width(0));
    if (feature_input_grad_.extent(0) != n) feature_input_grad_ = View1<S>("feature_input_grad", n);
    Kokkos::deep_copy(feature_input_grad_, sub(du, 0, int64_t(n)));
  }
  const std::string table = "feature_head.categorical_embedding.weight";
  const View1<S> dtable = M > 0 && params_.contains(table) ? params_.grad(table) : View1<S>();
  feature_input_backward<S>(dz, dtable, du, a.feat_cat, rows, C, D, M, E, fh.categorical_rows());
  if (M > 0) ready(table);
}

#define TESSERA_INSTANTIATE_BACKWARD(S)               \
  template void Transformer<S>::backward(S);          \
  template void Transformer<S>::backward_stage(int, S, const View1<S>&);
TESSERA_INSTANTIATE_BACKWARD(float)
TESSERA_INSTANTIATE_BACKWARD(double)

}  // namespace tessera
