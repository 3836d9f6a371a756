// GPT-2 forward/backward on the Tessera kernels (llm.c structure: one struct of
// activation Views sized for the largest B·T seen, a forward that stores what the
// backward needs, and a backward that walks the same steps in reverse).
//
// Notation: N = B·T rows, C = n_embd, V = vocab_size. Every tensor is a flat View;
// per-layer activations live in one View of L·(N·per_row) elements.
#include "src/model/gpt2.hpp"

#include <cmath>
#include <string>
#include "kernels/attention.hpp"
#include "kernels/bias.hpp"
#include "kernels/cross_entropy.hpp"
#include "kernels/dropout.hpp"
#include "kernels/embedding.hpp"
#include "kernels/gelu.hpp"
#include "kernels/gemm.hpp"
#include "kernels/layernorm.hpp"
#include "kernels/residual.hpp"
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

// The weights (or their gradients) of one transformer block.
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
// forward : out = inp·Wᵀ + b
template <class S>
void linear_forward(View1<S> out, const View1<S>& inp, const View1<S>& w, const View1<S>& b, int64_t N, int64_t IC,
                    int64_t OC) {
  gemm<S>(Trans::No, Trans::Yes, N, OC, IC, S(1), inp.data(), IC, w.data(), IC, S(0), out.data(), OC);
  bias_add_forward<S>(out, b, N, OC);
}
// backward: dinp += dout·W;  dW += doutᵀ·inp;  db += Σ_n dout
template <class S>
void linear_backward(View1<S> dinp, View1<S> dw, View1<S> db, const View1<S>& dout, const View1<S>& inp,
                     const View1<S>& w, int64_t N, int64_t IC, int64_t OC) {
  gemm<S>(Trans::No, Trans::No, N, IC, OC, S(1), dout.data(), OC, w.data(), IC, S(1), dinp.data(), IC);
  gemm<S>(Trans::Yes, Trans::No, OC, IC, N, S(1), dout.data(), OC, inp.data(), IC, S(1), dw.data(), IC);
  bias_backward<S>(db, dout, N, OC);
}

// Dropout probabilities actually applied in this forward (0 = off).
struct DropoutRates {
  double embd = 0, attn = 0, resid = 0;
  bool any() const { return embd > 0 || attn > 0 || resid > 0; }
};

}  // namespace

template <class S>
struct GPT2<S>::Activations {
  int B = 0, T = 0;           // shape of the last forward
  int64_t capacity_rows = 0;  // rows (B·T) the buffers are sized for
  int alloc_T = 0;            // T the attention buffers are sized for
  bool alloc_dropout = false; // dropout buffers present

  ForwardOptions opt;         // of the last forward (dropout keys for backward)
  DropoutRates drop;
  bool backward_ready = false;
  int64_t num_valid = 0;

  View1<int32_t> tokens, targets;                  // [N]
  View1<S> embedded;                               // [N,C] embedding before dropout (dropout only)
  View1<S> x0;                                     // [N,C] input of block 0
  View1<S> ln1, ln1_mean, ln1_rstd;                // [L,N,C], [L,N], [L,N]
  View1<S> qkv;                                    // [L,N,3C]
  View1<S> atty;                                   // [L,N,C] attention output before c_proj
  View1<S> att, attd;                              // [L,B,NH,T,T] P and dropped P (dropout only)
  View1<S> res2;                                   // [L,N,C] stream after the attention residual
  View1<S> ln2, ln2_mean, ln2_rstd;                // [L,N,C], [L,N], [L,N]
  View1<S> fch, fch_gelu;                          // [L,N,4C] c_fc output, after GELU
  View1<S> res3;                                   // [L,N,C] block output
  View1<S> lnf, lnf_mean, lnf_rstd;                // [N,C], [N], [N]
  View1<S> logits;                                 // [N,V] (dlogits after backward)
  View1<S> losses, lse;                            // [N]
  View1<S> branch, branch_drop;                    // [N,C] residual-branch scratch (branch_drop: dropout only)
  // Gradient buffers, reused across layers.
  View1<S> dres;                                   // [N,C] gradient of the residual stream
  View1<S> dbranch;                                // [N,C] gradient of a residual branch before dropout
  View1<S> dln;                                    // [N,C] gradient of a LayerNorm output
  View1<S> datty;                                  // [N,C]
  View1<S> dqkv;                                   // [N,3C]
  View1<S> dfch, dfch_gelu;                        // [N,4C]
  View1<S> datt_scratch;                           // [B,NH,T,T]

  void ensure(const GPT2Config& cfg, int B_, int T_, bool need_dropout) {
    const int64_t N = int64_t(B_) * T_;
    if (N > capacity_rows || T_ != alloc_T || (need_dropout && !alloc_dropout)) {
      allocate(cfg, std::max(N, capacity_rows), T_, need_dropout || alloc_dropout);
    }
    B = B_;
    T = T_;
  }

  void allocate(const GPT2Config& cfg, int64_t N, int T_, bool dropout) {
    const int64_t L = cfg.n_layer, C = cfg.n_embd, V = cfg.vocab_size, NH = cfg.n_head;
    const int64_t att_rows = N * NH * T_;  // B·NH·T·T
    *this = Activations{};  // release the old buffers first
    capacity_rows = N;
    alloc_T = T_;
    alloc_dropout = dropout;
    tokens = View1<int32_t>("tokens", N);
    targets = View1<int32_t>("targets", N);
    if (dropout) embedded = View1<S>("embedded", N * C);
    x0 = View1<S>("x0", N * C);
    ln1 = View1<S>("ln1", L * N * C);
    ln1_mean = View1<S>("ln1_mean", L * N);
    ln1_rstd = View1<S>("ln1_rstd", L * N);
    qkv = View1<S>("qkv", L * N * 3 * C);
    atty = View1<S>("atty", L * N * C);
    att = View1<S>("att", L * att_rows);
    if (dropout) attd = View1<S>("attd", L * att_rows);
    res2 = View1<S>("res2", L * N * C);
    ln2 = View1<S>("ln2", L * N * C);
    ln2_mean = View1<S>("ln2_mean", L * N);
    ln2_rstd = View1<S>("ln2_rstd", L * N);
    fch = View1<S>("fch", L * N * 4 * C);
    fch_gelu = View1<S>("fch_gelu", L * N * 4 * C);
    res3 = View1<S>("res3", L * N * C);
    lnf = View1<S>("lnf", N * C);
    lnf_mean = View1<S>("lnf_mean", N);
    lnf_rstd = View1<S>("lnf_rstd", N);
    logits = View1<S>("logits", N * V);
    losses = View1<S>("losses", N);
    lse = View1<S>("lse", N);
    branch = View1<S>("branch", N * C);
    if (dropout) branch_drop = View1<S>("branch_drop", N * C);
    dres = View1<S>("dres", N * C);
    dbranch = View1<S>("dbranch", N * C);
    dln = View1<S>("dln", N * C);
    datty = View1<S>("datty", N * C);
    dqkv = View1<S>("dqkv", N * 3 * C);
    dfch = View1<S>("dfch", N * 4 * C);
    dfch_gelu = View1<S>("dfch_gelu", N * 4 * C);
    datt_scratch = View1<S>("datt_scratch", att_rows);
  }

  size_t bytes() const {
    size_t total = (tokens.span() + targets.span()) * sizeof(int32_t);
    for (const View1<S>* v : {&embedded, &x0, &ln1, &ln1_mean, &ln1_rstd, &qkv, &atty, &att, &attd, &res2, &ln2,
                              &ln2_mean, &ln2_rstd, &fch, &fch_gelu, &res3, &lnf, &lnf_mean, &lnf_rstd, &logits,
                              &losses, &lse, &branch, &branch_drop, &dres, &dbranch, &dln, &datty, &dqkv, &dfch,
                              &dfch_gelu, &datt_scratch})
      total += v->span() * sizeof(S);
    return total;
  }
};

// ---------------------------------------------------------------------------------------------
// Parameters and initialisation

template <class S>
GPT2<S>::GPT2(const GPT2Config& cfg) : cfg_(cfg), acts_(std::make_unique<Activations>()) {
  require(cfg.n_layer > 0 && cfg.n_head > 0 && cfg.n_embd > 0 && cfg.vocab_size > 0 && cfg.n_positions > 0,
          "GPT2Config: n_layer, n_head, n_embd, vocab_size and n_positions must be positive");
  require(cfg.n_embd % cfg.n_head == 0, "GPT2Config: n_embd (" + std::to_string(cfg.n_embd) +
                                            ") must be divisible by n_head (" + std::to_string(cfg.n_head) + ")");
  const int64_t C = cfg.n_embd;
  params_.add("wte.weight", {cfg.vocab_size, C}, true);
  params_.add("wpe.weight", {cfg.n_positions, C}, true);
  for (int l = 0; l < cfg.n_layer; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    params_.add(h + "ln_1.weight", {C}, false);
    params_.add(h + "ln_1.bias", {C}, false);
    params_.add(h + "attn.c_attn.weight", {3 * C, C}, true);
    params_.add(h + "attn.c_attn.bias", {3 * C}, false);
    params_.add(h + "attn.c_proj.weight", {C, C}, true);
    params_.add(h + "attn.c_proj.bias", {C}, false);
    params_.add(h + "ln_2.weight", {C}, false);
    params_.add(h + "ln_2.bias", {C}, false);
    params_.add(h + "mlp.c_fc.weight", {4 * C, C}, true);
    params_.add(h + "mlp.c_fc.bias", {4 * C}, false);
    params_.add(h + "mlp.c_proj.weight", {C, 4 * C}, true);
    params_.add(h + "mlp.c_proj.bias", {C}, false);
  }
  params_.add("ln_f.weight", {C}, false);
  params_.add("ln_f.bias", {C}, false);
  params_.allocate();
}

template <class S>
GPT2<S>::~GPT2() = default;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// v[i] = std · N(0,1)(key, e(i)), e(i) = index of local element i in the full tensor.
template <class S>
void fill_normal(View1<S> v, const ParamInfo& info, RngKey key, double stddev) {
  require(info.full_shape.size() <= 2, "init_weights: parameter " + info.name + " has rank > 2");
  const bool matrix = info.full_shape.size() == 2;
  const int64_t start0 = info.local_start.empty() ? 0 : info.local_start[0];
  const int64_t start1 = matrix ? info.local_start[1] : 0;
  const int64_t local_cols = matrix ? info.local_shape[1] : 1;
  const int64_t full_cols = matrix ? info.full_shape[1] : 1;
  Kokkos::parallel_for(
      "gpt2_init_normal", RangePolicy(0, int64_t(info.numel)), KOKKOS_LAMBDA(const int64_t i) {
        const int64_t r = i / local_cols, c = i % local_cols;
        const uint64_t e = uint64_t((r + start0) * full_cols + (c + start1));
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
      fill_normal<S>(v, info, RngKey{seed, 0, 0, uint32_t(p)}, residual_proj ? residual_std : stddev);
    }
  }
  Kokkos::fence();
}

// ---------------------------------------------------------------------------------------------
// Forward

template <class S>
S GPT2<S>::forward(const int32_t* tokens, const int32_t* targets, int B, int T, const ForwardOptions& opt) {
  const int64_t L = cfg_.n_layer, C = cfg_.n_embd, V = cfg_.vocab_size, NH = cfg_.n_head;
  require(B > 0 && T > 0, "GPT2::forward: B and T must be positive (got B=" + std::to_string(B) +
                              ", T=" + std::to_string(T) + ")");
  require(T <= cfg_.n_positions, "GPT2::forward: sequence length T=" + std::to_string(T) +
                                     " exceeds n_positions=" + std::to_string(cfg_.n_positions));
  const int64_t N = int64_t(B) * T;
  auto where = [T](int64_t i) { return "batch " + std::to_string(i / T) + ", position " + std::to_string(i % T); };
  for (int64_t i = 0; i < N; ++i)
    require(tokens[i] >= 0 && tokens[i] < V, "GPT2::forward: token id " + std::to_string(tokens[i]) + " at " +
                                                 where(i) + " is outside [0, " + std::to_string(V) + ")");
  if (targets)
    for (int64_t i = 0; i < N; ++i)
      require(targets[i] == kIgnoreIndex || (targets[i] >= 0 && targets[i] < V),
              "GPT2::forward: target id " + std::to_string(targets[i]) + " at " + where(i) + " is outside [0, " +
                  std::to_string(V) + ") and not ignore_index");

  DropoutRates drop;
  if (opt.training) drop = {cfg_.embd_pdrop, cfg_.attn_pdrop, cfg_.resid_pdrop};
  Activations& a = *acts_;
  a.ensure(cfg_, B, T, drop.any());
  a.opt = opt;
  a.drop = drop;
  a.backward_ready = false;
  auto key = [&](uint32_t layer, uint32_t site) { return RngKey{opt.seed, opt.step, layer, site}; };

  // Inputs to the device.
  {
    auto tok_h = Kokkos::create_mirror_view(a.tokens);
    for (int64_t i = 0; i < N; ++i) tok_h(i) = tokens[i];
    Kokkos::deep_copy(a.tokens, tok_h);
    if (targets) {
      auto tgt_h = Kokkos::create_mirror_view(a.targets);
      for (int64_t i = 0; i < N; ++i) tgt_h(i) = targets[i];
      Kokkos::deep_copy(a.targets, tgt_h);
    }
  }

  // x0 = dropout(wte[tokens] + wpe[positions])
  if (drop.embd > 0) {
    embedding_forward<S>(a.embedded, a.tokens, params_.value(0), params_.value(1), B, T, C, 0, V);
    dropout_forward<S>(a.x0, a.embedded, N * C, S(drop.embd), key(0, 0));
  } else {
    embedding_forward<S>(a.x0, a.tokens, params_.value(0), params_.value(1), B, T, C, 0, V);
  }

  // out = x + dropout(branch)
  auto residual_add = [&](View1<S> out, const View1<S>& x, RngKey k) {
    if (drop.resid > 0) {
      dropout_forward<S>(a.branch_drop, a.branch, N * C, S(drop.resid), k);
      residual_forward<S>(out, x, a.branch_drop, N * C);
    } else {
      residual_forward<S>(out, x, a.branch, N * C);
    }
  };

  const S eps = S(cfg_.layer_norm_epsilon);
  const AttentionShape shape{B, T, int(C), int(NH), true};
  const View1<int32_t> no_key_mask;
  View1<S> x = a.x0;
  for (int l = 0; l < L; ++l) {
    const BlockTensors<S> w = block_tensors(params_, l, false);
    const View1<S> ln1 = sub(a.ln1, l * N * C, N * C), ln1_mean = sub(a.ln1_mean, l * N, N),
                   ln1_rstd = sub(a.ln1_rstd, l * N, N), qkv = sub(a.qkv, l * N * 3 * C, N * 3 * C),
                   atty = sub(a.atty, l * N * C, N * C), att = sub(a.att, l * N * NH * T, N * NH * T),
                   attd = drop.attn > 0 ? sub(a.attd, l * N * NH * T, N * NH * T) : View1<S>(),
                   res2 = sub(a.res2, l * N * C, N * C), ln2 = sub(a.ln2, l * N * C, N * C),
                   ln2_mean = sub(a.ln2_mean, l * N, N), ln2_rstd = sub(a.ln2_rstd, l * N, N),
                   fch = sub(a.fch, l * N * 4 * C, N * 4 * C), fch_gelu = sub(a.fch_gelu, l * N * 4 * C, N * 4 * C),
                   res3 = sub(a.res3, l * N * C, N * C);
    // Attention: res2 = x + dropout(c_proj(attn(c_attn(ln_1(x)))))
    layernorm_forward<S>(ln1, ln1_mean, ln1_rstd, x, w.ln1_w, w.ln1_b, N, int(C), eps);
    linear_forward<S>(qkv, ln1, w.attn_w, w.attn_b, N, C, 3 * C);
    attention_forward<S>(atty, att, attd, qkv, no_key_mask, shape, S(drop.attn), key(l + 1, 1));
    linear_forward<S>(a.branch, atty, w.attn_proj_w, w.attn_proj_b, N, C, C);
    residual_add(res2, x, key(l + 1, 2));
    // MLP: res3 = res2 + dropout(c_proj(gelu(c_fc(ln_2(res2)))))
    layernorm_forward<S>(ln2, ln2_mean, ln2_rstd, res2, w.ln2_w, w.ln2_b, N, int(C), eps);
    linear_forward<S>(fch, ln2, w.fc_w, w.fc_b, N, C, 4 * C);
    gelu_forward<S>(fch_gelu, fch, N * 4 * C);
    linear_forward<S>(a.branch, fch_gelu, w.mlp_proj_w, w.mlp_proj_b, N, 4 * C, C);
    residual_add(res3, res2, key(l + 1, 3));
    x = res3;
  }

  // Head: logits = ln_f(x)·wteᵀ (tied embedding).
  const View1<S> wte = params_.value("wte.weight");
  layernorm_forward<S>(a.lnf, a.lnf_mean, a.lnf_rstd, x, params_.value("ln_f.weight"), params_.value("ln_f.bias"), N,
                       int(C), eps);
  gemm<S>(Trans::No, Trans::Yes, N, V, C, S(1), a.lnf.data(), C, wte.data(), C, S(0), a.logits.data(), V);

  if (!targets) {
    a.num_valid = 0;
    return S(0);
  }
  cross_entropy_forward<S>(a.losses, a.lse, a.logits, a.targets, N, V, kIgnoreIndex);
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
  Activations& a = *acts_;
  require(a.backward_ready, "GPT2::backward: needs a forward with targets first (and one backward per forward)");
  a.backward_ready = false;
  const int64_t L = cfg_.n_layer, C = cfg_.n_embd, V = cfg_.vocab_size, NH = cfg_.n_head;
  const int B = a.B, T = a.T;
  const int64_t N = int64_t(B) * T;
  const DropoutRates drop = a.drop;
  const ForwardOptions opt = a.opt;
  auto key = [&](uint32_t layer, uint32_t site) { return RngKey{opt.seed, opt.step, layer, site}; };

  // Gradient of a residual branch from the stream's gradient: dbranch = dropout_bwd(dres).
  auto branch_grad = [&](RngKey k) -> View1<S> {
    if (drop.resid <= 0) return a.dres;
    zero(a.dbranch, N * C);
    dropout_backward<S>(a.dbranch, a.dres, N * C, S(drop.resid), k);
    return a.dbranch;
  };

  // Head: dlogits (in place) → dwte += dlogitsᵀ·lnf, dlnf = dlogits·wte, then ln_f.
  const S dloss = a.num_valid > 0 ? S(loss_scale / S(a.num_valid)) : S(0);
  cross_entropy_backward_inplace<S>(a.logits, a.lse, a.targets, N, V, dloss, kIgnoreIndex);
  const View1<S> wte = params_.value("wte.weight"), dwte = params_.grad("wte.weight");
  gemm<S>(Trans::Yes, Trans::No, V, C, N, S(1), a.logits.data(), V, a.lnf.data(), C, S(1), dwte.data(), C);
  gemm<S>(Trans::No, Trans::No, N, C, V, S(1), a.logits.data(), V, wte.data(), C, S(0), a.dln.data(), C);
  const View1<S> x_last = sub(a.res3, (L - 1) * N * C, N * C);
  zero(a.dres, N * C);
  layernorm_backward<S>(a.dres, params_.grad("ln_f.weight"), params_.grad("ln_f.bias"), a.dln, x_last,
                        params_.value("ln_f.weight"), a.lnf_mean, a.lnf_rstd, N, int(C));

  const AttentionShape shape{B, T, int(C), int(NH), true};
  for (int64_t l = L - 1; l >= 0; --l) {
    const BlockTensors<S> w = block_tensors(params_, int(l), false);
    const BlockTensors<S> g = block_tensors(params_, int(l), true);
    const View1<S> x = l == 0 ? sub(a.x0, 0, N * C) : sub(a.res3, (l - 1) * N * C, N * C);
    const View1<S> ln1 = sub(a.ln1, l * N * C, N * C), ln1_mean = sub(a.ln1_mean, l * N, N),
                   ln1_rstd = sub(a.ln1_rstd, l * N, N), qkv = sub(a.qkv, l * N * 3 * C, N * 3 * C),
                   atty = sub(a.atty, l * N * C, N * C), att = sub(a.att, l * N * NH * T, N * NH * T),
                   attd = drop.attn > 0 ? sub(a.attd, l * N * NH * T, N * NH * T) : View1<S>(),
                   res2 = sub(a.res2, l * N * C, N * C), ln2 = sub(a.ln2, l * N * C, N * C),
                   ln2_mean = sub(a.ln2_mean, l * N, N), ln2_rstd = sub(a.ln2_rstd, l * N, N),
                   fch = sub(a.fch, l * N * 4 * C, N * 4 * C), fch_gelu = sub(a.fch_gelu, l * N * 4 * C, N * 4 * C);
    // MLP. dres holds d(res3); the skip path passes it on unchanged to d(res2).
    const View1<S> dmlp = branch_grad(key(uint32_t(l + 1), 3));
    zero(a.dfch_gelu, N * 4 * C);
    linear_backward<S>(a.dfch_gelu, g.mlp_proj_w, g.mlp_proj_b, dmlp, fch_gelu, w.mlp_proj_w, N, 4 * C, C);
    zero(a.dfch, N * 4 * C);
    gelu_backward<S>(a.dfch, fch, a.dfch_gelu, N * 4 * C);
    zero(a.dln, N * C);
    linear_backward<S>(a.dln, g.fc_w, g.fc_b, a.dfch, ln2, w.fc_w, N, C, 4 * C);
    layernorm_backward<S>(a.dres, g.ln2_w, g.ln2_b, a.dln, res2, w.ln2_w, ln2_mean, ln2_rstd, N, int(C));
    // Attention. dres now holds d(res2); the skip path passes it on to d(x).
    const View1<S> dattn = branch_grad(key(uint32_t(l + 1), 2));
    zero(a.datty, N * C);
    linear_backward<S>(a.datty, g.attn_proj_w, g.attn_proj_b, dattn, atty, w.attn_proj_w, N, C, C);
    zero(a.dqkv, N * 3 * C);
    attention_backward<S>(a.dqkv, a.datt_scratch, a.datty, qkv, att, attd, shape, S(drop.attn),
                          key(uint32_t(l + 1), 1));
    zero(a.dln, N * C);
    linear_backward<S>(a.dln, g.attn_w, g.attn_b, a.dqkv, ln1, w.attn_w, N, C, 3 * C);
    layernorm_backward<S>(a.dres, g.ln1_w, g.ln1_b, a.dln, x, w.ln1_w, ln1_mean, ln1_rstd, N, int(C));
  }

  // Embedding: dres holds d(x0).
  View1<S> demb = a.dres;
  if (drop.embd > 0) {
    zero(a.dbranch, N * C);
    dropout_backward<S>(a.dbranch, a.dres, N * C, S(drop.embd), key(0, 0));
    demb = a.dbranch;
  }
  embedding_backward<S>(dwte, params_.grad("wpe.weight"), demb, a.tokens, B, T, int(C), 0, V);
  Kokkos::fence();
}

template <class S>
View1<S> GPT2<S>::logits() const {
  const int64_t N = int64_t(acts_->B) * acts_->T;
  if (N == 0) return View1<S>();
  return sub(acts_->logits, 0, N * cfg_.vocab_size);
}

template <class S>
int64_t GPT2<S>::num_valid_targets() const {
  return acts_->num_valid;
}

template <class S>
size_t GPT2<S>::activation_bytes() const {
  return acts_->bytes();
}

template class GPT2<float>;
template class GPT2<double>;

}  // namespace tessera
