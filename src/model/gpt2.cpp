// GPT-2 forward/backward on the Tessera kernels (llm.c structure: one struct of
// activation Views per micro-batch slot, sized for the largest B·T seen, a forward
// that stores what the backward needs, and a backward that walks the same steps in
// reverse). The same code runs one rank or one (tp, pp) cell of a process grid:
// Megatron-style parallel layers keep their two collectives (f: identity forward /
// all-reduce backward before a column-parallel GEMM, g: all-reduce forward /
// identity backward after a row-parallel GEMM) inside tp_sum(), so the block code
// reads like the single-device model.
//
// Notation: N = B·T rows, C = n_embd, local widths Cl = C/tp (attention), Fl = 4C/tp
// (MLP), Vl = this rank's vocabulary rows [v0, v0+Vl). Per-layer activations live
// in one View of Ls·(N·per_row) elements (Ls = layers of this stage).
#include "src/model/gpt2.hpp"

#include <cmath>
#include <string>
#include "kernels/attention.hpp"
#include "kernels/bias.hpp"
#include "kernels/cross_entropy.hpp"
#include "kernels/cross_entropy_vocab_parallel.hpp"
#include "kernels/dropout.hpp"
#include "kernels/embedding.hpp"
#include "kernels/gelu.hpp"
#include "kernels/gemm.hpp"
#include "kernels/layernorm.hpp"
#include "kernels/residual.hpp"
#include "src/parallel/communicator.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

namespace {

template <class S>
View1<S> sub(const View1<S>& v, int64_t offset, int64_t count) {
  return slice(v, size_t(offset), size_t(count));
}

template <class S>
void zero(const View1<S>& v, int64_t n) {
  Kokkos::deep_copy(sub(v, 0, n), S(0));
}

// The weights (or their gradients) of one transformer block (local slices).
template <class S>
struct BlockTensors {
  View1<S> ln1_w, ln1_b, attn_w, attn_b, attn_proj_w, attn_proj_b;
  View1<S> ln2_w, ln2_b, fc_w, fc_b, mlp_proj_w, mlp_proj_b;
};

template <class S>
BlockTensors<S> block_tensors(const ParameterSet<S>& ps, int l, bool grads) {
  const std::string h = "h." + std::to_string(l) + ".";
  auto get = [&](const char* name) { return grads ? ps.grad(h + name) : ps.value(h + name); };
  return {get("ln_1.weight"),      get("ln_1.bias"),        get("attn.c_attn.weight"), get("attn.c_attn.bias"),
          get("attn.c_proj.weight"), get("attn.c_proj.bias"), get("ln_2.weight"),        get("ln_2.bias"),
          get("mlp.c_fc.weight"),  get("mlp.c_fc.bias"),     get("mlp.c_proj.weight"),  get("mlp.c_proj.bias")};
}

// Linear layer on N rows, weight W [OC, IC] (nn.Linear layout).
// forward : out = inp·Wᵀ (+ b when b is not empty)
template <class S>
void linear_forward(View1<S> out, const View1<S>& inp, const View1<S>& w, const View1<S>& b, int64_t N, int64_t IC,
                    int64_t OC) {
  gemm<S>(Trans::No, Trans::Yes, N, OC, IC, S(1), inp.data(), IC, w.data(), IC, S(0), out.data(), OC);
  if (b.extent(0) > 0) bias_add_forward<S>(out, b, N, OC);
}
// backward: dinp += dout·W;  dW += doutᵀ·inp;  (db += Σ_n dout when db is not empty)
template <class S>
void linear_backward(View1<S> dinp, View1<S> dw, View1<S> db, const View1<S>& dout, const View1<S>& inp,
                     const View1<S>& w, int64_t N, int64_t IC, int64_t OC) {
  gemm<S>(Trans::No, Trans::No, N, IC, OC, S(1), dout.data(), OC, w.data(), IC, S(1), dinp.data(), IC);
  gemm<S>(Trans::Yes, Trans::No, OC, IC, N, S(1), dout.data(), OC, inp.data(), IC, S(1), dw.data(), IC);
  if (db.extent(0) > 0) bias_backward<S>(db, dout, N, OC);
}

// Dropout probabilities actually applied in this forward (0 = off).
struct DropoutRates {
  double embd = 0, attn = 0, resid = 0;
  bool any() const { return embd > 0 || attn > 0 || resid > 0; }
};

template <class S>
constexpr DType dtype_of() {
  return sizeof(S) == 4 ? DType::F32 : DType::F64;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

uint32_t param_rng_site(const std::string& name) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 16777619u;
  return h;
}

// Local widths of this rank's slice.
struct GPT2Dims {
  int64_t L = 0;    // layers on this stage
  int64_t C = 0, NH = 0;
  int64_t Cl = 0, NHl = 0, Fl = 0;
  int64_t V = 0, Vl = 0, v0 = 0;
};

template <class S>
struct GPT2<S>::Activations {
  int B = 0, T = 0;            // shape of the last forward
  int64_t capacity_rows = 0;   // rows (B·T) the buffers are sized for
  int alloc_T = 0;             // T the attention buffers are sized for
  bool alloc_dropout = false;  // dropout buffers present
  bool allocated = false;

  ForwardOptions opt;  // of the last forward (dropout keys for backward)
  DropoutRates drop;
  bool backward_ready = false;
  bool has_targets = false;
  int64_t num_valid = 0;

  View1<int32_t> tokens, targets;          // [N]
  View1<S> embedded;                       // [N,C] embedding before dropout (first stage, dropout only)
  View1<S> x0;                             // [N,C] input of this stage's first block
  View1<S> ln1, ln1_mean, ln1_rstd;        // [Ls,N,C], [Ls,N], [Ls,N]
  View1<S> qkv;                            // [Ls,N,3Cl]
  View1<S> atty;                           // [Ls,N,Cl] attention output before c_proj
  View1<S> att, attd;                      // [Ls,B,NHl,T,T] P and dropped P (dropout only)
  View1<S> res2;                           // [Ls,N,C] stream after the attention residual
  View1<S> ln2, ln2_mean, ln2_rstd;        // [Ls,N,C], [Ls,N], [Ls,N]
  View1<S> fch, fch_gelu;                  // [Ls,N,Fl] c_fc output, after GELU
  View1<S> res3;                           // [Ls,N,C] block output
  View1<S> lnf, lnf_mean, lnf_rstd;        // [N,C], [N], [N]                (last stage)
  View1<S> logits;                         // [N,Vl] (dlogits after backward)  (last stage)
  View1<S> losses, lse, row_max, row_sumexp, target_logit;  // [N]      (last stage)
  View1<S> branch, branch_drop;            // [N,C] residual-branch scratch (branch_drop: dropout only)
  // Gradient buffers, reused across layers.
  View1<S> dres;                           // [N,C] gradient of the residual stream
  View1<S> dbranch;                        // [N,C] gradient of a residual branch before dropout
  View1<S> dln;                            // [N,C] gradient of a LayerNorm output
  View1<S> datty;                          // [N,Cl]
  View1<S> dqkv;                           // [N,3Cl]
  View1<S> dfch, dfch_gelu;                // [N,Fl]
  View1<S> datt_scratch;                   // [B,NHl,T,T]
  View1<S> dx0;                            // [N,C] gradient of the stage input (not first stage)

  void ensure(const GPT2Dims& d, bool first, bool last, int B_, int T_, bool need_dropout) {
    const int64_t N = int64_t(B_) * T_;
    if (!allocated || N > capacity_rows || T_ != alloc_T || (need_dropout && !alloc_dropout))
      allocate(d, first, last, std::max(N, capacity_rows), T_, need_dropout || alloc_dropout);
    B = B_;
    T = T_;
  }

  void allocate(const GPT2Dims& d, bool first, bool last, int64_t N, int T_, bool dropout) {
    const int64_t L = d.L, C = d.C, Cl = d.Cl, Fl = d.Fl;
    const int64_t att_rows = N * d.NHl * T_;  // B·NHl·T·T
    *this = Activations{};                    // release the old buffers first
    allocated = true;
    capacity_rows = N;
    alloc_T = T_;
    alloc_dropout = dropout;
    tokens = View1<int32_t>("tokens", N);
    targets = View1<int32_t>("targets", N);
    if (dropout && first) embedded = View1<S>("embedded", N * C);
    x0 = View1<S>("x0", N * C);
    ln1 = View1<S>("ln1", L * N * C);
    ln1_mean = View1<S>("ln1_mean", L * N);
    ln1_rstd = View1<S>("ln1_rstd", L * N);
    qkv = View1<S>("qkv", L * N * 3 * Cl);
    atty = View1<S>("atty", L * N * Cl);
    att = View1<S>("att", L * att_rows);
    if (dropout) attd = View1<S>("attd", L * att_rows);
    res2 = View1<S>("res2", L * N * C);
    ln2 = View1<S>("ln2", L * N * C);
    ln2_mean = View1<S>("ln2_mean", L * N);
    ln2_rstd = View1<S>("ln2_rstd", L * N);
    fch = View1<S>("fch", L * N * Fl);
    fch_gelu = View1<S>("fch_gelu", L * N * Fl);
    res3 = View1<S>("res3", L * N * C);
    if (last) {
      lnf = View1<S>("lnf", N * C);
      lnf_mean = View1<S>("lnf_mean", N);
      lnf_rstd = View1<S>("lnf_rstd", N);
      logits = View1<S>("logits", N * d.Vl);
      losses = View1<S>("losses", N);
      lse = View1<S>("lse", N);
      row_max = View1<S>("row_max", N);
      row_sumexp = View1<S>("row_sumexp", N);
      target_logit = View1<S>("target_logit", N);
    }
    branch = View1<S>("branch", N * C);
    if (dropout) branch_drop = View1<S>("branch_drop", N * C);
    dres = View1<S>("dres", N * C);
    dbranch = View1<S>("dbranch", N * C);
    dln = View1<S>("dln", N * C);
    datty = View1<S>("datty", N * Cl);
    dqkv = View1<S>("dqkv", N * 3 * Cl);
    dfch = View1<S>("dfch", N * Fl);
    dfch_gelu = View1<S>("dfch_gelu", N * Fl);
    datt_scratch = View1<S>("datt_scratch", att_rows);
    if (!first) dx0 = View1<S>("dx0", N * C);
  }

  size_t bytes() const {
    size_t total = (tokens.span() + targets.span()) * sizeof(int32_t);
    for (const View1<S>* v : {&embedded, &x0, &ln1, &ln1_mean, &ln1_rstd, &qkv, &atty, &att, &attd, &res2, &ln2,
                              &ln2_mean, &ln2_rstd, &fch, &fch_gelu, &res3, &lnf, &lnf_mean, &lnf_rstd, &logits,
                              &losses, &lse, &row_max, &row_sumexp, &target_logit, &branch, &branch_drop, &dres,
                              &dbranch, &dln, &datty, &dqkv, &dfch, &dfch_gelu, &datt_scratch, &dx0})
      total += v->span() * sizeof(S);
    return total;
  }
};

// ---------------------------------------------------------------------------------------------
// Parameters and initialisation

template <class S>
GPT2<S>::GPT2(const GPT2Config& cfg) : GPT2(cfg, ModelParallel{}) {}

template <class S>
GPT2<S>::GPT2(const GPT2Config& cfg, const ModelParallel& mp) : cfg_(cfg), mp_(mp) {
  require(cfg.n_layer > 0 && cfg.n_head > 0 && cfg.n_embd > 0 && cfg.vocab_size > 0 && cfg.n_positions > 0,
          "GPT2Config: n_layer, n_head, n_embd, vocab_size and n_positions must be positive");
  require(cfg.n_embd % cfg.n_head == 0, "GPT2Config: n_embd (" + std::to_string(cfg.n_embd) +
                                            ") must be divisible by n_head (" + std::to_string(cfg.n_head) + ")");
  require(mp.tp_size >= 1 && mp.pp_size >= 1 && mp.dp_size >= 1, "GPT2: parallel sizes must be >= 1");
  require(cfg.n_head % mp.tp_size == 0, "GPT2: n_head (" + std::to_string(cfg.n_head) +
                                            ") must be divisible by the tensor-parallel size (" +
                                            std::to_string(mp.tp_size) + ")");
  require(mp.pp_size <= cfg.n_layer, "GPT2: more pipeline stages (" + std::to_string(mp.pp_size) + ") than layers (" +
                                         std::to_string(cfg.n_layer) + ")");
  require(mp.tp_size == 1 || mp.tp != nullptr, "GPT2: tensor parallelism needs a communicator");
  const auto [lb, le] = balanced_range(cfg.n_layer, mp.pp_size, mp.pp_rank);
  layer_begin_ = int(lb);
  layer_end_ = int(le);

  const int64_t C = cfg.n_embd, tp = mp.tp_size, r = mp.tp_rank;
  const int64_t Cl = C / tp, Fl = 4 * C / tp;
  const auto [v0, v1] = balanced_range(cfg.vocab_size, int(tp), int(r));
  auto shard = [&](const std::string& name, std::vector<int64_t> full, std::vector<int64_t> local,
                   std::vector<int64_t> start, int dim, int groups, bool decay) {
    ParamInfo info;
    info.name = name;
    info.full_shape = std::move(full);
    info.local_shape = std::move(local);
    info.local_start = std::move(start);
    info.shard_dim = tp > 1 ? dim : -1;
    info.shard_groups = groups;
    info.weight_decay = decay;
    params_.add_slice(std::move(info));
  };
  auto add_wte = [&] { shard("wte.weight", {cfg.vocab_size, C}, {v1 - v0, C}, {v0, 0}, 0, 1, true); };
  if (is_first_stage()) {
    add_wte();
    params_.add("wpe.weight", {cfg.n_positions, C}, true);
  }
  for (int l = layer_begin_; l < layer_end_; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    params_.add(h + "ln_1.weight", {C}, false);
    params_.add(h + "ln_1.bias", {C}, false);
    shard(h + "attn.c_attn.weight", {3 * C, C}, {3 * Cl, C}, {r * Cl, 0}, 0, 3, true);   // column-parallel, by heads
    shard(h + "attn.c_attn.bias", {3 * C}, {3 * Cl}, {r * Cl}, 0, 3, false);
    shard(h + "attn.c_proj.weight", {C, C}, {C, Cl}, {0, r * Cl}, 1, 1, true);           // row-parallel
    params_.add(h + "attn.c_proj.bias", {C}, false);
    params_.add(h + "ln_2.weight", {C}, false);
    params_.add(h + "ln_2.bias", {C}, false);
    shard(h + "mlp.c_fc.weight", {4 * C, C}, {Fl, C}, {r * Fl, 0}, 0, 1, true);          // column-parallel
    shard(h + "mlp.c_fc.bias", {4 * C}, {Fl}, {r * Fl}, 0, 1, false);
    shard(h + "mlp.c_proj.weight", {C, 4 * C}, {C, Fl}, {0, r * Fl}, 1, 1, true);        // row-parallel
    params_.add(h + "mlp.c_proj.bias", {C}, false);
  }
  if (is_last_stage()) {
    params_.add("ln_f.weight", {C}, false);
    params_.add("ln_f.bias", {C}, false);
    if (!is_first_stage()) add_wte();  // the tied head's copy on the last stage
  }
  params_.allocate(size_t(mp.dp_size));
  set_num_slots(1);
}

template <class S>
GPT2<S>::~GPT2() = default;

template <class S>
void GPT2<S>::set_num_slots(int slots) {
  require(slots >= 1, "GPT2::set_num_slots: need at least one slot");
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
      "gpt2_init_normal", RangePolicy(0, int64_t(info.numel)), KOKKOS_LAMBDA(const int64_t i) {
        const int64_t r = i / local_cols, c = i % local_cols;
        const int64_t g = r / rows_per_group, rr = r % rows_per_group;
        const int64_t full_r = g * full_rows_per_group + start0 + rr;
        const uint64_t e = uint64_t(full_r * full_cols + (c + start1));
        v(i) = S(stddev * rng_normal(key, e));
      });
}

}  // namespace

template <class S>
void GPT2<S>::init_weights(uint64_t seed) {
  const double stddev = cfg_.initializer_range;
  const double residual_std = stddev / std::sqrt(2.0 * cfg_.n_layer);
  for (size_t p = 0; p < params_.infos().size(); ++p) {
    const ParamInfo& info = params_.info(p);
    View1<S> v = params_.value(p);
    if (ends_with(info.name, ".bias")) {
      Kokkos::deep_copy(v, S(0));
    } else if (ends_with(info.name, "ln_1.weight") || ends_with(info.name, "ln_2.weight") ||
               info.name == "ln_f.weight") {
      Kokkos::deep_copy(v, S(1));
    } else {
      const bool residual_proj = ends_with(info.name, "attn.c_proj.weight") || ends_with(info.name, "mlp.c_proj.weight");
      fill_normal<S>(v, info, RngKey{seed, 0, 0, param_rng_site(info.name)}, residual_proj ? residual_std : stddev);
    }
  }
  Kokkos::fence();
}

// ---------------------------------------------------------------------------------------------
// Forward

namespace {

// Sum of the partial results of a row-parallel GEMM (or of a column-parallel
// layer's input gradient) over the tensor-parallel ranks.
template <class S>
void tp_sum(const ModelParallel& mp, const View1<S>& v, int64_t n) {
  if (mp.tp_size == 1) return;
  Kokkos::fence();
  mp.tp->all_reduce(v.data(), size_t(n), dtype_of<S>(), ReduceOp::Sum);
}

GPT2Dims dims_of(const GPT2Config& cfg, const ModelParallel& mp, int layer_begin, int layer_end) {
  GPT2Dims d;
  d.L = layer_end - layer_begin;
  d.C = cfg.n_embd;
  d.NH = cfg.n_head;
  d.Cl = d.C / mp.tp_size;
  d.NHl = d.NH / mp.tp_size;
  d.Fl = 4 * d.C / mp.tp_size;
  d.V = cfg.vocab_size;
  const auto [v0, v1] = balanced_range(cfg.vocab_size, mp.tp_size, mp.tp_rank);
  d.v0 = v0;
  d.Vl = v1 - v0;
  return d;
}

}  // namespace

template <class S>
S GPT2<S>::forward(const int32_t* tokens, const int32_t* targets, int B, int T, const ForwardOptions& opt) {
  require(mp_.pp_size == 1, "GPT2::forward: a pipeline stage runs forward_stage()");
  return forward_stage(0, tokens, targets, B, T, opt, View1<S>());
}

template <class S>
S GPT2<S>::forward_stage(int slot, const int32_t* tokens, const int32_t* targets, int B, int T,
                         const ForwardOptions& opt, const View1<S>& input_hidden) {
  const GPT2Dims d = dims_of(cfg_, mp_, layer_begin_, layer_end_);
  const int64_t L = d.L, C = d.C, V = d.V, Cl = d.Cl, Fl = d.Fl, NHl = d.NHl, Vl = d.Vl;
  require(slot >= 0 && slot < int(slots_.size()), "GPT2::forward_stage: slot out of range");
  require(B > 0 && T > 0, "GPT2::forward: B and T must be positive (got B=" + std::to_string(B) +
                              ", T=" + std::to_string(T) + ")");
  require(T <= cfg_.n_positions, "GPT2::forward: sequence length T=" + std::to_string(T) +
                                     " exceeds n_positions=" + std::to_string(cfg_.n_positions));
  const int64_t N = int64_t(B) * T;
  const bool first = is_first_stage(), last = is_last_stage();
  const bool with_targets = last && targets != nullptr;
  auto where = [T](int64_t i) { return "batch " + std::to_string(i / T) + ", position " + std::to_string(i % T); };
  // Validate ids (the error message is only built for a bad id, not per token).
  if (first)
    for (int64_t i = 0; i < N; ++i)
      if (!(tokens[i] >= 0 && tokens[i] < V))
        require(false, "GPT2::forward: token id " + std::to_string(tokens[i]) + " at " + where(i) + " is outside [0, " +
                           std::to_string(V) + ")");
  if (with_targets)
    for (int64_t i = 0; i < N; ++i)
      if (!(targets[i] == kIgnoreIndex || (targets[i] >= 0 && targets[i] < V)))
        require(false, "GPT2::forward: target id " + std::to_string(targets[i]) + " at " + where(i) +
                           " is outside [0, " + std::to_string(V) + ") and not ignore_index");
  if (!first)
    require(input_hidden.extent(0) >= size_t(N * C), "GPT2::forward_stage: missing or short input activations");

  DropoutRates drop;
  if (opt.training) drop = {cfg_.embd_pdrop, cfg_.attn_pdrop, cfg_.resid_pdrop};
  Activations& a = *slots_[slot];
  a.ensure(d, first, last, B, T, drop.any());
  a.opt = opt;
  a.drop = drop;
  a.backward_ready = false;
  a.has_targets = with_targets;
  auto key = [&](uint32_t layer, uint32_t site) { return RngKey{opt.seed, opt.step, layer, site}; };
  // Dropout masks follow global element indices: this rank's rows start at sample dp_rank·B.
  const uint64_t row_offset = uint64_t(mp_.dp_rank) * uint64_t(N);

  // Inputs to the device.
  auto upload = [N](const View1<int32_t>& dst, const int32_t* src) {
    auto h = Kokkos::create_mirror_view(dst);
    for (int64_t i = 0; i < N; ++i) h(i) = src[i];
    Kokkos::deep_copy(dst, h);
  };
  if (first) upload(a.tokens, tokens);
  if (with_targets) upload(a.targets, targets);

  if (first) {
    // x0 = dropout(wte[tokens] + wpe[positions]); vocab-parallel: each rank looks up its rows, then sum.
    const View1<S> wpe = mp_.tp_rank == 0 ? params_.value("wpe.weight") : View1<S>();
    const View1<S> emb = drop.embd > 0 ? a.embedded : a.x0;
    embedding_forward<S>(emb, a.tokens, params_.value("wte.weight"), wpe, B, T, int(C), d.v0, Vl);
    tp_sum(mp_, emb, N * C);
    if (drop.embd > 0) dropout_forward<S>(a.x0, a.embedded, N * C, S(drop.embd), key(0, 0), row_offset * C);
  } else {
    Kokkos::deep_copy(sub(a.x0, 0, N * C), sub(input_hidden, 0, N * C));
  }

  // out = x + dropout(branch)
  auto residual_add = [&](View1<S> out, const View1<S>& x, RngKey k) {
    if (drop.resid > 0) {
      dropout_forward<S>(a.branch_drop, a.branch, N * C, S(drop.resid), k, row_offset * C);
      residual_forward<S>(out, x, a.branch_drop, N * C);
    } else {
      residual_forward<S>(out, x, a.branch, N * C);
    }
  };

  const S eps = S(cfg_.layer_norm_epsilon);
  AttentionShape shape{B, T, int(Cl), int(NHl), true};
  shape.batch_offset = mp_.dp_rank * B;
  shape.head_offset = int(mp_.tp_rank * NHl);
  shape.NH_total = int(d.NH);
  const View1<int32_t> no_key_mask;
  const View1<S> no_bias;
  View1<S> x = a.x0;
  for (int64_t li = 0; li < L; ++li) {
    const int l = layer_begin_ + int(li);
    const BlockTensors<S> w = block_tensors(params_, l, false);
    const View1<S> ln1 = sub(a.ln1, li * N * C, N * C), ln1_mean = sub(a.ln1_mean, li * N, N),
                   ln1_rstd = sub(a.ln1_rstd, li * N, N), qkv = sub(a.qkv, li * N * 3 * Cl, N * 3 * Cl),
                   atty = sub(a.atty, li * N * Cl, N * Cl), att = sub(a.att, li * N * NHl * T, N * NHl * T),
                   attd = drop.attn > 0 ? sub(a.attd, li * N * NHl * T, N * NHl * T) : View1<S>(),
                   res2 = sub(a.res2, li * N * C, N * C), ln2 = sub(a.ln2, li * N * C, N * C),
                   ln2_mean = sub(a.ln2_mean, li * N, N), ln2_rstd = sub(a.ln2_rstd, li * N, N),
                   fch = sub(a.fch, li * N * Fl, N * Fl), fch_gelu = sub(a.fch_gelu, li * N * Fl, N * Fl),
                   res3 = sub(a.res3, li * N * C, N * C);
    // Attention: res2 = x + dropout(c_proj(attn(c_attn(ln_1(x)))))
    layernorm_forward<S>(ln1, ln1_mean, ln1_rstd, x, w.ln1_w, w.ln1_b, N, int(C), eps);
    linear_forward<S>(qkv, ln1, w.attn_w, w.attn_b, N, C, 3 * Cl);             // column-parallel (f)
    attention_forward<S>(atty, att, attd, qkv, no_key_mask, shape, S(drop.attn), key(uint32_t(l + 1), 1));
    linear_forward<S>(a.branch, atty, w.attn_proj_w, no_bias, N, Cl, C);      // row-parallel partial
    tp_sum(mp_, a.branch, N * C);                                            // (g)
    bias_add_forward<S>(a.branch, w.attn_proj_b, N, C);
    residual_add(res2, x, key(uint32_t(l + 1), 2));
    // MLP: res3 = res2 + dropout(c_proj(gelu(c_fc(ln_2(res2)))))
    layernorm_forward<S>(ln2, ln2_mean, ln2_rstd, res2, w.ln2_w, w.ln2_b, N, int(C), eps);
    linear_forward<S>(fch, ln2, w.fc_w, w.fc_b, N, C, Fl);                     // column-parallel (f)
    gelu_forward<S>(fch_gelu, fch, N * Fl);
    linear_forward<S>(a.branch, fch_gelu, w.mlp_proj_w, no_bias, N, Fl, C);   // row-parallel partial
    tp_sum(mp_, a.branch, N * C);                                            // (g)
    bias_add_forward<S>(a.branch, w.mlp_proj_b, N, C);
    residual_add(res3, res2, key(uint32_t(l + 1), 3));
    x = res3;
  }

  if (!last) {
    a.backward_ready = true;
    return S(0);
  }
  // Head: logits = ln_f(x)·wteᵀ (tied embedding; vocab-parallel: this rank's columns).
  const View1<S> wte = params_.value("wte.weight");
  layernorm_forward<S>(a.lnf, a.lnf_mean, a.lnf_rstd, x, params_.value("ln_f.weight"), params_.value("ln_f.bias"), N,
                       int(C), eps);
  gemm<S>(Trans::No, Trans::Yes, N, Vl, C, S(1), a.lnf.data(), C, wte.data(), C, S(0), a.logits.data(), Vl);

  if (!with_targets) {
    a.num_valid = 0;
    return S(0);
  }
  if (mp_.tp_size == 1) {
    cross_entropy_forward<S>(a.losses, a.lse, a.logits, a.targets, N, V, kIgnoreIndex);
  } else {  // max, sum-exp and target logit all-reduced: the full logits are never gathered
    cross_entropy_row_max<S>(a.row_max, a.logits, N, Vl);
    Kokkos::fence();
    mp_.tp->all_reduce(a.row_max.data(), size_t(N), dtype_of<S>(), ReduceOp::Max);
    cross_entropy_row_sumexp<S>(a.row_sumexp, a.logits, a.row_max, N, Vl);
    cross_entropy_target_logit<S>(a.target_logit, a.logits, a.targets, N, Vl, d.v0, kIgnoreIndex);
    tp_sum(mp_, a.row_sumexp, N);
    tp_sum(mp_, a.target_logit, N);
    cross_entropy_finish<S>(a.losses, a.lse, a.row_max, a.row_sumexp, a.target_logit, a.targets, N, kIgnoreIndex);
  }
  a.num_valid = count_valid_targets(a.targets, N, kIgnoreIndex);
  auto losses_h = Kokkos::create_mirror_view(a.losses);
  Kokkos::deep_copy(losses_h, a.losses);
  double sum = 0;
  for (int64_t i = 0; i < N; ++i) sum += double(losses_h(i));
  a.backward_ready = true;
  return a.num_valid > 0 ? S(sum / double(a.num_valid)) : S(0);
}

// ---------------------------------------------------------------------------------------------
// Backward

template <class S>
void GPT2<S>::backward(S loss_scale) {
  require(mp_.pp_size == 1, "GPT2::backward: a pipeline stage runs backward_stage()");
  require(slots_[0]->has_targets || !slots_[0]->backward_ready,
          "GPT2::backward: needs a forward with targets first (and one backward per forward)");
  backward_stage(0, loss_scale, View1<S>());
}

template <class S>
void GPT2<S>::backward_stage(int slot, S loss_scale, const View1<S>& output_grad) {
  require(slot >= 0 && slot < int(slots_.size()), "GPT2::backward_stage: slot out of range");
  Activations& a = *slots_[slot];
  require(a.backward_ready, "GPT2::backward: needs a forward with targets first (and one backward per forward)");
  const bool first = is_first_stage(), last = is_last_stage();
  require(!last || a.has_targets, "GPT2::backward: needs a forward with targets first (and one backward per forward)");
  a.backward_ready = false;
  const GPT2Dims d = dims_of(cfg_, mp_, layer_begin_, layer_end_);
  const int64_t L = d.L, C = d.C, Cl = d.Cl, Fl = d.Fl, NHl = d.NHl, Vl = d.Vl;
  const int B = a.B, T = a.T;
  const int64_t N = int64_t(B) * T;
  const DropoutRates drop = a.drop;
  const ForwardOptions opt = a.opt;
  const uint64_t row_offset = uint64_t(mp_.dp_rank) * uint64_t(N);
  auto key = [&](uint32_t layer, uint32_t site) { return RngKey{opt.seed, opt.step, layer, site}; };
  auto ready = [&](const std::string& name) {
    if (grads_ready_ && params_.contains(name)) {
      const size_t i = params_.index_of(name);
      grads_ready_(i, i + 1);
    }
  };

  // Gradient of a residual branch from the stream's gradient: dbranch = dropout_bwd(dres).
  auto branch_grad = [&](RngKey k) -> View1<S> {
    if (drop.resid <= 0) return a.dres;
    zero(a.dbranch, N * C);
    dropout_backward<S>(a.dbranch, a.dres, N * C, S(drop.resid), k, row_offset * C);
    return a.dbranch;
  };

  if (last) {
    // Head: dlogits (in place) → dwte += dlogitsᵀ·lnf, dlnf = dlogits·wte (summed over vocab shards), then ln_f.
    const S dloss = a.num_valid > 0 ? S(loss_scale / S(a.num_valid)) : S(0);
    if (mp_.tp_size == 1)
      cross_entropy_backward_inplace<S>(a.logits, a.lse, a.targets, N, Vl, dloss, kIgnoreIndex);
    else
      cross_entropy_backward_inplace_shard<S>(a.logits, a.lse, a.targets, N, Vl, d.v0, dloss, kIgnoreIndex);
    const View1<S> wte = params_.value("wte.weight"), dwte = params_.grad("wte.weight");
    gemm<S>(Trans::Yes, Trans::No, Vl, C, N, S(1), a.logits.data(), Vl, a.lnf.data(), C, S(1), dwte.data(), C);
    gemm<S>(Trans::No, Trans::No, N, C, Vl, S(1), a.logits.data(), Vl, wte.data(), C, S(0), a.dln.data(), C);
    tp_sum(mp_, a.dln, N * C);
    const View1<S> x_last = sub(a.res3, (L - 1) * N * C, N * C);
    zero(a.dres, N * C);
    layernorm_backward<S>(a.dres, params_.grad("ln_f.weight"), params_.grad("ln_f.bias"), a.dln, x_last,
                          params_.value("ln_f.weight"), a.lnf_mean, a.lnf_rstd, N, int(C));
    ready("ln_f.weight");
    ready("ln_f.bias");
    if (!first) ready("wte.weight");  // the last stage's copy gets no other contribution
  } else {
    require(output_grad.extent(0) >= size_t(N * C), "GPT2::backward_stage: missing or short output gradient");
    Kokkos::deep_copy(sub(a.dres, 0, N * C), sub(output_grad, 0, N * C));
  }

  AttentionShape shape{B, T, int(Cl), int(NHl), true};
  shape.batch_offset = mp_.dp_rank * B;
  shape.head_offset = int(mp_.tp_rank * NHl);
  shape.NH_total = int(d.NH);
  const View1<S> no_bias;
  for (int64_t li = L - 1; li >= 0; --li) {
    const int l = layer_begin_ + int(li);
    const BlockTensors<S> w = block_tensors(params_, l, false);
    const BlockTensors<S> g = block_tensors(params_, l, true);
    const View1<S> x = li == 0 ? sub(a.x0, 0, N * C) : sub(a.res3, (li - 1) * N * C, N * C);
    const View1<S> ln1 = sub(a.ln1, li * N * C, N * C), ln1_mean = sub(a.ln1_mean, li * N, N),
                   ln1_rstd = sub(a.ln1_rstd, li * N, N), qkv = sub(a.qkv, li * N * 3 * Cl, N * 3 * Cl),
                   atty = sub(a.atty, li * N * Cl, N * Cl), att = sub(a.att, li * N * NHl * T, N * NHl * T),
                   attd = drop.attn > 0 ? sub(a.attd, li * N * NHl * T, N * NHl * T) : View1<S>(),
                   res2 = sub(a.res2, li * N * C, N * C), ln2 = sub(a.ln2, li * N * C, N * C),
                   ln2_mean = sub(a.ln2_mean, li * N, N), ln2_rstd = sub(a.ln2_rstd, li * N, N),
                   fch = sub(a.fch, li * N * Fl, N * Fl), fch_gelu = sub(a.fch_gelu, li * N * Fl, N * Fl);
    // MLP. dres holds d(res3); the skip path passes it on unchanged to d(res2).
    const View1<S> dmlp = branch_grad(key(uint32_t(l + 1), 3));
    bias_backward<S>(g.mlp_proj_b, dmlp, N, C);  // replicated bias, added after the all-reduce
    zero(a.dfch_gelu, N * Fl);
    linear_backward<S>(a.dfch_gelu, g.mlp_proj_w, no_bias, dmlp, fch_gelu, w.mlp_proj_w, N, Fl, C);
    zero(a.dfch, N * Fl);
    gelu_backward<S>(a.dfch, fch, a.dfch_gelu, N * Fl);
    zero(a.dln, N * C);
    linear_backward<S>(a.dln, g.fc_w, g.fc_b, a.dfch, ln2, w.fc_w, N, C, Fl);
    tp_sum(mp_, a.dln, N * C);  // f backward: sum the input gradient over tp
    layernorm_backward<S>(a.dres, g.ln2_w, g.ln2_b, a.dln, res2, w.ln2_w, ln2_mean, ln2_rstd, N, int(C));
    // Attention. dres now holds d(res2); the skip path passes it on to d(x).
    const View1<S> dattn = branch_grad(key(uint32_t(l + 1), 2));
    bias_backward<S>(g.attn_proj_b, dattn, N, C);
    zero(a.datty, N * Cl);
    linear_backward<S>(a.datty, g.attn_proj_w, no_bias, dattn, atty, w.attn_proj_w, N, Cl, C);
    zero(a.dqkv, N * 3 * Cl);
    attention_backward<S>(a.dqkv, a.datt_scratch, a.datty, qkv, att, attd, shape, S(drop.attn),
                          key(uint32_t(l + 1), 1));
    zero(a.dln, N * C);
    linear_backward<S>(a.dln, g.attn_w, g.attn_b, a.dqkv, ln1, w.attn_w, N, C, 3 * Cl);
    tp_sum(mp_, a.dln, N * C);
    layernorm_backward<S>(a.dres, g.ln1_w, g.ln1_b, a.dln, x, w.ln1_w, ln1_mean, ln1_rstd, N, int(C));
    if (grads_ready_) {
      const size_t i0 = params_.index_of("h." + std::to_string(l) + ".ln_1.weight");
      grads_ready_(i0, i0 + 12);
    }
  }

  if (first) {
    // Embedding: dres holds d(x0). Every tp rank accumulates its wte rows and the (replicated) wpe.
    View1<S> demb = a.dres;
    if (drop.embd > 0) {
      zero(a.dbranch, N * C);
      dropout_backward<S>(a.dbranch, a.dres, N * C, S(drop.embd), key(0, 0), row_offset * C);
      demb = a.dbranch;
    }
    embedding_backward<S>(params_.grad("wte.weight"), params_.grad("wpe.weight"), demb, a.tokens, B, T, int(C), d.v0,
                          Vl);
    ready("wte.weight");
    ready("wpe.weight");
  } else {
    Kokkos::deep_copy(sub(a.dx0, 0, N * C), sub(a.dres, 0, N * C));
  }
  Kokkos::fence();
}

template <class S>
View1<S> GPT2<S>::stage_output(int slot) const {
  const Activations& a = *slots_.at(slot);
  const int64_t N = int64_t(a.B) * a.T, C = cfg_.n_embd, L = layer_end_ - layer_begin_;
  return sub(a.res3, (L - 1) * N * C, N * C);
}

template <class S>
View1<S> GPT2<S>::stage_input_grad(int slot) const {
  const Activations& a = *slots_.at(slot);
  const int64_t N = int64_t(a.B) * a.T;
  return sub(a.dx0, 0, N * cfg_.n_embd);
}

template <class S>
View1<S> GPT2<S>::logits() const {
  const Activations& a = *slots_[0];
  const int64_t N = int64_t(a.B) * a.T;
  if (N == 0 || a.logits.extent(0) == 0) return View1<S>();
  const auto [v0, v1] = balanced_range(cfg_.vocab_size, mp_.tp_size, mp_.tp_rank);
  return sub(a.logits, 0, N * (v1 - v0));
}

template <class S>
int64_t GPT2<S>::num_valid_targets() const {
  return slots_[0]->num_valid;
}

template <class S>
size_t GPT2<S>::activation_bytes() const {
  size_t total = 0;
  for (const auto& s : slots_) total += s->bytes();
  return total;
}

template class GPT2<float>;
template class GPT2<double>;

}  // namespace tessera
