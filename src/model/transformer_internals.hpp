// Internals shared by the transformer's translation units (construction,
// forward, backward, incremental decoding): the Hugging Face names of each
// family, the local dimensions of a rank's slice, the activation slots and the
// KV cache. Not part of the public API.
#pragma once
#include <algorithm>
#include <string>
#include <utility>
#include <vector>
#include "kernels/bias.hpp"
#include "kernels/gemm.hpp"
#include "kernels/gemm_bf16.hpp"
#include "kernels/layernorm.hpp"
#include "kernels/packed_linear.hpp"
#include "kernels/rmsnorm.hpp"
#include "src/model/lora_layer.hpp"
#include "src/model/transformer.hpp"
#include "src/parallel/communicator.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

namespace model_detail {

template <class S>
View1<S> sub(const View1<S>& v, int64_t offset, int64_t count) {
  return slice(v, size_t(offset), size_t(count));
}

template <class S>
void zero(const View1<S>& v, int64_t n) {
  Kokkos::deep_copy(sub(v, 0, n), S(0));
}

template <class S>
constexpr DType dtype_of() {
  return sizeof(S) == 4 ? DType::F32 : DType::F64;
}

inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Linear layer on N rows with row strides (GEMMs through gemm_model: bf16 operands under train.precision = bf16): out[n, 0:OC] (stride ldo) = inp[n, 0:IC] (stride ldi)·Wᵀ (+ b).
// A packed weight (quantised inference) runs the dequantize-in-the-kernel linear instead.
template <class S>
void linear_fwd(View1<S> out, int64_t ldo, const View1<S>& inp, int64_t ldi, const View1<S>& w, const View1<S>& b,
                int64_t N, int64_t IC, int64_t OC, const PackedMatrix* packed = nullptr) {
  if (packed) {
    require(packed->rows == OC && packed->cols == IC, "packed linear: weight shape differs from the layer");
    packed_linear_forward<S>(out, ldo, inp, ldi, *packed, b, N);
    return;
  }
  gemm_model<S>(Trans::No, Trans::Yes, N, OC, IC, S(1), inp.data(), ldi, w.data(), IC, S(0), out.data(), ldo);
  if (b.extent(0) > 0) bias_add_forward<S>(out, b, N, OC, ldo);
}
// dinp += dout·W;  dW += doutᵀ·inp;  db += Σ_n dout  (an empty dinp/dW/db = not needed, e.g. frozen)
template <class S>
void linear_bwd(View1<S> dinp, int64_t lddi, View1<S> dw, View1<S> db, const View1<S>& dout, int64_t lddo,
                const View1<S>& inp, int64_t ldi, const View1<S>& w, int64_t N, int64_t IC, int64_t OC) {
  if (dinp.extent(0) > 0)
    gemm_model<S>(Trans::No, Trans::No, N, IC, OC, S(1), dout.data(), lddo, w.data(), IC, S(1), dinp.data(), lddi);
  if (dw.extent(0) > 0) {
    if (dinp.extent(0) > 0) gemm_model_reuse_previous_a<S>();  // dout's bf16 copy from the GEMM above
    gemm_model<S>(Trans::Yes, Trans::No, OC, IC, N, S(1), dout.data(), lddo, inp.data(), ldi, S(1), dw.data(), IC);
  }
  if (db.extent(0) > 0) bias_backward<S>(db, dout, N, OC, lddo);
}
template <class S>
void linear_fwd(View1<S> out, const View1<S>& inp, const View1<S>& w, const View1<S>& b, int64_t N, int64_t IC,
                int64_t OC, const PackedMatrix* packed = nullptr) {
  linear_fwd<S>(out, OC, inp, IC, w, b, N, IC, OC, packed);
}
template <class S>
void linear_bwd(View1<S> dinp, View1<S> dw, View1<S> db, const View1<S>& dout, const View1<S>& inp, const View1<S>& w,
                int64_t N, int64_t IC, int64_t OC) {
  linear_bwd<S>(dinp, IC, dw, db, dout, OC, inp, IC, w, N, IC, OC);
}

// Dropout probabilities actually applied in this forward (0 = off).
struct DropoutRates {
  double embd = 0, attn = 0, resid = 0, head = 0;
  double feature = 0;  // after each hidden layer of the feature head (model.feature_dropout)
  bool any() const { return embd > 0 || attn > 0 || resid > 0 || head > 0 || feature > 0; }
};

// Sum over the tensor-parallel ranks (row-parallel partials, column-parallel input gradients).
template <class S>
void tp_sum(const ModelParallel& mp, const View1<S>& v, int64_t n) {
  if (mp.tp_size == 1) return;
  Kokkos::fence();
  mp.tp->all_reduce(v.data(), size_t(n), dtype_of<S>(), ReduceOp::Sum);
}

inline void upload(const View1<int32_t>& dst, const int32_t* src, int64_t n) {
  auto h = Kokkos::create_mirror_view(dst);
  for (int64_t i = 0; i < n; ++i) h(i) = src[i];
  Kokkos::deep_copy(slice(dst, 0, size_t(n)), slice(h, 0, size_t(n)));
}

}  // namespace model_detail
using namespace model_detail;

// Hugging Face names of one family's parameters (without the model prefix).
struct FamilyNames {
  std::string tok, pos, type, emb_norm, final_norm, lm_head;
  std::string layer_prefix;  // "h.", "encoder.layer.", "layers."
  std::string norm1, norm2, qkv, q, k, v, o, fc, gate, up, proj;
  std::string pool_dense, cls_out;  // sequence-classification head layers ("" = none)

  explicit FamilyNames(const TransformerConfig& c) {
    switch (c.family) {
      case Family::GPT2:
        tok = "wte"; pos = "wpe"; final_norm = "ln_f"; layer_prefix = "h.";
        norm1 = "ln_1"; norm2 = "ln_2"; qkv = "attn.c_attn"; o = "attn.c_proj"; fc = "mlp.c_fc"; proj = "mlp.c_proj";
        break;
      case Family::BERT:
      case Family::RoBERTa:
        tok = "embeddings.word_embeddings"; pos = "embeddings.position_embeddings";
        type = "embeddings.token_type_embeddings"; emb_norm = "embeddings.LayerNorm"; layer_prefix = "encoder.layer.";
        q = "attention.self.query"; k = "attention.self.key"; v = "attention.self.value";
        o = "attention.output.dense"; norm1 = "attention.output.LayerNorm"; fc = "intermediate.dense";
        proj = "output.dense"; norm2 = "output.LayerNorm";
        break;
      case Family::Llama:
        tok = "embed_tokens"; final_norm = "norm"; layer_prefix = "layers.";
        norm1 = "input_layernorm"; norm2 = "post_attention_layernorm"; q = "self_attn.q_proj"; k = "self_attn.k_proj";
        v = "self_attn.v_proj"; o = "self_attn.o_proj"; gate = "mlp.gate_proj"; up = "mlp.up_proj";
        proj = "mlp.down_proj";
        break;
    }
    lm_head = "lm_head";
    if (c.family == Family::BERT) { pool_dense = "pooler.dense"; cls_out = "classifier"; }
    else if (c.family == Family::RoBERTa) { pool_dense = "classifier.dense"; cls_out = "classifier.out_proj"; }
    else cls_out = "score";
  }
  std::string layer(int l, const std::string& part, const char* what) const {
    return layer_prefix + std::to_string(l) + "." + part + "." + what;
  }
};


// The weights (or gradients) of one block; absent tensors are empty Views.
template <class S>
struct BlockWeights {
  View1<S> n1w, n1b, qkv_w, qkv_b, q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b;
  View1<S> n2w, n2b, fc_w, fc_b, gate_w, up_w, proj_w, proj_b;
  // Packed (quantised) linear weights, when the model holds them packed (values only).
  const PackedMatrix *qkv_p = nullptr, *q_p = nullptr, *k_p = nullptr, *v_p = nullptr, *o_p = nullptr;
  const PackedMatrix *fc_p = nullptr, *gate_p = nullptr, *up_p = nullptr, *proj_p = nullptr;
  bool fused_qkv() const { return qkv_w.extent(0) > 0 || qkv_p != nullptr; }
};

template <class S>
BlockWeights<S> block_weights(const ParameterSet<S>& ps, const FamilyNames& nm, int l, bool grads) {
  auto get = [&](const std::string& part, const char* what) -> View1<S> {
    if (part.empty()) return View1<S>();
    const std::string name = nm.layer(l, part, what);
    if (!ps.contains(name)) return View1<S>();
    return grads ? ps.grad(name) : ps.value(name);
  };
  BlockWeights<S> w;
  w.n1w = get(nm.norm1, "weight"); w.n1b = get(nm.norm1, "bias");
  w.qkv_w = get(nm.qkv, "weight"); w.qkv_b = get(nm.qkv, "bias");
  w.q_w = get(nm.q, "weight"); w.q_b = get(nm.q, "bias");
  w.k_w = get(nm.k, "weight"); w.k_b = get(nm.k, "bias");
  w.v_w = get(nm.v, "weight"); w.v_b = get(nm.v, "bias");
  w.o_w = get(nm.o, "weight"); w.o_b = get(nm.o, "bias");
  w.n2w = get(nm.norm2, "weight"); w.n2b = get(nm.norm2, "bias");
  w.fc_w = get(nm.fc, "weight"); w.fc_b = get(nm.fc, "bias");
  w.gate_w = get(nm.gate, "weight"); w.up_w = get(nm.up, "weight");
  w.proj_w = get(nm.proj, "weight"); w.proj_b = get(nm.proj, "bias");
  if (!grads) {
    auto pk = [&](const std::string& part) -> const PackedMatrix* {
      if (part.empty()) return nullptr;
      const std::string name = nm.layer(l, part, "weight");
      return ps.contains(name) ? ps.packed(name) : nullptr;
    };
    w.qkv_p = pk(nm.qkv); w.q_p = pk(nm.q); w.k_p = pk(nm.k); w.v_p = pk(nm.v); w.o_p = pk(nm.o);
    w.fc_p = pk(nm.fc); w.gate_p = pk(nm.gate); w.up_p = pk(nm.up); w.proj_p = pk(nm.proj);
  }
  return w;
}

// [first, last) parameter indices of block l (registered contiguously).
template <class S>
std::pair<size_t, size_t> block_param_range(const ParameterSet<S>& ps, const FamilyNames& nm, int l) {
  const std::string prefix = nm.layer_prefix + std::to_string(l) + ".";
  size_t first = ps.infos().size(), last = 0;
  for (size_t i = 0; i < ps.infos().size(); ++i)
    if (ps.info(i).name.compare(0, prefix.size(), prefix) == 0) {
      first = std::min(first, i);
      last = i + 1;
    }
  return {first, last};
}

// The configured norm (LayerNorm or RMSNorm; RMSNorm ignores mean and bias).
template <class S>
void norm_forward(const TransformerConfig& c, View1<S> out, View1<S> mean, View1<S> rstd, const View1<S>& x,
                  const View1<S>& w, const View1<S>& b, int64_t N, int64_t C) {
  if (c.norm == NormKind::LayerNorm)
    layernorm_forward<S>(out, mean, rstd, x, w, b, N, int(C), S(c.layer_norm_epsilon));
  else
    rmsnorm_forward<S>(out, rstd, x, w, N, int(C), S(c.layer_norm_epsilon));
}
template <class S>
void norm_backward(const TransformerConfig& c, View1<S> dx, View1<S> dw, View1<S> db, const View1<S>& dout,
                   const View1<S>& x, const View1<S>& w, const View1<S>& mean, const View1<S>& rstd, int64_t N,
                   int64_t C) {
  if (c.norm == NormKind::LayerNorm)
    layernorm_backward<S>(dx, dw, db, dout, x, w, mean, rstd, N, int(C));
  else
    rmsnorm_backward<S>(dx, dw, dout, x, w, rstd, N, int(C));
}

// Local widths of this rank's slice.
struct Dims {
  int64_t L = 0;  // layers on this stage
  int64_t C = 0, NH = 0, NKV = 0, hd = 0;
  int64_t NHl = 0, NKVl = 0, Ql = 0, KVl = 0, W = 0;
  int64_t F = 0, Fl = 0, Fh = 0;
  int64_t V = 0, Vl = 0, v0 = 0;
  int64_t K = 0;  // head labels (classification), 2 for QA
};

inline Dims dims_of(const TransformerConfig& cfg, const ModelParallel& mp, int layer_begin, int layer_end) {
  Dims d;
  d.L = layer_end - layer_begin;
  d.C = cfg.n_embd;
  d.NH = cfg.n_head;
  d.NKV = cfg.kv_heads();
  d.hd = cfg.head_dim();
  d.NHl = d.NH / mp.tp_size;
  d.NKVl = d.NKV / mp.tp_size;
  d.Ql = d.NHl * d.hd;
  d.KVl = d.NKVl * d.hd;
  d.W = d.Ql + 2 * d.KVl;
  d.F = cfg.ffn_dim();
  d.Fl = d.F / mp.tp_size;
  d.Fh = cfg.activation == Activation::SwiGLU ? 2 * d.Fl : d.Fl;
  d.V = cfg.vocab_size;
  const auto [v0, v1] = balanced_range(cfg.vocab_size, mp.tp_size, mp.tp_rank);
  d.v0 = v0;
  d.Vl = v1 - v0;
  d.K = cfg.head == HeadKind::QuestionAnswering ? 2 : cfg.num_labels;
  return d;
}

template <class S>
struct Transformer<S>::Activations {
  int B = 0, T = 0;
  int64_t capacity_rows = 0;
  int alloc_T = 0;
  bool alloc_tiled = false;  // att holds [L,B,NHl,T] logsumexps (model.attention = tiled)
  bool alloc_dropout = false;
  RecomputeKind alloc_recompute = RecomputeKind::None;
  bool allocated = false;
  // Layout per train.recompute: full keeps one layer of block intermediates (reused by every block, recomputed
  // before each block's backward) and every block's output (the next block's input: res3 pre-norm, n2
  // post-norm); selective (materialized attention) keeps one layer of probabilities (att, attd).
  bool recompute_full = false, recompute_probs = false;

  ForwardOptions opt;
  DropoutRates drop;
  bool backward_ready = false;
  bool has_targets = false;
  bool has_mask = false;
  bool x0_overridden = false;  // integrated gradients: x0 came from set_embedding_override
  int64_t num_valid = 0;
  int smote_rows = 0;  // synthetic head-input rows after the B real ones (SMOTE)
  S weight_sum = 0, weight_sum_end = 0;  // classification / QA end loss normalisers

  View1<int32_t> tokens, types, mask, labels, pooled_rows;  // [N], [N], [N], [2N], [B]
  View1<S> emb, emb_mean, emb_rstd, emb_n;                  // [N,C] sum, stats, normed (first stage)
  View1<S> x0;                                              // [N,C] input of this stage's first block
  View1<S> n1, n1_mean, n1_rstd;                            // [Ls,N,C], [Ls,N] x2
  View1<S> qkv, atty, att, attd;                            // [Ls,N,W], [Ls,N,Ql], [Ls,B,NHl,T,T] x2
  View1<S> res2, n2, n2_mean, n2_rstd;                      // [Ls,N,C] s1, norm2 out, stats
  View1<S> fch, fact, res3;                                 // [Ls,N,Fh], [Ls,N,Fl], [Ls,N,C] s2
  View1<S> lnf, lnf_mean, lnf_rstd;                         // final norm (last stage)
  View1<S> logits, losses, lse, row_max, row_sumexp, target_logit;  // LM head (last stage)
  // Task heads (last stage).
  View1<S> pooled, pooled_d, dense, dense_t, dense_d;       // [B,C] gather, drop, dense, tanh, drop
  View1<S> head_in;                                         // [N,C] dropped hidden (token classification)
  View1<S> head_logits, head_lse, qa_start, qa_end, qa_lse_end;  // [rows,K], [rows], [B,T] x2, [B]
  View1<int32_t> qa_targets;                                // [2B] start targets then end targets
  View1<S> class_w;                                         // [K] class weights of the last forward (empty = 1)
  View1<S> branch, branch_drop;                             // [N,C] residual-branch scratch
  View1<S> attg;                                            // [N,Ql] gated attention context (head gates only)
  // Gradient buffers, reused across layers.
  View1<S> dres, dbranch, dln, dtmp, dh;                    // [N,C]
  View1<S> datty, dqkv, dfch, dfact, datt_scratch, dx0;
  View1<S> dpooled, ddense, dhead_logits, dqa_start, dqa_end;
  View1<S> lora_u, lora_xd, lora_du, lora_dxd;             // [Ls,sites,N,r], [N,in], [N,r], [N,in]
  // Feature head (TransformerConfig::features; last stage): rows = B real + SMOTE rows.
  View1<S> feat_dense;                                      // [rows, D] standardised features
  View1<int32_t> feat_cat;                                  // [rows, M] rows of the stacked embedding table
  std::vector<View1<S>> fh_u;                               // u_0 [rows, Din] … u_H (hidden i output, after dropout)
  std::vector<View1<S>> fh_pre, fh_act;                     // per hidden layer: W·u + b, act(·) [rows, H_i]
  View1<S> fh_du, fh_dv, fh_dpre;                           // gradient scratch [rows, max width]

  void ensure(const Dims& d, const TransformerConfig& c, bool first, bool last, int B_, int T_, bool need_dropout) {
    const int64_t N = int64_t(B_) * T_;
    if (!allocated || N > capacity_rows || T_ != alloc_T || (need_dropout && !alloc_dropout) ||
        (c.attention == AttentionKind::Tiled) != alloc_tiled || c.recompute != alloc_recompute)
      allocate(d, c, first, last, std::max(N, capacity_rows), T_, need_dropout || alloc_dropout);
    B = B_;
    T = T_;
  }

  void allocate(const Dims& d, const TransformerConfig& c, bool first, bool last, int64_t N, int T_, bool dropout) {
    const int64_t L = d.L, C = d.C;
    // Per layer: the probabilities [B,NHl,T,T], or with tiled attention one logsumexp per row [B,NHl,T].
    const bool tiled = c.attention == AttentionKind::Tiled;
    const int64_t att_rows = tiled ? N * d.NHl : N * d.NHl * T_;
    const int64_t Bmax = N;  // B ≤ N
    *this = Activations{};
    allocated = true;
    capacity_rows = N;
    alloc_T = T_;
    alloc_dropout = dropout;
    alloc_tiled = tiled;
    alloc_recompute = c.recompute;
    recompute_full = c.recompute == RecomputeKind::Full;
    recompute_probs = recompute_full || (c.recompute == RecomputeKind::Selective && !tiled);
    const int64_t Lm = recompute_full ? 1 : L;   // layers of block intermediates held
    const int64_t La = recompute_probs ? 1 : L;  // layers of attention probabilities held
    const int64_t Lres3 = recompute_full && !c.pre_norm ? 1 : L, Ln2 = recompute_full && c.pre_norm ? 1 : L;
    auto f = [](const char* name, int64_t n) { return View1<S>(std::string(name), size_t(n)); };
    tokens = View1<int32_t>("tokens", N);
    types = View1<int32_t>("types", N);
    mask = View1<int32_t>("mask", N);
    labels = View1<int32_t>("labels", 2 * N);
    pooled_rows = View1<int32_t>("pooled_rows", Bmax);
    if (first) {
      emb = f("emb", N * C);
      if (c.embedding_norm) {
        emb_mean = f("emb_mean", N);
        emb_rstd = f("emb_rstd", N);
        emb_n = f("emb_n", N * C);
      }
    }
    x0 = f("x0", N * C);
    n1 = f("n1", Lm * N * C);
    n1_mean = f("n1_mean", Lm * N);
    n1_rstd = f("n1_rstd", Lm * N);
    qkv = f("qkv", Lm * N * d.W);
    atty = f("atty", Lm * N * d.Ql);
    att = f("att", La * att_rows);
    if (dropout && !tiled) attd = f("attd", La * att_rows);
    res2 = f("res2", Lm * N * C);
    n2 = f("n2", Ln2 * N * C);
    n2_mean = f("n2_mean", Lm * N);
    n2_rstd = f("n2_rstd", Lm * N);
    fch = f("fch", Lm * N * d.Fh);
    fact = f("fact", Lm * N * d.Fl);
    res3 = f("res3", Lres3 * N * C);
    if (last) {
      if (c.final_norm) {
        lnf = f("lnf", N * C);
        lnf_mean = f("lnf_mean", N);
        lnf_rstd = f("lnf_rstd", N);
      }
      if (c.head == HeadKind::CausalLM) {
        logits = f("logits", N * d.Vl);
        losses = f("losses", N);
        lse = f("lse", N);
        row_max = f("row_max", N);
        row_sumexp = f("row_sumexp", N);
        target_logit = f("target_logit", N);
      }
      pooled = f("pooled", Bmax * C);
      pooled_d = f("pooled_d", Bmax * C);
      dense = f("dense", Bmax * C);
      dense_t = f("dense_t", Bmax * C);
      dense_d = f("dense_d", Bmax * C);
      dpooled = f("dpooled", Bmax * C);
      ddense = f("ddense", Bmax * C);
      if (c.head == HeadKind::TokenClassification) head_in = f("head_in", N * C);
      if (d.K > 0) {
        head_logits = f("head_logits", N * d.K);
        dhead_logits = f("dhead_logits", N * d.K);
        head_lse = f("head_lse", N);
      }
      if (c.head == HeadKind::QuestionAnswering) {
        qa_start = f("qa_start", N);
        qa_end = f("qa_end", N);
        qa_lse_end = f("qa_lse_end", Bmax);
        dqa_start = f("dqa_start", N);
        dqa_end = f("dqa_end", N);
        qa_targets = View1<int32_t>("qa_targets", 2 * Bmax);
      }
      dh = f("dh", N * C);
      if (c.feature_head()) {
        const FeatureHeadConfig& fh = c.features;
        int64_t w = fh.input_dim(C), wmax = std::max(w, C);
        feat_dense = f("feat_dense", Bmax * std::max<int64_t>(1, fh.dense_dim));
        feat_cat = View1<int32_t>("feat_cat", size_t(Bmax * std::max<int64_t>(1, fh.categorical_dim())));
        fh_u.push_back(f("fh_u0", Bmax * w));
        for (int64_t hw : fh.hidden) {
          fh_pre.push_back(f("fh_pre", Bmax * hw));
          fh_act.push_back(f("fh_act", Bmax * hw));
          fh_u.push_back(dropout && fh.dropout > 0 ? f("fh_u", Bmax * hw) : fh_act.back());
          wmax = std::max(wmax, hw);
        }
        fh_du = f("fh_du", Bmax * wmax);
        fh_dv = f("fh_dv", Bmax * wmax);
        fh_dpre = f("fh_dpre", Bmax * wmax);
      }
    }
    branch = f("branch", N * C);
    if (dropout) branch_drop = f("branch_drop", N * C);
    dres = f("dres", N * C);
    dbranch = f("dbranch", N * C);
    dln = f("dln", N * C);
    dtmp = f("dtmp", N * C);
    datty = f("datty", N * d.Ql);
    dqkv = f("dqkv", N * d.W);
    dfch = f("dfch", N * d.Fh);
    dfact = f("dfact", N * d.Fl);
    datt_scratch = f("datt_scratch", att_rows);
    if (!first) dx0 = f("dx0", N * C);
    if (c.lora.enabled()) {
      const int64_t r = c.lora.r, max_in = std::max({C, d.Ql, d.Fl});
      lora_u = f("lora_u", Lm * kLoraSites * N * r);
      lora_du = f("lora_du", N * r);
      if (c.lora.dropout > 0) {
        lora_xd = f("lora_xd", N * max_in);
        lora_dxd = f("lora_dxd", N * max_in);
      }
    }
  }

  // Index of the layer slot that holds local layer li's block intermediates / probabilities.
  int64_t mid_layer(int64_t li) const { return recompute_full ? 0 : li; }
  int64_t att_layer(int64_t li) const { return recompute_probs ? 0 : li; }

  // Local layer li's slices of the block buffers (the current B, T).
  struct Block {
    View1<S> n1, n1_mean, n1_rstd, qkv, atty, att, attd, res2, n2, n2_mean, n2_rstd, fch, fact, res3;
  };
  Block block(const TransformerConfig& c, const Dims& d, int64_t li) const {
    const int64_t N = int64_t(B) * T, C = d.C, m = mid_layer(li), p = att_layer(li);
    const int64_t AT = alloc_tiled ? 1 : T, att_n = N * d.NHl * AT;
    const int64_t out_layer_res3 = recompute_full && !c.pre_norm ? 0 : li;
    const int64_t out_layer_n2 = recompute_full && c.pre_norm ? 0 : li;
    Block k;
    k.n1 = sub(n1, m * N * C, N * C);
    k.n1_mean = sub(n1_mean, m * N, N);
    k.n1_rstd = sub(n1_rstd, m * N, N);
    k.qkv = sub(qkv, m * N * d.W, N * d.W);
    k.atty = sub(atty, m * N * d.Ql, N * d.Ql);
    k.att = sub(att, p * att_n, att_n);
    if (drop.attn > 0 && !alloc_tiled) k.attd = sub(attd, p * att_n, att_n);
    k.res2 = sub(res2, m * N * C, N * C);
    k.n2 = sub(n2, out_layer_n2 * N * C, N * C);
    k.n2_mean = sub(n2_mean, m * N, N);
    k.n2_rstd = sub(n2_rstd, m * N, N);
    k.fch = sub(fch, m * N * d.Fh, N * d.Fh);
    k.fact = sub(fact, m * N * d.Fl, N * d.Fl);
    k.res3 = sub(res3, out_layer_res3 * N * C, N * C);
    return k;
  }
  // Output of local layer li (the next block's input), kept in every recompute mode.
  View1<S> block_output(const TransformerConfig& c, int64_t li) const {
    const int64_t N = int64_t(B) * T, C = c.n_embd;
    return sub(c.pre_norm ? res3 : n2, li * N * C, N * C);
  }

  size_t bytes() const {
    size_t total = (tokens.span() + types.span() + mask.span() + labels.span() + pooled_rows.span()) * sizeof(int32_t);
    for (const View1<S>* v :
         {&emb, &emb_mean, &emb_rstd, &emb_n, &x0, &n1, &n1_mean, &n1_rstd, &qkv, &atty, &att, &attd, &res2, &n2,
          &n2_mean, &n2_rstd, &fch, &fact, &res3, &lnf, &lnf_mean, &lnf_rstd, &logits, &losses, &lse, &row_max,
          &row_sumexp, &target_logit, &pooled, &pooled_d, &dense, &dense_t, &dense_d, &head_in, &head_logits,
          &head_lse, &qa_start, &qa_end, &qa_lse_end, &branch, &branch_drop, &dres, &dbranch, &dln, &dtmp, &dh,
          &datty, &dqkv, &dfch, &dfact, &datt_scratch, &dx0, &dpooled, &ddense, &dhead_logits, &dqa_start, &dqa_end,
          &lora_u, &lora_xd, &lora_du, &lora_dxd, &attg, &feat_dense, &fh_du, &fh_dv, &fh_dpre})
      total += v->span() * sizeof(S);
    for (const auto* vs : {&fh_u, &fh_pre, &fh_act})
      for (const View1<S>& v : *vs) total += v.span() * sizeof(S);
    total += feat_cat.span() * sizeof(int32_t);
    return total;
  }
};

template <class S>
struct Transformer<S>::DecodeCache {
  int B = 0, T_max = 0;
  View1<S> k, v;  // [Ls, B, NKVl, T_max, hd]
};


}  // namespace tessera
