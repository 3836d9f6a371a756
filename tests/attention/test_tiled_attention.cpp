// Tiled attention (kernels/tiled_attention.hpp) against the materialised kernels of kernels/attention.hpp
// (themselves checked against a naive loop and finite differences in tests/gradcheck):
//  - forward output and dqkv equal, fp32 ≤ 1e-5 relative and fp64 ≤ 1e-11, for causal / bidirectional,
//    padding masks (a fully masked row, right padding across a tile boundary, a fully padded sample),
//    GQA and multi-query, attention dropout (the same (b,h,i,j) masks, also with batch/head offsets), T not a
//    multiple of the tile (1, 33, 37, 45, 50, 70) and one multiple (64);
//  - the logsumexp it stores against a naive double loop;
//  - dqkv against central differences (double) over several tiles;
//  - the KV-cache prefill kernel against attention_forward_cached, chunked;
//  - whole models (GPT-2, BERT, Llama) with model.attention = tiled: the same loss and gradients as
//    materialized (fp32, ≤ 1e-5), with padding and dropout; generation prefill logits equal;
//  - the config key: "tiled" parses, anything else is an error naming model.attention.
#include <gtest/gtest.h>
#include "tiny_transformer_config.hpp"
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>
#include "gradcheck/kernel_test_util.hpp"
#include "kernels/attention.hpp"
#include "kernels/tiled_attention.hpp"
#include "src/config/run_config.hpp"
#include "src/model/transformer.hpp"
#include "src/runtime/error.hpp"

using namespace tessera;
using namespace ktest;

namespace {

struct Case {
  int B, T, NH, NKV, hd;
  bool causal, padding;
  double p;
  int batch_offset = 0, head_offset = 0, NH_total = 0;
};

std::string tag(const Case& k) {
  return "B=" + std::to_string(k.B) + " T=" + std::to_string(k.T) + " NH=" + std::to_string(k.NH) +
         " NKV=" + std::to_string(k.NKV) + " hd=" + std::to_string(k.hd) + (k.causal ? " causal" : " bidirectional") +
         (k.padding ? " padded" : "") + " p=" + std::to_string(k.p) +
         (k.NH_total ? " offsets " + std::to_string(k.batch_offset) + "," + std::to_string(k.head_offset) : "");
}

AttentionShape shape_of(const Case& k) {
  AttentionShape s{k.B, k.T, k.NH * k.hd, k.NH, k.causal};
  s.NKV = k.NKV;
  s.batch_offset = k.batch_offset;
  s.head_offset = k.head_offset;
  s.NH_total = k.NH_total;
  return s;
}

// b=0: keys 0 and T−1 padded (causal row 0 fully masked); b=1: the last 13 keys padded (right padding across a
// tile boundary); b=2: every key padded (a fully padded sample: every row fully masked).
std::vector<int32_t> make_mask(const Case& k) {
  if (!k.padding) return {};
  std::vector<int32_t> m(int64_t(k.B) * k.T, 1);
  m[0] = 0;
  m[k.T - 1] = 0;
  if (k.B > 1)
    for (int j = std::max(1, k.T - 13); j < k.T; ++j) m[int64_t(k.T) + j] = 0;
  if (k.B > 2)
    for (int j = 0; j < k.T; ++j) m[2 * int64_t(k.T) + j] = 0;
  return m;
}

const Case kCases[] = {
    {2, 37, 3, 3, 8, true, false, 0.0},   {2, 45, 4, 2, 8, true, true, 0.0},   {2, 70, 2, 2, 16, false, true, 0.0},
    {1, 33, 2, 2, 8, false, false, 0.0},  {2, 50, 4, 1, 8, true, false, 0.2},  {3, 41, 2, 2, 8, false, true, 0.3},
    {2, 64, 2, 2, 64, true, true, 0.1},   {1, 1, 2, 2, 4, true, false, 0.0},   {3, 37, 4, 2, 6, true, true, 0.25},
    {2, 40, 2, 1, 8, true, false, 0.2, 1, 2, 8},
};

// ‖a − b‖ / ‖b‖ ≤ tol and max |a − b| ≤ tol · max |b| (b: the materialised result).
template <class T>
void expect_close(const std::vector<T>& a, const std::vector<T>& b, double tol, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  double diff = 0, nb = 0, dmax = 0, bmax = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_TRUE(std::isfinite(double(a[i]))) << what << "[" << i << "]";
    const double d = double(a[i]) - double(b[i]);
    diff += d * d;
    nb += double(b[i]) * double(b[i]);
    dmax = std::max(dmax, std::abs(d));
    bmax = std::max(bmax, std::abs(double(b[i])));
  }
  EXPECT_GT(nb, 0.0) << what << ": reference is identically zero";
  EXPECT_LE(std::sqrt(diff), tol * std::sqrt(nb)) << what << ": norm-wise";
  EXPECT_LE(dmax, tol * bmax) << what << ": max element difference " << dmax << " vs max " << bmax;
}

template <class S>
std::vector<S> minus_t(const std::vector<S>& a, const std::vector<S>& b) {
  std::vector<S> r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = a[i] - b[i];
  return r;
}

// Runs both paths (forward, then backward of L = Σ w·out accumulated into g0) and compares.
template <class S>
void compare_paths(const Case& k, std::mt19937& rng, double tol) {
  const int C = k.NH * k.hd, W = C + 2 * k.NKV * k.hd;
  const int64_t nqkv = int64_t(k.B) * k.T * W, nout = int64_t(k.B) * k.T * C;
  const int64_t natt = int64_t(k.B) * k.NH * k.T * k.T, nrow = int64_t(k.B) * k.NH * k.T;
  const RngKey key{3, 7, 2, 1};
  auto cast = [](const std::vector<double>& v) { return std::vector<S>(v.begin(), v.end()); };
  const auto qkv = cast(randvec(nqkv, rng, -2.0, 2.0)), w = cast(randvec(nout, rng)), g0 = cast(randvec(nqkv, rng));
  const auto mask = make_mask(k);
  const auto qv = to_view(qkv), wv = to_view(w);
  const auto mv = to_view(mask);
  const AttentionShape shape = shape_of(k);
  const S p = S(k.p);
  // materialised
  View1<S> out_m("out_m", nout), att("att", natt), attd("attd", k.p > 0 ? natt : 0), scratch("scratch", natt);
  attention_forward<S>(out_m, att, attd, qv, mv, shape, p, key);
  auto dq_m = to_view(g0);
  attention_backward<S>(dq_m, scratch, wv, qv, att, attd, shape, p, key);
  // tiled
  View1<S> out_t("out_t", nout), lse("lse", nrow), delta("delta", nrow);
  tiled_attention_forward<S>(out_t, lse, qv, mv, shape, p, key);
  auto dq_t = to_view(g0);
  tiled_attention_backward<S>(dq_t, delta, wv, qv, out_t, lse, mv, shape, p, key);
  const std::string what = std::string(sizeof(S) == 4 ? "fp32 " : "fp64 ") + tag(k);
  expect_close(to_vec(out_t), to_vec(out_m), tol, what + " out");
  expect_close(minus_t(to_vec(dq_t), g0), minus_t(to_vec(dq_m), g0), tol, what + " dqkv");
}

}  // namespace

TEST(TiledAttention, MatchesMaterializedFp32) {
  std::mt19937 rng(31);
  for (const Case& k : kCases) compare_paths<float>(k, rng, 1e-5);
}

TEST(TiledAttention, MatchesMaterializedFp64) {
  std::mt19937 rng(32);
  for (const Case& k : kCases) compare_paths<double>(k, rng, 1e-11);
}

// lse_i = log Σ_j e^{s_ij} over the live keys (naive double loop); fully masked rows hold the sentinel max().
TEST(TiledAttention, LogsumexpMatchesNaiveLoop) {
  std::mt19937 rng(33);
  for (const Case& k : {Case{3, 45, 4, 2, 8, true, true, 0.0}, Case{3, 39, 2, 1, 8, false, true, 0.2}}) {
    const int C = k.NH * k.hd, KV = k.NKV * k.hd, W = C + 2 * KV, G = k.NH / k.NKV;
    const auto qkv = randvec(int64_t(k.B) * k.T * W, rng, -2.0, 2.0);
    const auto mask = make_mask(k);
    View1<double> out("out", int64_t(k.B) * k.T * C), lse("lse", int64_t(k.B) * k.NH * k.T);
    tiled_attention_forward<double>(out, lse, to_view(qkv), to_view(mask), shape_of(k), k.p, RngKey{1, 2, 3, 4});
    const auto L = to_vec(lse);
    int fully_masked = 0;
    for (int b = 0; b < k.B; ++b)
      for (int h = 0; h < k.NH; ++h)
        for (int i = 0; i < k.T; ++i) {
          double mx = -1e300, z = 0;
          std::vector<double> s;
          for (int j = 0; j < k.T; ++j) {
            if ((k.causal && j > i) || mask[b * k.T + j] == 0) continue;
            double v = 0;
            for (int d = 0; d < k.hd; ++d)
              v += qkv[(b * k.T + i) * W + h * k.hd + d] * qkv[(b * k.T + j) * W + C + (h / G) * k.hd + d];
            s.push_back(v / std::sqrt(double(k.hd)));
            mx = std::max(mx, s.back());
          }
          const double got = L[(int64_t(b) * k.NH + h) * k.T + i];
          if (s.empty()) {
            EXPECT_EQ(got, std::numeric_limits<double>::max()) << "fully masked row b=" << b << " i=" << i;
            ++fully_masked;
            continue;
          }
          for (double v : s) z += std::exp(v - mx);
          EXPECT_NEAR(got, mx + std::log(z), 1e-12) << tag(k) << " b=" << b << " h=" << h << " i=" << i;
        }
    EXPECT_GT(fully_masked, 0) << "the mask must produce fully masked rows";
  }
}

// Central differences of L = Σ w·out (tiled forward, double) against tiled_attention_backward, several tiles.
TEST(TiledAttention, GradcheckQKV) {
  std::mt19937 rng(34);
  for (const Case& k : {Case{1, 35, 2, 1, 3, true, false, 0.0}, Case{2, 34, 2, 2, 2, false, true, 0.0},
                        Case{1, 36, 4, 2, 2, true, true, 0.3}, Case{3, 33, 2, 2, 2, false, true, 0.2}}) {
    const int C = k.NH * k.hd, W = C + 2 * k.NKV * k.hd;
    const int64_t nqkv = int64_t(k.B) * k.T * W, nout = int64_t(k.B) * k.T * C, nrow = int64_t(k.B) * k.NH * k.T;
    auto qkv = randvec(nqkv, rng, -1.5, 1.5);
    const auto w = randvec(nout, rng), g0 = randvec(nqkv, rng);
    const auto mask = make_mask(k);
    const auto mv = to_view(mask);
    const AttentionShape shape = shape_of(k);
    const RngKey key{8, 2, 1, 4};
    View1<double> out("out", nout), lse("lse", nrow), delta("delta", nrow);
    auto loss = [&] {
      tiled_attention_forward<double>(out, lse, to_view(qkv), mv, shape, k.p, key);
      return dot(to_vec(out), w);
    };
    loss();
    auto dqkv = to_view(g0);
    tiled_attention_backward<double>(dqkv, delta, to_view(w), to_view(qkv), out, lse, mv, shape, k.p, key);
    expect_grad_close(minus(to_vec(dqkv), g0), numeric_grad(qkv, loss), "tiled attention dqkv " + tag(k));
  }
}

// Generation prefill: chunks (40, then 3 single tokens, or one bidirectional chunk) through the tiled cached
// kernel equal attention_forward_cached, and the caches get the same rows.
TEST(TiledAttention, CachedPrefillMatchesRowKernel) {
  std::mt19937 rng(35);
  struct CacheCase { int B, NH, NKV, hd; bool padding; };
  for (const CacheCase& k : {CacheCase{2, 4, 2, 8, false}, CacheCase{2, 3, 3, 4, true}, CacheCase{1, 4, 1, 8, false}}) {
    const int T = 43, T_max = 47, C = k.NH * k.hd, KV = k.NKV * k.hd, W = C + 2 * KV;
    const auto qkv = randvec(int64_t(k.B) * T * W, rng, -1.5, 1.5);
    std::vector<int32_t> mask_max;
    if (k.padding) {
      mask_max.assign(int64_t(k.B) * T_max, 1);
      mask_max[3] = 0;
      mask_max[T_max + 40] = 0;
    }
    for (bool causal : {true, false}) {
      const std::vector<int> chunks = causal ? std::vector<int>{40, 1, 1, 1} : std::vector<int>{T};
      View1<double> kr("kr", int64_t(k.B) * k.NKV * T_max * k.hd), vr("vr", kr.extent(0)), kt("kt", kr.extent(0)),
          vt("vt", kr.extent(0));
      int pos0 = 0;
      for (int tn : chunks) {
        std::vector<double> part(int64_t(k.B) * tn * W);
        for (int b = 0; b < k.B; ++b)
          for (int t = 0; t < tn; ++t)
            for (int c = 0; c < W; ++c) part[(int64_t(b) * tn + t) * W + c] = qkv[(int64_t(b) * T + pos0 + t) * W + c];
        View1<double> yr("yr", int64_t(k.B) * tn * C), yt("yt", yr.extent(0));
        attention_forward_cached<double>(yr, to_view(part), kr, vr, to_view(mask_max), k.B, tn, pos0, T_max, k.NH,
                                         k.NKV, k.hd, causal);
        tiled_attention_forward_cached<double>(yt, to_view(part), kt, vt, to_view(mask_max), k.B, tn, pos0, T_max,
                                               k.NH, k.NKV, k.hd, causal);
        expect_close(to_vec(yt), to_vec(yr), 1e-12,
                     "cached NH=" + std::to_string(k.NH) + " NKV=" + std::to_string(k.NKV) +
                         (causal ? " causal" : "") + " pos0=" + std::to_string(pos0));
        pos0 += tn;
      }
      EXPECT_EQ(to_vec(kt), to_vec(kr));
      EXPECT_EQ(to_vec(vt), to_vec(vr));
    }
  }
}

// ---- Whole models: model.attention = tiled gives the loss and gradients of materialized (fp32).

namespace {

constexpr int kB = 3, kT = 37;

TransformerConfig tiny(Family f, HeadKind head) {
  tessera_test::TinySizes z;
  z.embd = 32;
  z.inner = 48;
  z.positions = 48;
  z.vocab = 29;
  z.labels = head == HeadKind::SequenceClassification ? 3 : 0;
  TransformerConfig c = tessera_test::tiny_transformer_config(f, head, z);
  c.embd_pdrop = c.attn_pdrop = c.resid_pdrop = 0.1;
  return c;
}

struct Run {
  float loss = 0;
  size_t activation_bytes = 0;
  std::vector<float> grads;
  std::vector<std::pair<std::string, std::pair<size_t, size_t>>> tensors;  // name, (offset, numel)
};

Run run_model(TransformerConfig c, AttentionKind kind, bool padded) {
  c.attention = kind;
  Transformer<float> model(c);
  model.init_weights(2026);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> tok(2, c.vocab_size - 1), lab(0, std::max(1, c.num_labels) - 1);
  std::vector<int32_t> tokens, types, mask, labels;
  for (int s = 0; s < kB; ++s)
    for (int t = 0; t < kT; ++t) {
      const bool real = !padded || t < kT - 9 * s;  // sample s: 9·s right-padding tokens
      tokens.push_back(real ? tok(rng) : 1);
      types.push_back(c.type_vocab_size > 1 && t >= 11 ? 1 : 0);
      mask.push_back(real ? 1 : 0);
    }
  if (c.head == HeadKind::CausalLM)
    for (int i = 0; i < kB * kT; ++i) labels.push_back(mask[i] ? tok(rng) : kIgnoreIndex);
  else
    for (int s = 0; s < kB; ++s) labels.push_back(lab(rng));
  ModelInputs in;
  in.tokens = tokens.data();
  in.token_types = c.type_vocab_size > 0 ? types.data() : nullptr;
  in.attention_mask = padded ? mask.data() : nullptr;
  in.labels = labels.data();
  ForwardOptions opt;
  opt.training = true;
  opt.seed = 11;
  opt.step = 3;
  model.params().zero_grads();
  Run r;
  r.loss = model.forward(in, kB, kT, opt);
  model.backward(1.0f);
  r.grads = to_vec(model.params().grads());
  r.activation_bytes = model.activation_bytes();
  for (const ParamInfo& info : model.params().infos()) r.tensors.push_back({info.name, {info.offset, info.numel}});
  return r;
}

void expect_same_model(const TransformerConfig& c, bool padded) {
  const Run m = run_model(c, AttentionKind::Materialized, padded), t = run_model(c, AttentionKind::Tiled, padded);
  const std::string what = std::string(family_name(c.family)) + "/" + head_name(c.head) + (padded ? " padded" : "");
  ASSERT_TRUE(std::isfinite(m.loss)) << what;
  // The tiled model really ran without the [L,B,NH,T,T] probability buffers (and their dropout copy).
  const size_t probs = size_t(2) * c.n_layer * kB * c.n_head * kT * kT * sizeof(float);
  EXPECT_LE(t.activation_bytes + probs, m.activation_bytes) << what;
  EXPECT_LE(std::abs(t.loss - m.loss), 1e-5 * std::abs(m.loss)) << what << ": loss " << t.loss << " vs " << m.loss;
  // Per tensor ‖a − b‖ ≤ 1e-5·max(‖b‖, ‖g‖·√(numel/total)): the floor (the tensor's share of the whole gradient
  // g at its RMS) is for gradients that are zero in exact arithmetic and roundoff in both paths, such as the key
  // bias (softmax ignores a constant added to every score of a row).
  double all = 0;
  for (float v : m.grads) all += double(v) * double(v);
  all = std::sqrt(all);
  double worst = 0;
  for (const auto& [name, span] : m.tensors) {
    const std::vector<float> a(t.grads.begin() + span.first, t.grads.begin() + span.first + span.second),
        b(m.grads.begin() + span.first, m.grads.begin() + span.first + span.second);
    double diff = 0, nb = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      diff += double(a[i] - b[i]) * double(a[i] - b[i]);
      nb += double(b[i]) * double(b[i]);
    }
    const double ref = std::max(std::sqrt(nb), all * std::sqrt(double(span.second) / double(m.grads.size())));
    const double rel = std::sqrt(diff) / ref;
    worst = std::max(worst, rel);
    EXPECT_LE(rel, 1e-5) << what << " gradient of " << name;
  }
  std::printf("%s: loss %.7f vs %.7f, worst per-tensor gradient rel diff %.2e\n", what.c_str(), t.loss, m.loss, worst);
}

}  // namespace

TEST(TiledAttention, WholeModelGpt2SameLossAndGradients) {
  expect_same_model(tiny(Family::GPT2, HeadKind::CausalLM), false);
  expect_same_model(tiny(Family::GPT2, HeadKind::CausalLM), true);
}

TEST(TiledAttention, WholeModelBertSameLossAndGradients) {
  expect_same_model(tiny(Family::BERT, HeadKind::SequenceClassification), true);
}

TEST(TiledAttention, WholeModelLlamaSameLossAndGradients) {
  expect_same_model(tiny(Family::Llama, HeadKind::CausalLM), true);
}

// forward_decode over a 37-token prompt (the tiled prefill), then two single tokens: the same logits.
TEST(TiledAttention, GenerationPrefillSameLogits) {
  for (Family f : {Family::GPT2, Family::Llama}) {
    std::vector<std::vector<float>> logits[2];
    for (int kind = 0; kind < 2; ++kind) {
      TransformerConfig c = tiny(f, HeadKind::CausalLM);
      c.attention = kind ? AttentionKind::Tiled : AttentionKind::Materialized;
      Transformer<float> model(c);
      model.init_weights(99);
      std::vector<int32_t> prompt;
      for (int t = 0; t < kT; ++t) prompt.push_back(2 + (t * 7) % (c.vocab_size - 2));
      model.begin_decode(1, kT + 2);
      model.forward_decode(prompt.data(), 1, kT, 0);
      logits[kind].push_back(to_vec(model.logits()));
      for (int s = 0; s < 2; ++s) {
        const int32_t next = 3 + s;
        model.forward_decode(&next, 1, 1, kT + s);
        logits[kind].push_back(to_vec(model.logits()));
      }
    }
    for (size_t s = 0; s < logits[0].size(); ++s) {
      const size_t n = std::min(logits[0][s].size(), logits[1][s].size());
      expect_close(std::vector<float>(logits[1][s].begin(), logits[1][s].begin() + n),
                   std::vector<float>(logits[0][s].begin(), logits[0][s].begin() + n), 1e-5,
                   std::string(family_name(f)) + " decode call " + std::to_string(s));
    }
  }
}

TEST(TiledAttention, ConfigKey) {
  const RunConfig t = parse_run_config("[model]\nattention = \"tiled\"\n[data]\npath = \"d.h5\"\n", "t.toml");
  EXPECT_EQ(t.model.transformer.attention, AttentionKind::Tiled);
  const RunConfig m = parse_run_config("[data]\npath = \"d.h5\"\n", "m.toml");
  EXPECT_EQ(m.model.transformer.attention, AttentionKind::Materialized);
  EXPECT_NE(to_toml(t).find("attention = \"tiled\""), std::string::npos) << to_toml(t);
  EXPECT_EQ(parse_run_config(to_toml(t), "again.toml").model.transformer.attention, AttentionKind::Tiled);
  try {
    parse_run_config("[model]\nattention = \"flash\"\n[data]\npath = \"d.h5\"\n", "bad.toml");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("model.attention"), std::string::npos) << msg;
    EXPECT_NE(msg.find("bad.toml"), std::string::npos) << msg;
    EXPECT_NE(msg.find("\"tiled\""), std::string::npos) << msg;
  }
}
