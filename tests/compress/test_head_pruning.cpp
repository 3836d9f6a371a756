// Attention-head gates and pruning (src/compress/head_pruning.hpp, Michel et al. 2019).
//  * ∂L/∂ξ from backward equals central finite differences of the loss w.r.t. each
//    gate (Transformer<double>, ξ away from 1, every head of every layer) for GPT-2
//    (fused c_attn), BERT (post-norm, sequence classification) and Llama (GQA);
//  * gates = 1 give bitwise the ungated logits and gradients;
//  * a model whose heads are pruned by head_masks (q/k/v rows and o_proj columns
//    zeroed) gives the logits of an independent reference: the same model with only
//    those heads' o_proj columns zeroed by hand, and of gates ξ = 0 on those heads;
//    for GQA the kv head of a fully pruned group is zeroed, a shared one is not;
//  * importance ranks and per-layer normalisation; bad specs name the key.
#include <gtest/gtest.h>
#include "tiny_transformer_config.hpp"
#include <cmath>
#include <random>
#include <vector>
#include "src/compress/head_pruning.hpp"
#include "src/runtime/error.hpp"

using namespace tessera;

namespace {

constexpr int kB = 2, kT = 6;

TransformerConfig tiny(Family f, HeadKind head) { return tessera_test::tiny_transformer_config(f, head); }

void randomize(Transformer<double>& model, uint64_t seed) {
  model.init_weights(seed);
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.params().values());
  std::mt19937_64 rng(seed + 1000);
  std::normal_distribution<double> noise(0.0, 0.1);
  for (size_t i = 0; i < h.extent(0); ++i) h(i) += noise(rng);
  Kokkos::deep_copy(model.params().values(), h);
}

MicroBatch make_batch(const TransformerConfig& c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> tok(2, c.vocab_size - 1), lab(0, c.num_labels - 1);
  MicroBatch b;
  b.B = kB;
  b.T = kT;
  for (int i = 0; i < kB * kT; ++i) b.tokens.push_back(tok(rng));
  if (c.head == HeadKind::CausalLM)
    for (int i = 0; i < kB * kT; ++i) b.labels.push_back(tok(rng));
  else
    for (int s = 0; s < kB; ++s) b.labels.push_back(lab(rng));
  return b;
}

std::vector<double> host(const View1<double>& v) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<double>(h.data(), h.data() + h.extent(0));
}

double loss_at(Transformer<double>& m, const MicroBatch& b, const std::vector<double>& gates) {
  m.set_head_gates(gates);
  return double(m.forward(b.inputs(), b.B, b.T, ForwardOptions{}));
}

void check_gate_gradients(Family f, HeadKind head) {
  const TransformerConfig c = tiny(f, head);
  Transformer<double> m(c);
  randomize(m, 11);
  const MicroBatch b = make_batch(c, 5);
  const size_t n = size_t(c.n_layer * c.n_head);
  std::vector<double> gates(n);
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0.6, 1.4);
  for (double& g : gates) g = u(rng);
  m.set_head_gates(gates);
  m.set_head_gate_grad(true);
  m.zero_head_gate_grad();
  m.forward(b.inputs(), b.B, b.T, ForwardOptions{});
  m.backward(1.0);
  const std::vector<double> analytic = m.head_gate_grad();
  m.set_head_gate_grad(false);
  const double h = 1e-5;
  int nonzero = 0;
  for (size_t i = 0; i < n; ++i) {
    std::vector<double> gp = gates, gm = gates;
    gp[i] += h;
    gm[i] -= h;
    const double fd = (loss_at(m, b, gp) - loss_at(m, b, gm)) / (2 * h);
    EXPECT_NEAR(analytic[i], fd, 1e-7 + 1e-6 * std::fabs(fd)) << family_name(f) << " gate " << i;
    nonzero += std::fabs(fd) > 1e-6;
  }
  EXPECT_GE(nonzero, int(n) - 1) << "gradients should not vanish";
}

// Logits with the given gates set (empty = none) on a copy of `values`.
std::vector<double> logits_of(Transformer<double>& m, const MicroBatch& b, const std::vector<double>& values,
                              const std::vector<double>& gates) {
  auto hv = Kokkos::create_mirror_view(m.params().values());
  for (size_t i = 0; i < values.size(); ++i) hv(i) = values[i];
  Kokkos::deep_copy(m.params().values(), hv);
  m.set_head_gates(gates);
  MicroBatch nb = b;
  nb.labels.clear();
  m.forward(nb.inputs(), nb.B, nb.T, ForwardOptions{});
  m.set_head_gates({});
  return host(m.logits());
}

void check_masks_match_reference(Family f, HeadKind head, const std::string& spec) {
  const TransformerConfig c = tiny(f, head);
  Transformer<double> m(c);
  randomize(m, 21);
  const MicroBatch b = make_batch(c, 8);
  const std::vector<double> base = host(m.params().values());
  const HeadLists heads = parse_prune_heads(spec, c.n_layer, c.n_head, "test");
  // Pruned by head_masks: every masked element zeroed.
  std::vector<double> masked = base;
  for (const auto& [name, mk] : head_masks(c, heads)) {
    const ParamInfo& info = m.params().info(name);
    ASSERT_EQ(mk.size(), info.numel) << name;
    for (size_t i = 0; i < mk.size(); ++i)
      if (!mk[i]) masked[info.offset + i] = 0;
  }
  // Reference: only the pruned heads' o_proj columns zeroed, written out here.
  const int64_t C = c.n_embd, hd = c.head_dim(), NH = c.n_head;
  std::vector<double> ref = base;
  std::vector<double> gates(size_t(c.n_layer * NH), 1.0);
  const char* o = f == Family::GPT2 ? "attn.c_proj" : f == Family::Llama ? "self_attn.o_proj" : "attention.output.dense";
  const char* prefix = f == Family::GPT2 ? "h." : f == Family::Llama ? "layers." : "encoder.layer.";
  for (int l = 0; l < c.n_layer; ++l)
    for (int h : heads[size_t(l)]) {
      gates[size_t(l * NH + h)] = 0;
      const ParamInfo& info = m.params().info(std::string(prefix) + std::to_string(l) + "." + o + ".weight");
      for (int64_t r = 0; r < C; ++r)
        for (int64_t j = 0; j < hd; ++j) ref[info.offset + size_t(r * NH * hd + h * hd + j)] = 0;
    }
  const std::vector<double> a = logits_of(m, b, masked, {}), r = logits_of(m, b, ref, {}),
                            g = logits_of(m, b, base, gates), full = logits_of(m, b, base, {});
  ASSERT_EQ(a.size(), r.size());
  double diff_full = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(a[i], r[i], 1e-12) << i;
    EXPECT_NEAR(g[i], r[i], 1e-12) << i;
    diff_full = std::max(diff_full, std::fabs(a[i] - full[i]));
  }
  EXPECT_GT(diff_full, 1e-4) << "pruning must change the logits";
}

}  // namespace

TEST(HeadPruning, GateGradientEqualsFiniteDifferencesGPT2) { check_gate_gradients(Family::GPT2, HeadKind::CausalLM); }
TEST(HeadPruning, GateGradientEqualsFiniteDifferencesBERT) {
  check_gate_gradients(Family::BERT, HeadKind::SequenceClassification);
}
TEST(HeadPruning, GateGradientEqualsFiniteDifferencesLlamaGQA) {
  check_gate_gradients(Family::Llama, HeadKind::CausalLM);
}

TEST(HeadPruning, UnitGatesAreBitwiseTheUngatedModel) {
  for (Family f : {Family::GPT2, Family::Llama}) {
    const TransformerConfig c = tiny(f, HeadKind::CausalLM);
    Transformer<double> m(c);
    randomize(m, 4);
    const MicroBatch b = make_batch(c, 9);
    auto run = [&](bool gated) {
      m.set_head_gates(gated ? std::vector<double>(size_t(c.n_layer * c.n_head), 1.0) : std::vector<double>{});
      m.params().zero_grads();
      const double loss = m.forward(b.inputs(), b.B, b.T, ForwardOptions{});
      std::vector<double> out = host(m.logits());
      m.backward(1.0);
      std::vector<double> g = host(m.params().grads());
      out.push_back(loss);
      out.insert(out.end(), g.begin(), g.end());
      return out;
    };
    const std::vector<double> plain = run(false), gated = run(true);
    ASSERT_EQ(plain.size(), gated.size());
    for (size_t i = 0; i < plain.size(); ++i) ASSERT_EQ(plain[i], gated[i]) << family_name(f) << " element " << i;
    m.set_head_gates({});
  }
}

TEST(HeadPruning, MaskedHeadsEqualHandZeroedOutputColumns) {
  check_masks_match_reference(Family::GPT2, HeadKind::CausalLM, "0:1,3;1:0");
  check_masks_match_reference(Family::BERT, HeadKind::SequenceClassification, "1:2");
  check_masks_match_reference(Family::Llama, HeadKind::CausalLM, "0:0,1;1:3");
}

TEST(HeadPruning, GqaPrunesAKvHeadOnlyWithItsWholeGroup) {
  const TransformerConfig c = tiny(Family::Llama, HeadKind::CausalLM);  // 4 query heads, 2 kv heads (groups {0,1}, {2,3})
  const auto masks = head_masks(c, parse_prune_heads("0:0,1;1:3", c.n_layer, c.n_head, "k"));
  const int64_t C = 16, hd = 4;
  auto zero_rows = [&](const std::string& name, int64_t rows) {
    const auto& m = masks.at(name);
    std::vector<int> z;
    for (int64_t r = 0; r < rows; ++r) z.push_back(m[size_t(r * C)] == 0);
    return z;
  };
  EXPECT_EQ(zero_rows("layers.0.self_attn.q_proj.weight", 16),
            (std::vector<int>{1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(zero_rows("layers.0.self_attn.k_proj.weight", 8), (std::vector<int>{1, 1, 1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(zero_rows("layers.0.self_attn.v_proj.weight", 8), (std::vector<int>{1, 1, 1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(masks.count("layers.1.self_attn.k_proj.weight"), 0u) << "kv head 1 still serves query head 2";
  EXPECT_EQ(zero_rows("layers.1.self_attn.q_proj.weight", 16)[12], 1);
  EXPECT_EQ(zero_rows("layers.1.self_attn.q_proj.weight", 16)[11], 0);
  (void)hd;
}

TEST(HeadPruning, ImportanceSelectsAndNormalises) {
  const std::vector<double> imp = {3, 4, 0, 1,  0, 0, 0, 0};
  const std::vector<double> nrm = normalize_head_importance(imp, 2, 4);
  EXPECT_NEAR(nrm[0], 3.0 / std::sqrt(26.0), 1e-15);
  EXPECT_EQ(nrm[4], 0.0);
  const HeadLists p = least_important_heads(imp, 2, 4, 2, "k");
  EXPECT_EQ(p[0], (std::vector<int>{2, 3}));
  EXPECT_EQ(p[1], (std::vector<int>{2, 3})) << "ties keep the lower index";
  EXPECT_EQ(format_prune_heads(p), "0:2,3;1:2,3");
  EXPECT_EQ(format_prune_heads(parse_prune_heads(" 1 : 3 , 0 ; 0:2,2", 2, 4, "k")), "0:2;1:0,3");
  // Importance from a real backward: a head whose o_proj columns are zero has ∂L/∂ξ = 0.
  const TransformerConfig c = tiny(Family::GPT2, HeadKind::CausalLM);
  Transformer<double> m(c);
  randomize(m, 2);
  std::vector<double> v = host(m.params().values());
  const ParamInfo& o = m.params().info("h.1.attn.c_proj.weight");
  for (int64_t r = 0; r < 16; ++r)
    for (int j = 0; j < 4; ++j) v[o.offset + size_t(r * 16 + 2 * 4 + j)] = 0;
  auto hv = Kokkos::create_mirror_view(m.params().values());
  for (size_t i = 0; i < v.size(); ++i) hv(i) = v[i];
  Kokkos::deep_copy(m.params().values(), hv);
  int calls = 0;
  const std::vector<double> im = head_importance<double>(m, [&](MicroBatch& mb) {
    if (calls == 2) return false;
    mb = make_batch(c, uint64_t(40 + calls++));
    return true;
  }, MPI_COMM_NULL);
  EXPECT_EQ(im[6], 0.0);
  for (size_t i = 0; i < im.size(); ++i)
    if (i != 6) EXPECT_GT(im[i], 0.0) << i;
  EXPECT_EQ(least_important_heads(im, 2, 4, 3, "k")[1], (std::vector<int>{2}));
  EXPECT_TRUE(m.head_gates().empty());
  for (double g : host(m.params().grads())) ASSERT_EQ(g, 0.0);
}

TEST(HeadPruning, BadSpecsNameTheKey) {
  auto msg = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string key = "run.toml: model.prune_heads";
  EXPECT_NE(msg([&] { parse_prune_heads("2:0", 2, 4, key); }).find(key + " = \"2:0\": layer 2 is outside [0, 2)"),
            std::string::npos);
  EXPECT_NE(msg([&] { parse_prune_heads("0:4", 2, 4, key); }).find("head 4 of layer 0 is outside [0, 4)"),
            std::string::npos);
  EXPECT_NE(msg([&] { parse_prune_heads("0:-1", 2, 4, key); }).find("head -1"), std::string::npos);
  EXPECT_NE(msg([&] { parse_prune_heads("0", 2, 4, key); }).find("is not layer:heads"), std::string::npos);
  EXPECT_NE(msg([&] { parse_prune_heads("0:x", 2, 4, key); }).find("'x' is not an index"), std::string::npos);
  EXPECT_NE(msg([&] { parse_prune_heads("0:", 2, 4, key); }).find("lists no heads"), std::string::npos);
  const std::vector<double> imp(8, 1.0);
  EXPECT_NE(msg([&] { least_important_heads(imp, 2, 4, 5, "model.heads_per_layer"); })
                .find("model.heads_per_layer = 5 is outside [1, 4]"),
            std::string::npos);
  EXPECT_NE(msg([&] { least_important_heads(imp, 2, 4, 0, "model.heads_per_layer"); })
                .find("model.heads_per_layer = 0 is outside [1, 4]"),
            std::string::npos);
}
