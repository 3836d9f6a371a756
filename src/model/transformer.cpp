// The transformer's forward/backward on the Tessera kernels (llm.c structure: one
// struct of activation Views per micro-batch slot, sized for the largest B·T seen,
// a forward that stores what the backward needs, and a backward that walks the
// same steps in reverse). The same code runs one rank or one (tp, pp) cell of a
// process grid: Megatron-style parallel layers keep their two collectives (f:
// identity forward / all-reduce backward before a column-parallel GEMM, g:
// all-reduce forward / identity backward after a row-parallel GEMM) inside
// tp_sum(), so the block code reads like the single-device model.
//
// Notation: N = B·T rows, C = n_embd, hd = head dim, local widths Ql = NHl·hd (q),
// KVl = NKVl·hd (k, v), W = Ql + 2·KVl (fused qkv row), Fl = ffn/tp, Fh = Fl or 2·Fl
// (SwiGLU gate|up), Vl = this rank's vocabulary rows [v0, v0+Vl), K = labels.
#include "src/model/transformer.hpp"

#include <cmath>
#include <string>
#include "src/model/transformer_internals.hpp"

namespace tessera {

uint32_t param_rng_site(const std::string& name) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 16777619u;
  return h;
}

int64_t labels_per_sample(HeadKind head, int T) {
  switch (head) {
    case HeadKind::CausalLM:
    case HeadKind::TokenClassification: return T;
    case HeadKind::SequenceClassification: return 1;
    case HeadKind::QuestionAnswering: return 2;
    case HeadKind::None: return 0;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Parameters and initialisation

template <class S>
Transformer<S>::Transformer(const TransformerConfig& cfg) : Transformer(cfg, ModelParallel{}) {}

int parameter_block(const TransformerConfig& cfg, const std::string& name) {
  const std::string& prefix = FamilyNames(cfg).layer_prefix;
  if (name.compare(0, prefix.size(), prefix) != 0) return -1;
  const size_t dot = name.find('.', prefix.size());
  if (dot == std::string::npos || dot == prefix.size()) return -1;
  const std::string digits = name.substr(prefix.size(), dot - prefix.size());
  if (digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoi(digits);
}

bool is_embedding_parameter(const TransformerConfig& cfg, const std::string& name) {
  const FamilyNames nm(cfg);
  for (const std::string* base : {&nm.tok, &nm.pos, &nm.type, &nm.emb_norm})
    if (!base->empty() && name.compare(0, base->size() + 1, *base + ".") == 0) return true;
  return false;
}

template <class S>
Transformer<S>::Transformer(const TransformerConfig& cfg, const ModelParallel& mp)
    : Transformer(cfg, mp, FrozenFilter(), std::set<std::string>()) {}

template <class S>
Transformer<S>::Transformer(const TransformerConfig& cfg, const ModelParallel& mp, const FrozenFilter& frozen)
    : Transformer(cfg, mp, frozen, std::set<std::string>()) {}

template <class S>
Transformer<S>::Transformer(const TransformerConfig& cfg, const ModelParallel& mp, const std::set<std::string>& packed)
    : Transformer(cfg, mp, FrozenFilter(), packed) {}

template <class S>
Transformer<S>::Transformer(const TransformerConfig& cfg, const ModelParallel& mp, const FrozenFilter& frozen,
                            const std::set<std::string>& packed)
    : cfg_(cfg), mp_(mp) {
  validate_transformer_config(cfg, "model");
  validate_lora_targets(cfg);
  require(mp.tp_size >= 1 && mp.pp_size >= 1 && mp.dp_size >= 1, "model: parallel sizes must be >= 1");
  require(cfg.n_head % mp.tp_size == 0, "model: n_head (" + std::to_string(cfg.n_head) +
                                            ") must be divisible by the tensor-parallel size (" +
                                            std::to_string(mp.tp_size) + ")");
  require(cfg.kv_heads() % mp.tp_size == 0,
          "model: n_kv_head (" + std::to_string(cfg.kv_heads()) +
              ") must be divisible by the tensor-parallel size (" + std::to_string(mp.tp_size) +
              "): key/value heads are split across tensor-parallel ranks");
  require(cfg.ffn_dim() % mp.tp_size == 0, "model: MLP width (" + std::to_string(cfg.ffn_dim()) +
                                               ") must be divisible by the tensor-parallel size (" +
                                               std::to_string(mp.tp_size) + ")");
  require(mp.pp_size <= cfg.n_layer, "model: more pipeline stages (" + std::to_string(mp.pp_size) +
                                         ") than layers (" + std::to_string(cfg.n_layer) + ")");
  require(mp.tp_size == 1 || mp.tp != nullptr, "model: tensor parallelism needs a communicator");
  const auto [lb, le] = balanced_range(cfg.n_layer, mp.pp_size, mp.pp_rank);
  layer_begin_ = int(lb);
  layer_end_ = int(le);

  const FamilyNames nm(cfg);
  const Dims d = dims_of(cfg, mp, layer_begin_, layer_end_);
  const int64_t C = d.C, tp = mp.tp_size, r = mp.tp_rank, hd = d.hd;
  const bool b = cfg.bias;
  auto shard = [&](const std::string& name, std::vector<int64_t> full, std::vector<int64_t> local,
                   std::vector<int64_t> start, int dim, int groups) {
    ParamInfo info;
    info.name = name;
    info.weight_decay = full.size() >= 2;
    info.full_shape = std::move(full);
    info.local_shape = std::move(local);
    info.local_start = std::move(start);
    info.shard_dim = tp > 1 ? dim : -1;
    info.shard_groups = groups;
    info.packed = packed.count(info.name) != 0;
    params_.add_slice(std::move(info));
  };
  auto replicated = [&](const std::string& name, std::vector<int64_t> shape) {
    shard(name, shape, shape, std::vector<int64_t>(shape.size(), 0), -1, 1);
  };
  // Column-parallel (rows of W split) and row-parallel (columns split) linear layers.
  auto column = [&](const std::string& base, int64_t out, int64_t in, bool with_bias) {
    const int64_t ol = out / tp;
    shard(base + ".weight", {out, in}, {ol, in}, {r * ol, 0}, 0, 1);
    if (with_bias) shard(base + ".bias", {out}, {ol}, {r * ol}, 0, 1);
  };
  auto row = [&](const std::string& base, int64_t out, int64_t in, bool with_bias) {
    const int64_t il = in / tp;
    shard(base + ".weight", {out, in}, {out, il}, {0, r * il}, 1, 1);
    if (with_bias) replicated(base + ".bias", {out});
  };
  // LoRA factors of one linear layer, split like it (see lora_layer.hpp).
  const LoraConfig& lo = cfg.lora;
  auto adapter = [&](int64_t li, int site, const std::string& module, int64_t out, int64_t in, bool column_parallel,
                     int groups) {
    if (!lo.enabled()) return;
    bool hit = false;
    for (const std::string& t : lo.targets) hit = hit || lora_target_matches(t, module);
    if (!hit) return;
    require(lo.r <= std::min(out, in), "lora.r = " + std::to_string(lo.r) + " is larger than layer " + module +
                                           " [" + std::to_string(out) + " × " + std::to_string(in) +
                                           "] allows (r ≤ min(out, in))");
    const int64_t R = lo.r;
    if (column_parallel) {
      ParamInfo a;
      a.name = lora_a_name(module);
      a.full_shape = a.local_shape = {R, in};
      a.local_start = {0, 0};
      a.tp_partial_grad = tp > 1;
      params_.add_slice(std::move(a));
      const int64_t ol = out / tp;
      shard(lora_b_name(module), {out, R}, {ol, R}, {r * (ol / groups), 0}, 0, groups);
    } else {
      const int64_t il = in / tp;
      shard(lora_a_name(module), {R, in}, {R, il}, {0, r * il}, 1, 1);
      ParamInfo b;
      b.name = lora_b_name(module);
      b.full_shape = b.local_shape = {out, R};
      b.local_start = {0, 0};
      b.tp_partial_grad = tp > 1;
      params_.add_slice(std::move(b));
    }
    lora_modules_[size_t(li)][size_t(site)] = module;
  };
  lora_modules_.assign(size_t(layer_end_ - layer_begin_), {});
  auto norm = [&](const std::string& base) {
    replicated(base + ".weight", {C});
    if (cfg.norm == NormKind::LayerNorm) replicated(base + ".bias", {C});
  };
  const auto [v0, v1] = balanced_range(cfg.vocab_size, int(tp), int(r));
  auto add_tok = [&] { shard(nm.tok + ".weight", {cfg.vocab_size, C}, {v1 - v0, C}, {v0, 0}, 0, 1); };
  if (is_first_stage()) {
    add_tok();
    if (cfg.positions == PositionKind::Learned)
      replicated(nm.pos + ".weight", {int64_t(cfg.position_offset) + cfg.n_positions, C});
    if (cfg.type_vocab_size > 0) replicated(nm.type + ".weight", {cfg.type_vocab_size, C});
    if (cfg.embedding_norm) norm(nm.emb_norm);
  }
  for (int l = layer_begin_; l < layer_end_; ++l) {
    const std::string h = nm.layer_prefix + std::to_string(l) + ".";
    const size_t first_index = params_.infos().size();
    if (cfg.pre_norm) norm(h + nm.norm1);
    const int64_t li = l - layer_begin_;
    const std::string& hb = h;
    if (!nm.qkv.empty()) {  // GPT-2: fused q|k|v, column-parallel by heads
      shard(h + nm.qkv + ".weight", {3 * C, C}, {3 * d.Ql, C}, {r * d.Ql, 0}, 0, 3);
      shard(h + nm.qkv + ".bias", {3 * C}, {3 * d.Ql}, {r * d.Ql}, 0, 3);
      adapter(li, kLoraQKV, hb + nm.qkv, 3 * C, C, true, 3);
    } else {
      column(h + nm.q, d.NH * hd, C, b);
      adapter(li, kLoraQ, hb + nm.q, d.NH * hd, C, true, 1);
      column(h + nm.k, d.NKV * hd, C, b);
      adapter(li, kLoraK, hb + nm.k, d.NKV * hd, C, true, 1);
      column(h + nm.v, d.NKV * hd, C, b);
      adapter(li, kLoraV, hb + nm.v, d.NKV * hd, C, true, 1);
    }
    row(h + nm.o, C, d.NH * hd, b);
    adapter(li, kLoraO, hb + nm.o, C, d.NH * hd, false, 1);
    if (!cfg.pre_norm) norm(h + nm.norm1);
    if (cfg.pre_norm) norm(h + nm.norm2);
    if (cfg.activation == Activation::SwiGLU) {
      column(h + nm.gate, d.F, C, b);
      adapter(li, kLoraGate, hb + nm.gate, d.F, C, true, 1);
      column(h + nm.up, d.F, C, b);
      adapter(li, kLoraUp, hb + nm.up, d.F, C, true, 1);
    } else {
      column(h + nm.fc, d.F, C, b);
      adapter(li, kLoraFC, hb + nm.fc, d.F, C, true, 1);
    }
    row(h + nm.proj, C, d.F, b);
    adapter(li, kLoraProj, hb + nm.proj, C, d.F, false, 1);
    if (!cfg.pre_norm) norm(h + nm.norm2);
    (void)first_index;
  }
  if (is_last_stage()) {
    if (cfg.final_norm) norm(nm.final_norm);
    if (cfg.pooler) {
      replicated("pooler.dense.weight", {C, C});
      replicated("pooler.dense.bias", {C});
    }
    switch (cfg.head) {
      case HeadKind::CausalLM:
        if (cfg.tie_word_embeddings) {
          if (!is_first_stage()) add_tok();  // the tied head's copy on the last stage
        } else {
          shard(nm.lm_head + ".weight", {cfg.vocab_size, C}, {v1 - v0, C}, {v0, 0}, 0, 1);
        }
        break;
      case HeadKind::SequenceClassification:
        if (cfg.family == Family::RoBERTa) {
          replicated("classifier.dense.weight", {C, C});
          replicated("classifier.dense.bias", {C});
        }
      {
        int64_t cls_in = C;
        if (cfg.feature_head()) {  // [pooled ; features] → hidden layers → the classifier (replicated)
          const FeatureHeadConfig& fh = cfg.features;
          if (fh.categorical_dim() > 0)
            replicated("feature_head.categorical_embedding.weight", {fh.categorical_rows(), fh.embedding_dim});
          cls_in = fh.input_dim(C);
          for (size_t i = 0; i < fh.hidden.size(); ++i) {
            const std::string base = "feature_head.mlp." + std::to_string(i);
            replicated(base + ".weight", {fh.hidden[i], cls_in});
            replicated(base + ".bias", {fh.hidden[i]});
            cls_in = fh.hidden[i];
          }
        }
        replicated(nm.cls_out + ".weight", {cfg.num_labels, cls_in});
        if (cfg.is_encoder()) replicated(nm.cls_out + ".bias", {cfg.num_labels});
        break;
      }
      case HeadKind::TokenClassification:
        replicated("classifier.weight", {cfg.num_labels, C});
        replicated("classifier.bias", {cfg.num_labels});
        break;
      case HeadKind::QuestionAnswering:
        replicated("qa_outputs.weight", {2, C});
        replicated("qa_outputs.bias", {2});
        break;
      case HeadKind::None:
        break;
    }
  }
  // With LoRA the base model is frozen: only the adapters and the task head train.
  FrozenFilter all_frozen = frozen;
  if (lo.enabled())
    all_frozen = [frozen](const std::string& name) {
      if (frozen && frozen(name)) return true;
      return !is_lora_parameter(name) && !is_task_head_parameter(name);
    };
  params_.allocate(size_t(mp.dp_size), all_frozen);
  set_num_slots(1);
}

template <class S>
Transformer<S>::~Transformer() = default;

template <class S>
std::string Transformer<S>::token_embedding_name() const {
  return FamilyNames(cfg_).tok + ".weight";
}

template <class S>
bool Transformer<S>::has_tied_copy() const {
  return cfg_.head == HeadKind::CausalLM && cfg_.tie_word_embeddings && is_last_stage() && !is_first_stage();
}

template <class S>
void Transformer<S>::set_loss_options(std::vector<double> class_weights, double label_smoothing) {
  require(class_weights.empty() || int(class_weights.size()) == cfg_.num_labels,
          "model: " + std::to_string(class_weights.size()) + " class weights for " + std::to_string(cfg_.num_labels) +
              " labels");
  require(label_smoothing >= 0 && label_smoothing < 1, "model: label_smoothing must be in [0, 1)");
  class_weights_ = std::move(class_weights);
  label_smoothing_ = label_smoothing;
}

template <class S>
void Transformer<S>::set_num_slots(int slots) {
  require(slots >= 1, "Transformer::set_num_slots: need at least one slot");
  while (int(slots_.size()) < slots) slots_.push_back(std::make_unique<Activations>());
  while (int(slots_.size()) > slots) slots_.pop_back();
}

namespace {

// v[i] = std · N(0,1)(key, e(i)), e(i) = index of local element i in the full tensor
// (for shard_groups g > 1, local rows are g blocks, one per block of the full rows).
template <class S>
void fill_normal(View1<S> v, const ParamInfo& info, RngKey key, double stddev) {
  require(info.full_shape.size() <= 2, "init_weights: parameter " + info.name + " has rank > 2");
  const bool matrix = info.full_shape.size() == 2;
  const int64_t groups = info.shard_groups;
  const int64_t local_rows = info.local_shape[0], full_rows = info.full_shape[0];
  const int64_t rows_per_group = local_rows / groups, full_rows_per_group = full_rows / groups;
  const int64_t start0 = info.local_start[0];
  const int64_t start1 = matrix ? info.local_start[1] : 0;
  const int64_t local_cols = matrix ? info.local_shape[1] : 1;
  const int64_t full_cols = matrix ? info.full_shape[1] : 1;
  Kokkos::parallel_for(
      "init_normal", RangePolicy(0, int64_t(info.numel)), KOKKOS_LAMBDA(const int64_t i) {
        const int64_t r = i / local_cols, c = i % local_cols;
        const int64_t g = r / rows_per_group, rr = r % rows_per_group;
        const int64_t full_r = g * full_rows_per_group + start0 + rr;
        const uint64_t e = uint64_t(full_r * full_cols + (c + start1));
        v(i) = S(stddev * rng_normal(key, e));
      });
}

}  // namespace

template <class S>
void Transformer<S>::init_weights(uint64_t seed) {
  const FamilyNames nm(cfg_);
  const double stddev = cfg_.initializer_range;
  const double residual_std = stddev / std::sqrt(2.0 * cfg_.n_layer);
  auto is_norm = [&](const std::string& n) {
    for (const std::string* s : {&nm.norm1, &nm.norm2, &nm.final_norm, &nm.emb_norm})
      if (!s->empty() && (ends_with(n, "." + *s + ".weight") || n == *s + ".weight")) return true;
    return false;
  };
  for (size_t p = 0; p < params_.infos().size(); ++p) {
    const ParamInfo& info = params_.info(p);
    View1<S> v = params_.value(p);
    if (ends_with(info.name, ".lora_B.weight")) {  // LoRA paper: B = 0, so training starts at the base model
      Kokkos::deep_copy(v, S(0));
    } else if (ends_with(info.name, ".lora_A.weight")) {  // PEFT's Kaiming-uniform variance 1/(3·in), Gaussian
      fill_normal<S>(v, info, RngKey{seed, 0, 0, param_rng_site(info.name)},
                     1.0 / std::sqrt(3.0 * double(info.full_shape[1])));
    } else if (ends_with(info.name, ".bias")) {
      Kokkos::deep_copy(v, S(0));
    } else if (info.name.rfind("feature_head.", 0) == 0) {
      // Feature head: embeddings N(0, 1) like the standardised dense features; hidden layers
      // N(0, 1/in) (LeCun), so the features' signal is not scaled down by initializer_range.
      const bool table = ends_with(info.name, "categorical_embedding.weight");
      fill_normal<S>(v, info, RngKey{seed, 0, 0, param_rng_site(info.name)},
                     table ? 1.0 : 1.0 / std::sqrt(double(info.full_shape[1])));
    } else if (is_norm(info.name)) {
      Kokkos::deep_copy(v, S(1));
    } else {
      const bool residual_proj = cfg_.family == Family::GPT2 && (ends_with(info.name, "." + nm.o + ".weight") ||
                                                                 ends_with(info.name, "." + nm.proj + ".weight"));
      fill_normal<S>(v, info, RngKey{seed, 0, 0, param_rng_site(info.name)}, residual_proj ? residual_std : stddev);
    }
  }
  Kokkos::fence();
}

// ---------------------------------------------------------------------------------------------
// Outputs of the last forward

template <class S>
View1<S> Transformer<S>::stage_output(int slot) const {
  const Activations& a = *slots_.at(slot);
  const int64_t N = int64_t(a.B) * a.T, C = cfg_.n_embd, L = layer_end_ - layer_begin_;
  return sub(cfg_.pre_norm ? a.res3 : a.n2, (L - 1) * N * C, N * C);
}

template <class S>
View1<S> Transformer<S>::embedding_output() const {
  const Activations& a = *slots_.at(0);
  return sub(a.x0, 0, int64_t(a.B) * a.T * cfg_.n_embd);
}

template <class S>
View1<S> Transformer<S>::stage_input_grad(int slot) const {
  const Activations& a = *slots_.at(slot);
  const int64_t N = int64_t(a.B) * a.T;
  return sub(a.dx0, 0, N * cfg_.n_embd);
}

template <class S>
View1<S> Transformer<S>::logits() const {
  const Activations& a = *slots_[0];
  const int64_t N = int64_t(a.B) * a.T;
  if (N == 0 || !is_last_stage()) return View1<S>();
  switch (cfg_.head) {
    case HeadKind::CausalLM: {
      const auto [v0, v1] = balanced_range(cfg_.vocab_size, mp_.tp_size, mp_.tp_rank);
      return sub(a.logits, 0, N * (v1 - v0));
    }
    case HeadKind::SequenceClassification: return sub(a.head_logits, 0, int64_t(a.B) * cfg_.num_labels);
    case HeadKind::TokenClassification: return sub(a.head_logits, 0, N * cfg_.num_labels);
    case HeadKind::QuestionAnswering: return sub(a.head_logits, 0, N * 2);
    case HeadKind::None: break;
  }
  return View1<S>();
}

template <class S>
View1<S> Transformer<S>::hidden_states() const {
  const Activations& a = *slots_[0];
  const int64_t N = int64_t(a.B) * a.T;
  if (N == 0 || !is_last_stage()) return View1<S>();
  if (cfg_.final_norm) return sub(a.lnf, 0, N * cfg_.n_embd);
  return stage_output(0);
}

template <class S>
View1<S> Transformer<S>::feature_head_output() const {
  const Activations& a = *slots_[0];
  if (!cfg_.feature_head() || !is_last_stage() || a.B == 0) return View1<S>();
  const FeatureHeadConfig& fh = cfg_.features;
  const size_t nh = fh.hidden.size();
  const View1<S> u = nh == 0 ? a.fh_u[0] : a.drop.feature > 0 ? a.fh_u[nh] : a.fh_act[nh - 1];
  return sub(u, 0, int64_t(a.B) * fh.output_dim(cfg_.n_embd));
}

template <class S>
View1<S> Transformer<S>::pooler_output() const {
  const Activations& a = *slots_[0];
  if (!cfg_.pooler || !is_last_stage() || a.B == 0) return View1<S>();
  return sub(a.dense_t, 0, int64_t(a.B) * cfg_.n_embd);
}

template <class S>
int64_t Transformer<S>::num_valid_targets() const {
  return slots_[0]->num_valid;
}

template <class S>
size_t Transformer<S>::activation_bytes() const {
  size_t total = 0;
  for (const auto& s : slots_) total += s->bytes();
  if (cache_) total += (cache_->k.span() + cache_->v.span()) * sizeof(S);
  return total;
}

template <class S>
void Transformer<S>::set_head_gates(const std::vector<double>& gates) {
  const int64_t NH = cfg_.n_head;
  if (gates.empty()) {
    head_gates_.clear();
    gate_dev_ = View1<S>();
    return;
  }
  require(int64_t(gates.size()) == int64_t(cfg_.n_layer) * NH,
          "head gates: " + std::to_string(gates.size()) + " values, the model has " + std::to_string(cfg_.n_layer) +
              " layers × " + std::to_string(NH) + " heads");
  const Dims d = dims_of(cfg_, mp_, layer_begin_, layer_end_);
  head_gates_ = gates;
  gate_dev_ = View1<S>("head_gates", size_t(std::max<int64_t>(1, d.L * d.NHl)));
  auto h = Kokkos::create_mirror_view(gate_dev_);
  for (int64_t li = 0; li < d.L; ++li)
    for (int64_t j = 0; j < d.NHl; ++j)
      h(li * d.NHl + j) = S(gates[size_t((layer_begin_ + li) * NH + mp_.tp_rank * d.NHl + j)]);
  Kokkos::deep_copy(gate_dev_, h);
}

template <class S>
void Transformer<S>::set_head_gate_grad(bool on) {
  gate_grad_on_ = on;
  const Dims d = dims_of(cfg_, mp_, layer_begin_, layer_end_);
  if (on && gate_grad_dev_.extent(0) == 0) gate_grad_dev_ = View1<S>("head_gate_grad", size_t(std::max<int64_t>(1, d.L * d.NHl)));
}

template <class S>
void Transformer<S>::zero_head_gate_grad() {
  if (gate_grad_dev_.extent(0) > 0) Kokkos::deep_copy(gate_grad_dev_, S(0));
}

template <class S>
std::vector<double> Transformer<S>::head_gate_grad() const {
  const int64_t NH = cfg_.n_head;
  std::vector<double> out(size_t(cfg_.n_layer * NH), 0.0);
  if (gate_grad_dev_.extent(0) == 0) return out;
  const Dims d = dims_of(cfg_, mp_, layer_begin_, layer_end_);
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), gate_grad_dev_);
  for (int64_t li = 0; li < d.L; ++li)
    for (int64_t j = 0; j < d.NHl; ++j)
      out[size_t((layer_begin_ + li) * NH + mp_.tp_rank * d.NHl + j)] = double(h(li * d.NHl + j));
  return out;
}

template class Transformer<float>;
template class Transformer<double>;

}  // namespace tessera
