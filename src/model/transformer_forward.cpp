// Transformer forward: embeddings (first stage) → blocks of this stage → final
// norm and task head with its loss (last stage). See transformer.hpp for the block
// equations and transformer_internals.hpp for the activation slots.
#include <cmath>
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
S Transformer<S>::forward(const ModelInputs& in, int B, int T, const ForwardOptions& opt) {
  require(mp_.pp_size == 1, "Transformer::forward: a pipeline stage runs forward_stage()");
  return forward_stage(0, in, B, T, opt, View1<S>());
}

template <class S>
S Transformer<S>::forward(const int32_t* tokens, const int32_t* targets, int B, int T, const ForwardOptions& opt) {
  ModelInputs in;
  in.tokens = tokens;
  in.labels = targets;
  return forward(in, B, T, opt);
}

template <class S>
S Transformer<S>::forward_stage(int slot, const int32_t* tokens, const int32_t* targets, int B, int T,
                                const ForwardOptions& opt, const View1<S>& input_hidden) {
  ModelInputs in;
  in.tokens = tokens;
  in.labels = targets;
  return forward_stage(slot, in, B, T, opt, input_hidden);
}

// Row of each sample that a sequence-classification head reads: [CLS]/<s> (row 0)
// for encoders; the last non-padding token for decoders (from the attention mask,
// else the token before the first pad_token_id, else the last row).
inline std::vector<int32_t> pooled_rows(const TransformerConfig& c, const ModelInputs& in, int B, int T) {
  std::vector<int32_t> rows(size_t(B), 0);
  for (int b = 0; b < B; ++b) {
    int idx = 0;
    if (!c.is_encoder()) {
      idx = T - 1;
      if (in.attention_mask) {
        int n = 0;
        for (int t = 0; t < T; ++t) n += in.attention_mask[int64_t(b) * T + t] != 0;
        idx = std::max(0, n - 1);
      } else if (c.pad_token_id >= 0 && in.tokens) {
        for (int t = 0; t < T; ++t)
          if (in.tokens[int64_t(b) * T + t] == c.pad_token_id) {
            idx = std::max(0, t - 1);
            break;
          }
      }
    }
    rows[size_t(b)] = int32_t(int64_t(b) * T + idx);
  }
  return rows;
}

template <class S>
void Transformer<S>::forward_block(Activations& a, int64_t li, bool recomputing) {
  const FamilyNames nm(cfg_);
  const Dims d = dims_of(cfg_, mp_, layer_begin_, layer_end_);
  const int64_t C = d.C, Fl = d.Fl;
  const int B = a.B, T = a.T;
  const int64_t N = int64_t(B) * T;
  const DropoutRates drop = a.drop;
  const ForwardOptions opt = a.opt;
  auto key = [&](uint32_t layer, uint32_t site) { return RngKey{opt.seed, opt.step, layer, site}; };
  const uint64_t row_offset = uint64_t(mp_.dp_rank) * uint64_t(N);
  const bool observe = observer_ && !recomputing;  // calibration sees each block once
  // out = x + dropout(branch)
  auto residual_add = [&](View1<S> out, const View1<S>& x, RngKey k) {
    if (drop.resid > 0) {
      dropout_forward<S>(a.branch_drop, a.branch, N * C, S(drop.resid), k, row_offset * C);
      residual_forward<S>(out, x, a.branch_drop, N * C);
    } else {
      residual_forward<S>(out, x, a.branch, N * C);
    }
  };

  AttentionShape shape{B, T, int(d.Ql), int(d.NHl), cfg_.causal};
  shape.NKV = int(d.NKVl);
  shape.batch_offset = mp_.dp_rank * B;
  shape.head_offset = int(mp_.tp_rank * d.NHl);
  shape.NH_total = int(d.NH);
  const View1<int32_t> key_mask = a.has_mask ? sub(a.mask, 0, N) : View1<int32_t>();
  const View1<S> none;
  const int64_t W = d.W, Ql = d.Ql, KVl = d.KVl, Fh = d.Fh;
  const bool gated = !head_gates_.empty();
  // model.attention = tiled: att holds one logsumexp per row, no probabilities (tiled_attention.hpp).
  const bool tiled = cfg_.attention == AttentionKind::Tiled;
  const int l = layer_begin_ + int(li);
  const BlockWeights<S> w = block_weights(params_, nm, l, false);
  const typename Activations::Block k = a.block(cfg_, d, li);
  const View1<S> n1 = k.n1, n1_mean = k.n1_mean, n1_rstd = k.n1_rstd, qkv = k.qkv, atty = k.atty, att = k.att,
                 attd = k.attd, res2 = k.res2, n2 = k.n2, n2_mean = k.n2_mean, n2_rstd = k.n2_rstd, fch = k.fch,
                 fact = k.fact, res3 = k.res3;
  const View1<S> x = li == 0 ? sub(a.x0, 0, N * C) : a.block_output(cfg_, li - 1);
  // Attention: res2 = x + dropout(o_proj(attention(qkv(norm1?(x)))))
  View1<S> a_in = x;
  if (cfg_.pre_norm) {
    norm_forward<S>(cfg_, n1, n1_mean, n1_rstd, x, w.n1w, w.n1b, N, C);
    a_in = n1;
  }
  // LoRA branch after a base linear layer (no-op where the layer has no adapter).
  auto lora = [&](int site, const View1<S>& xin, int64_t ldx, int64_t in, View1<S> y, int64_t ldy, int64_t out,
                  int64_t in_full, int64_t col0) {
    const LoraCall<S> lc = lora_call(a, li, site, in, out, in_full, col0);
    if (lc.a.extent(0) == 0) return;
    LoraCall<S> c = lc;
    c.drop_shape.ld = ldx;
    lora_forward<S>(c, xin, ldx, y, ldy);
  };
  if (observe) observer_(l, LinearInput::Attention, a_in, N, C);
  if (w.fused_qkv()) {
    linear_fwd<S>(qkv, a_in, w.qkv_w, w.qkv_b, N, C, W, w.qkv_p);  // column-parallel (f)
    lora(kLoraQKV, a_in, C, C, qkv, W, W, C, 0);
  } else {
    linear_fwd<S>(qkv, W, a_in, C, w.q_w, w.q_b, N, C, Ql, w.q_p);
    linear_fwd<S>(sub(qkv, Ql, N * W - Ql), W, a_in, C, w.k_w, w.k_b, N, C, KVl, w.k_p);
    linear_fwd<S>(sub(qkv, Ql + KVl, N * W - Ql - KVl), W, a_in, C, w.v_w, w.v_b, N, C, KVl, w.v_p);
    lora(kLoraQ, a_in, C, C, qkv, W, Ql, C, 0);
    lora(kLoraK, a_in, C, C, sub(qkv, Ql, N * W - Ql), W, KVl, C, 0);
    lora(kLoraV, a_in, C, C, sub(qkv, Ql + KVl, N * W - Ql - KVl), W, KVl, C, 0);
  }
  if (cfg_.positions == PositionKind::Rotary)
    rope_forward<S>(qkv, N, T, 0, int(d.NHl), int(d.NKVl), int(d.hd), cfg_.rope_theta);
  if (tiled) tiled_attention_forward<S>(atty, att, qkv, key_mask, shape, S(drop.attn), key(uint32_t(l + 1), 1));
  else attention_forward<S>(atty, att, attd, qkv, key_mask, shape, S(drop.attn), key(uint32_t(l + 1), 1));
  View1<S> ctx = atty;  // o_proj input: the context, or ξ_h·context with head gates (atty keeps the ungated one)
  if (gated) {
    head_gate_forward<S>(a.attg, atty, sub(gate_dev_, li * d.NHl, d.NHl), N, int(d.NHl), int(d.hd));
    ctx = sub(a.attg, 0, N * Ql);
  }
  if (observe) observer_(l, LinearInput::AttentionOutput, ctx, N, Ql);
  linear_fwd<S>(a.branch, ctx, w.o_w, none, N, Ql, C, w.o_p);  // row-parallel partial
  lora(kLoraO, ctx, Ql, Ql, a.branch, C, C, d.NH * d.hd, mp_.tp_rank * Ql);  // joins the partial sum
  tp_sum(mp_, a.branch, N * C);                          // (g)
  if (w.o_b.extent(0) > 0) bias_add_forward<S>(a.branch, w.o_b, N, C);
  residual_add(res2, x, key(uint32_t(l + 1), 2));
  // MLP: pre-norm res3 = res2 + drop(mlp(norm2(res2))); post-norm h = norm1(res2), n2 = norm2(h + drop(mlp(h)))
  View1<S> m_in;
  if (cfg_.pre_norm) {
    norm_forward<S>(cfg_, n2, n2_mean, n2_rstd, res2, w.n2w, w.n2b, N, C);
    m_in = n2;
  } else {
    norm_forward<S>(cfg_, n1, n1_mean, n1_rstd, res2, w.n1w, w.n1b, N, C);
    m_in = n1;
  }
  if (observe) observer_(l, LinearInput::Mlp, m_in, N, C);
  if (cfg_.activation == Activation::SwiGLU) {
    linear_fwd<S>(fch, Fh, m_in, C, w.gate_w, none, N, C, Fl, w.gate_p);  // column-parallel (f)
    linear_fwd<S>(sub(fch, Fl, N * Fh - Fl), Fh, m_in, C, w.up_w, none, N, C, Fl, w.up_p);
    lora(kLoraGate, m_in, C, C, fch, Fh, Fl, C, 0);
    lora(kLoraUp, m_in, C, C, sub(fch, Fl, N * Fh - Fl), Fh, Fl, C, 0);
    swiglu_forward<S>(fact, fch, N, Fl);
  } else {
    linear_fwd<S>(fch, m_in, w.fc_w, w.fc_b, N, C, Fl, w.fc_p);  // column-parallel (f)
    lora(kLoraFC, m_in, C, C, fch, Fl, Fl, C, 0);
    if (cfg_.activation == Activation::GeluErf) gelu_erf_forward<S>(fact, fch, N * Fl);
    else gelu_forward<S>(fact, fch, N * Fl);
  }
  if (observe) observer_(l, LinearInput::MlpOutput, fact, N, Fl);
  linear_fwd<S>(a.branch, fact, w.proj_w, none, N, Fl, C, w.proj_p);  // row-parallel partial
  lora(kLoraProj, fact, Fl, Fl, a.branch, C, C, d.F, mp_.tp_rank * Fl);
  tp_sum(mp_, a.branch, N * C);                             // (g)
  if (w.proj_b.extent(0) > 0) bias_add_forward<S>(a.branch, w.proj_b, N, C);
  residual_add(res3, cfg_.pre_norm ? res2 : n1, key(uint32_t(l + 1), 3));
  if (!cfg_.pre_norm) norm_forward<S>(cfg_, n2, n2_mean, n2_rstd, res3, w.n2w, w.n2b, N, C);
}

template <class S>
int Transformer<S>::append_smote_rows(Activations& a, const int32_t* labels, int B, const ForwardOptions& opt) {
  // The head input SMOTE interpolates: the pooled vector, followed by the dense features
  // when the head reads them ([pooled ; dense], width C + D). Categorical indices cannot be
  // interpolated: a synthetic row takes its source row's.
  const int64_t C = cfg_.n_embd, D = cfg_.feature_head() ? cfg_.features.dense_dim : 0;
  const int64_t M = cfg_.feature_head() ? cfg_.features.categorical_dim() : 0, Wx = C + D;
  require(smote_->width() == Wx, "SMOTE: head input width " + std::to_string(smote_->width()) + " != model width " +
                                     std::to_string(C) + (D > 0 ? " + " + std::to_string(D) + " dense features" : ""));
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sub(a.pooled, 0, int64_t(B) * C));
  std::vector<double> x(size_t(int64_t(B) * Wx));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) x[size_t(b * Wx + c)] = double(host(b * C + c));
  if (D > 0) {
    auto hd = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sub(a.feat_dense, 0, int64_t(B) * D));
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < D; ++j) x[size_t(b * Wx + C + j)] = double(hd(b * D + j));
  }
  // At most B synthetic rows: the head buffers hold B·T ≥ 2B rows.
  const SmoteBatch sb = smote_->synthesize(x.data(), labels, B, a.T > 1 ? B : 0, opt.step,
                                           uint64_t(mp_.dp_rank));
  const int ns = int(sb.count());
  if (ns == 0) return 0;
  auto rows = Kokkos::create_mirror_view(sub(a.pooled, int64_t(B) * C, int64_t(ns) * C));
  for (int64_t s = 0; s < ns; ++s)
    for (int64_t c = 0; c < C; ++c) rows(s * C + c) = S(sb.rows[size_t(s * Wx + c)]);
  Kokkos::deep_copy(sub(a.pooled, int64_t(B) * C, int64_t(ns) * C), rows);
  if (D > 0) {
    auto hd = Kokkos::create_mirror_view(sub(a.feat_dense, int64_t(B) * D, int64_t(ns) * D));
    for (int64_t s = 0; s < ns; ++s)
      for (int64_t j = 0; j < D; ++j) hd(s * D + j) = S(sb.rows[size_t(s * Wx + C + j)]);
    Kokkos::deep_copy(sub(a.feat_dense, int64_t(B) * D, int64_t(ns) * D), hd);
  }
  if (M > 0) {
    auto hc = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sub(a.feat_cat, 0, int64_t(B) * M));
    std::vector<int32_t> cat(size_t(int64_t(ns) * M));
    for (int64_t s = 0; s < ns; ++s)
      for (int64_t j = 0; j < M; ++j) cat[size_t(s * M + j)] = hc(int64_t(sb.source[size_t(s)]) * M + j);
    upload(sub(a.feat_cat, int64_t(B) * M, int64_t(ns) * M), cat.data(), int64_t(ns) * M);
  }
  upload(sub(a.labels, B, ns), sb.labels.data(), ns);
  return ns;
}

template <class S>
void Transformer<S>::upload_features(Activations& a, const ModelInputs& in, int B) {
  const FeatureHeadConfig& fh = cfg_.features;
  const int64_t D = fh.dense_dim, M = fh.categorical_dim();
  if (D > 0) {
    require(in.dense_features != nullptr, "model forward: the feature head needs " + std::to_string(D) +
                                              " dense features per sample (the dataset's feature schema)");
    auto h = Kokkos::create_mirror_view(sub(a.feat_dense, 0, int64_t(B) * D));
    for (int64_t i = 0; i < int64_t(B) * D; ++i) {
      const float v = in.dense_features[i];
      require(std::isfinite(v), "model forward: dense feature " + std::to_string(i % D) + " of sample " +
                                    std::to_string(i / D) + " is not finite");
      h(i) = S(v);
    }
    Kokkos::deep_copy(sub(a.feat_dense, 0, int64_t(B) * D), h);
  }
  if (M > 0) {
    require(in.categorical_features != nullptr, "model forward: the feature head needs " + std::to_string(M) +
                                                    " categorical features per sample (the dataset's feature schema)");
    std::vector<int32_t> rows(size_t(int64_t(B) * M));
    for (int64_t b = 0; b < B; ++b) {
      int64_t offset = 0;
      for (int64_t j = 0; j < M; ++j) {
        const int32_t v = in.categorical_features[b * M + j];
        const int64_t card = fh.categorical_cardinalities[size_t(j)];
        require(v >= 0 && v < card, "model forward: categorical feature " + std::to_string(j) + " of sample " +
                                        std::to_string(b) + " is " + std::to_string(v) + ", outside [0, " +
                                        std::to_string(card) + ")");
        rows[size_t(b * M + j)] = int32_t(offset + v);
        offset += card;
      }
    }
    upload(a.feat_cat, rows.data(), int64_t(B) * M);
  }
}

template <class S>
View1<S> Transformer<S>::feature_head_forward(Activations& a, const View1<S>& z, int rows) {
  const FeatureHeadConfig& fh = cfg_.features;
  const int64_t C = cfg_.n_embd, D = fh.dense_dim, M = fh.categorical_dim(), E = fh.embedding_dim;
  const View1<S> table = M > 0 ? params_.value("feature_head.categorical_embedding.weight") : View1<S>();
  feature_input_forward<S>(a.fh_u[0], z, a.feat_dense, a.feat_cat, table, rows, C, D, M, E);
  View1<S> u = a.fh_u[0];
  int64_t in = fh.input_dim(C);
  const uint32_t head_layer = uint32_t(cfg_.n_layer + 1);
  for (size_t i = 0; i < fh.hidden.size(); ++i) {
    const int64_t H = fh.hidden[i], n = int64_t(rows) * H;
    const std::string base = "feature_head.mlp." + std::to_string(i);
    linear_fwd<S>(a.fh_pre[i], u, params_.value(base + ".weight"), params_.value(base + ".bias"), rows, in, H);
    if (fh.activation == "relu") relu_forward<S>(a.fh_act[i], a.fh_pre[i], n);
    else if (fh.activation == "gelu") gelu_forward<S>(a.fh_act[i], a.fh_pre[i], n);
    else tanh_forward<S>(a.fh_act[i], a.fh_pre[i], n);
    u = a.fh_act[i];
    if (a.drop.feature > 0) {
      const uint64_t offset = uint64_t(mp_.dp_rank) * uint64_t(a.B) * uint64_t(H);
      dropout_forward<S>(a.fh_u[i + 1], u, n, S(a.drop.feature), RngKey{a.opt.seed, a.opt.step, head_layer, uint32_t(3 + i)},
                         offset);
      u = a.fh_u[i + 1];
    }
    in = H;
  }
  return u;
}

template <class S>
S Transformer<S>::forward_stage(int slot, const ModelInputs& in, int B, int T, const ForwardOptions& opt,
                                const View1<S>& input_hidden) {
  const FamilyNames nm(cfg_);
  const Dims d = dims_of(cfg_, mp_, layer_begin_, layer_end_);
  const int64_t L = d.L, C = d.C, V = d.V, Vl = d.Vl, K = d.K;
  require(slot >= 0 && slot < int(slots_.size()), "Transformer::forward_stage: slot out of range");
  require(B > 0 && T > 0, "model forward: B and T must be positive (got B=" + std::to_string(B) +
                              ", T=" + std::to_string(T) + ")");
  require(T <= cfg_.n_positions, "model forward: sequence length T=" + std::to_string(T) +
                                     " exceeds n_positions=" + std::to_string(cfg_.n_positions));
  const int64_t N = int64_t(B) * T;
  const bool first = is_first_stage(), last = is_last_stage();
  const bool with_targets = last && in.labels != nullptr && cfg_.head != HeadKind::None;
  auto where = [T](int64_t i) { return "batch " + std::to_string(i / T) + ", position " + std::to_string(i % T); };
  if (first) {
    require(in.tokens != nullptr, "model forward: the first stage needs tokens");
    for (int64_t i = 0; i < N; ++i)
      if (!(in.tokens[i] >= 0 && in.tokens[i] < V))
        require(false, "model forward: token id " + std::to_string(in.tokens[i]) + " at " + where(i) +
                           " is outside [0, " + std::to_string(V) + ")");
    if (in.token_types)
      for (int64_t i = 0; i < N; ++i)
        if (!(in.token_types[i] >= 0 && in.token_types[i] < std::max(1, cfg_.type_vocab_size)))
          require(false, "model forward: token type " + std::to_string(in.token_types[i]) + " at " + where(i) +
                             " is outside [0, " + std::to_string(std::max(1, cfg_.type_vocab_size)) + ")");
  }
  const int64_t n_labels = int64_t(B) * labels_per_sample(cfg_.head, T);
  if (with_targets) {
    const int64_t limit = cfg_.head == HeadKind::CausalLM ? V : K;
    if (cfg_.head != HeadKind::QuestionAnswering)
      for (int64_t i = 0; i < n_labels; ++i)
        if (!(in.labels[i] == kIgnoreIndex || (in.labels[i] >= 0 && in.labels[i] < limit)))
          require(false, "model forward: label " + std::to_string(in.labels[i]) + " at sample " +
                             std::to_string(i / std::max<int64_t>(1, n_labels / B)) + " is outside [0, " +
                             std::to_string(limit) + ") and not ignore_index");
  }
  if (!first)
    require(input_hidden.extent(0) >= size_t(N * C), "model forward_stage: missing or short input activations");

  DropoutRates drop;
  if (opt.training) drop = {cfg_.embd_pdrop, cfg_.attn_pdrop, cfg_.resid_pdrop, cfg_.classifier_dropout()};
  if (opt.training && cfg_.feature_head()) drop.feature = cfg_.features.dropout;
  Activations& a = *slots_[slot];
  a.ensure(d, cfg_, first, last, B, T, drop.any());
  a.opt = opt;
  a.drop = drop;
  a.backward_ready = false;
  a.has_targets = with_targets;
  a.has_mask = in.attention_mask != nullptr;
  auto key = [&](uint32_t layer, uint32_t site) { return RngKey{opt.seed, opt.step, layer, site}; };
  const uint32_t head_layer = uint32_t(cfg_.n_layer + 1);
  // Dropout masks follow global element indices: this rank's rows start at sample dp_rank·B.
  const uint64_t row_offset = uint64_t(mp_.dp_rank) * uint64_t(N);
  const uint64_t sample_offset = uint64_t(mp_.dp_rank) * uint64_t(B);

  if (first) upload(a.tokens, in.tokens, N);
  if (a.has_mask) upload(a.mask, in.attention_mask, N);
  if (with_targets) upload(a.labels, in.labels, n_labels);

  if (first) {
    // emb = tok[tokens] (+ pos[t + offset]) (+ type[types]); vocab-parallel: each rank its rows, then sum.
    const bool rank0 = mp_.tp_rank == 0;
    View1<S> pos;
    if (cfg_.positions == PositionKind::Learned && rank0)
      pos = sub(params_.value(nm.pos + ".weight"), int64_t(cfg_.position_offset) * C, T * C);
    embedding_forward<S>(a.emb, a.tokens, params_.value(nm.tok + ".weight"), pos, B, T, int(C), d.v0, Vl);
    if (cfg_.type_vocab_size > 0) {  // ids on every tp rank (backward); the table added once (rank 0)
      if (in.token_types) upload(a.types, in.token_types, N);
      else Kokkos::deep_copy(sub(a.types, 0, N), 0);
    }
    if (cfg_.type_vocab_size > 0 && rank0) {
      embedding_forward<S>(a.branch, a.types, params_.value(nm.type + ".weight"), View1<S>(), B, T, int(C), 0,
                           cfg_.type_vocab_size);
      accumulate<S>(a.emb, a.branch, N * C);
    }
    tp_sum(mp_, a.emb, N * C);
    View1<S> e = a.emb;
    if (cfg_.embedding_norm) {
      norm_forward<S>(cfg_, a.emb_n, a.emb_mean, a.emb_rstd, a.emb, params_.value(nm.emb_norm + ".weight"),
                      params_.value(nm.emb_norm + ".bias"), N, C);
      e = a.emb_n;
    }
    if (drop.embd > 0) dropout_forward<S>(a.x0, e, N * C, S(drop.embd), key(0, 0), row_offset * C);
    else Kokkos::deep_copy(sub(a.x0, 0, N * C), sub(e, 0, N * C));
    a.x0_overridden = embedding_override_.extent(0) > 0;
    if (a.x0_overridden) {  // integrated gradients: an interpolated embedding output
      require(embedding_override_.extent(0) >= size_t(N * C), "model forward: embedding override is shorter than B·T·C");
      Kokkos::deep_copy(sub(a.x0, 0, N * C), sub(embedding_override_, 0, N * C));
      embedding_override_ = View1<S>();
    }
  } else {
    Kokkos::deep_copy(sub(a.x0, 0, N * C), sub(input_hidden, 0, N * C));
  }

  const bool gated = !head_gates_.empty();
  if (gated && a.attg.extent(0) < size_t(N * d.Ql)) a.attg = View1<S>("attg", size_t(a.capacity_rows * d.Ql));
  for (int64_t li = 0; li < L; ++li) forward_block(a, li, false);
  const View1<S> x = L > 0 ? a.block_output(cfg_, L - 1) : sub(a.x0, 0, N * C);

  if (!last) {
    a.backward_ready = true;
    return S(0);
  }
  // Final norm, then the head.
  View1<S> h = x;
  if (cfg_.final_norm) {
    const View1<S> nb = cfg_.norm == NormKind::LayerNorm ? params_.value(nm.final_norm + ".bias") : View1<S>();
    norm_forward<S>(cfg_, a.lnf, a.lnf_mean, a.lnf_rstd, x, params_.value(nm.final_norm + ".weight"), nb, N, C);
    h = a.lnf;
  }
  a.class_w = View1<S>();
  if (!class_weights_.empty()) {
    a.class_w = View1<S>("class_weights", class_weights_.size());
    auto hw = Kokkos::create_mirror_view(a.class_w);
    for (size_t i = 0; i < class_weights_.size(); ++i) hw(i) = S(class_weights_[i]);
    Kokkos::deep_copy(a.class_w, hw);
  }
  const View1<S> class_w = a.class_w;
  // pooler / classification dense: p_out = tanh(W·p + b)
  auto dense_tanh = [&](const std::string& base, const View1<S>& p, int rows) {
    linear_fwd<S>(a.dense, p, params_.value(base + ".weight"), params_.value(base + ".bias"), rows, C, C);
    tanh_forward<S>(a.dense_t, a.dense, int64_t(rows) * C);
  };
  auto gather_pooled = [&] {
    const std::vector<int32_t> rows = pooled_rows(cfg_, in, B, T);
    upload(a.pooled_rows, rows.data(), B);
    gather_rows_forward<S>(a.pooled, h, a.pooled_rows, B, int(C));
  };
  S loss = 0;
  a.num_valid = 0;
  switch (cfg_.head) {
    case HeadKind::None:
      if (cfg_.pooler) {
        gather_pooled();
        dense_tanh("pooler.dense", a.pooled, B);
      }
      break;
    case HeadKind::CausalLM: {
      // logits = h·Eᵀ (tied embedding or lm_head; vocab-parallel: this rank's columns).
      const View1<S> wte = params_.value(cfg_.tie_word_embeddings ? nm.tok + ".weight" : nm.lm_head + ".weight");
      gemm_model<S>(Trans::No, Trans::Yes, N, Vl, C, S(1), h.data(), C, wte.data(), C, S(0), a.logits.data(), Vl);
      if (!with_targets) break;
      if (mp_.tp_size == 1) {
        cross_entropy_forward<S>(a.losses, a.lse, a.logits, a.labels, N, V, kIgnoreIndex);
      } else {  // max, sum-exp and target logit all-reduced: the full logits are never gathered
        cross_entropy_row_max<S>(a.row_max, a.logits, N, Vl);
        Kokkos::fence();
        mp_.tp->all_reduce(a.row_max.data(), size_t(N), dtype_of<S>(), ReduceOp::Max);
        cross_entropy_row_sumexp<S>(a.row_sumexp, a.logits, a.row_max, N, Vl);
        cross_entropy_target_logit<S>(a.target_logit, a.logits, a.labels, N, Vl, d.v0, kIgnoreIndex);
        tp_sum(mp_, a.row_sumexp, N);
        tp_sum(mp_, a.target_logit, N);
        cross_entropy_finish<S>(a.losses, a.lse, a.row_max, a.row_sumexp, a.target_logit, a.labels, N, kIgnoreIndex);
      }
      a.num_valid = count_valid_targets(a.labels, N, kIgnoreIndex);
      auto losses_h = Kokkos::create_mirror_view(a.losses);
      Kokkos::deep_copy(losses_h, a.losses);
      double sum = 0;
      for (int64_t i = 0; i < N; ++i) sum += double(losses_h(i));
      loss = a.num_valid > 0 ? S(sum / double(a.num_valid)) : S(0);
      break;
    }
    case HeadKind::SequenceClassification: {
      gather_pooled();
      if (cfg_.feature_head()) upload_features(a, in, B);
      // SMOTE: synthetic rows B.. of the head input (and labels), head-only gradients.
      a.smote_rows = with_targets && opt.training && smote_ ? append_smote_rows(a, in.labels, B, opt) : 0;
      const int Bh = B + a.smote_rows;  // rows through the head
      View1<S> p = a.pooled;
      if (cfg_.family == Family::RoBERTa && drop.head > 0) {
        dropout_forward<S>(a.pooled_d, p, int64_t(Bh) * C, S(drop.head), key(head_layer, 1), sample_offset * C);
        p = a.pooled_d;
      }
      if (!nm.pool_dense.empty()) {
        dense_tanh(nm.pool_dense, p, Bh);
        p = a.dense_t;
      }
      if (cfg_.is_encoder() && drop.head > 0) {
        dropout_forward<S>(a.dense_d, p, int64_t(Bh) * C, S(drop.head), key(head_layer, 2), sample_offset * C);
        p = a.dense_d;
      }
      int64_t cls_in = C;
      if (cfg_.feature_head()) {  // [p ; features] through the feature head's hidden layers
        p = feature_head_forward(a, p, Bh);
        cls_in = cfg_.features.output_dim(C);
      }
      const View1<S> cb = cfg_.is_encoder() ? params_.value(nm.cls_out + ".bias") : View1<S>();
      linear_fwd<S>(a.head_logits, p, params_.value(nm.cls_out + ".weight"), cb, Bh, cls_in, K);
      if (!with_targets) break;
      loss = classification_loss_forward<S>(a.head_lse, a.head_logits, a.labels, class_w, Bh, int(K),
                                             S(label_smoothing_), kIgnoreIndex, &a.weight_sum);
      a.num_valid = count_valid_targets(a.labels, B, kIgnoreIndex);
      break;
    }
    case HeadKind::TokenClassification: {
      View1<S> p = h;
      if (drop.head > 0) {
        dropout_forward<S>(a.head_in, h, N * C, S(drop.head), key(head_layer, 1), row_offset * C);
        p = a.head_in;
      }
      linear_fwd<S>(a.head_logits, p, params_.value("classifier.weight"), params_.value("classifier.bias"), N, C, K);
      if (!with_targets) break;
      loss = classification_loss_forward<S>(a.head_lse, a.head_logits, a.labels, class_w, N, int(K),
                                             S(label_smoothing_), kIgnoreIndex, &a.weight_sum);
      a.num_valid = count_valid_targets(a.labels, N, kIgnoreIndex);
      break;
    }
    case HeadKind::QuestionAnswering: {
      linear_fwd<S>(a.head_logits, h, params_.value("qa_outputs.weight"), params_.value("qa_outputs.bias"), N, C, 2);
      span_logits_split<S>(a.qa_start, a.qa_end, a.head_logits, N);
      if (!with_targets) break;
      // Targets: start positions then end positions; positions outside [0, T) are ignored.
      std::vector<int32_t> tg(size_t(2 * B));
      for (int b = 0; b < B; ++b)
        for (int e = 0; e < 2; ++e) {
          const int32_t pos = in.labels[2 * b + e];
          tg[size_t(e * B + b)] = pos >= 0 && pos < T ? pos : kIgnoreIndex;
        }
      upload(a.qa_targets, tg.data(), 2 * B);
      const View1<int32_t> ts = sub(a.qa_targets, 0, B), te = sub(a.qa_targets, B, B);
      const S ls = classification_loss_forward<S>(a.head_lse, a.qa_start, ts, View1<S>(), B, T, S(0), kIgnoreIndex,
                                                  &a.weight_sum);
      const S le = classification_loss_forward<S>(a.qa_lse_end, a.qa_end, te, View1<S>(), B, T, S(0), kIgnoreIndex,
                                                  &a.weight_sum_end);
      loss = S(0.5) * (ls + le);
      a.num_valid = count_valid_targets(ts, B, kIgnoreIndex);
      break;
    }
  }
  a.backward_ready = with_targets;
  return loss;
}

#define TESSERA_INSTANTIATE_FORWARD(S)                                                                          \
  template S Transformer<S>::forward(const ModelInputs&, int, int, const ForwardOptions&);                     \
  template S Transformer<S>::forward(const int32_t*, const int32_t*, int, int, const ForwardOptions&);         \
  template S Transformer<S>::forward_stage(int, const ModelInputs&, int, int, const ForwardOptions&,           \
                                           const View1<S>&);                                                     \
  template S Transformer<S>::forward_stage(int, const int32_t*, const int32_t*, int, int, const ForwardOptions&, \
                                           const View1<S>&);                                                     \
  template void Transformer<S>::forward_block(Activations&, int64_t, bool);                                      \
  template void Transformer<S>::upload_features(Activations&, const ModelInputs&, int);                         \
  template View1<S> Transformer<S>::feature_head_forward(Activations&, const View1<S>&, int);
TESSERA_INSTANTIATE_FORWARD(float)
TESSERA_INSTANTIATE_FORWARD(double)

}  // namespace tessera
