// LoRA in the model (double precision):
//  - gradients of every trainable tensor (adapters A and B, the task head) equal
//    4th-order central finite differences of the forward's loss, with LoRA dropout
//    on (the counter-RNG mask is a pure function of (seed, step, element)), for
//    GPT-2 (fused c_attn), Llama (q/k/v/o, gate/up/down) and BERT (query/value and
//    both output.dense);  rel = |a − n| / max(|a| + |n|, 1e-5) ≤ 1e-6;
//  - the base model is frozen (no gradient), B starts at 0 so the fresh adapter's
//    forward equals the base model's;
//  - merge_lora() gives the unmerged forward's logits (≤ 1e-12), unmerge_lora()
//    restores the base weights (≤ 1e-12);
//  - bad input: a target matching no layer and a rank larger than the layer are
//    errors naming them.
#include <gtest/gtest.h>
#include <cmath>
#include <random>
#include <vector>
#include "src/model/transformer.hpp"
#include "src/runtime/error.hpp"

using namespace tessera;

namespace {

constexpr int kB = 2, kT = 5;

TransformerConfig tiny(Family f, HeadKind head) {
  TransformerConfig c;
  c.family = f;
  c.head = head;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 8;
  c.n_inner = 12;
  c.n_positions = 8;
  c.vocab_size = 13;
  c.num_labels = 3;
  if (f == Family::BERT) c.type_vocab_size = 2;
  if (f == Family::Llama) c.tie_word_embeddings = false;
  apply_family_defaults(c);
  c.lora.r = 2;
  c.lora.alpha = 3;
  c.lora.dropout = 0.25;
  if (f == Family::GPT2) c.lora.targets = {"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"};
  if (f == Family::Llama) c.lora.targets = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  if (f == Family::BERT) c.lora.targets = {"query", "value", "output.dense"};
  return c;
}

struct Batch {
  std::vector<int32_t> tokens, types, labels;
  ModelInputs inputs(const TransformerConfig& c) const {
    ModelInputs in;
    in.tokens = tokens.data();
    in.token_types = c.type_vocab_size > 0 ? types.data() : nullptr;
    in.labels = labels.data();
    return in;
  }
};

Batch make_batch(const TransformerConfig& c) {
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int32_t> tok(1, c.vocab_size - 1), lab(0, c.num_labels - 1);
  Batch b;
  for (int i = 0; i < kB * kT; ++i) {
    b.tokens.push_back(tok(rng));
    b.types.push_back(i % 3 == 0 ? 1 : 0);
  }
  if (c.head == HeadKind::CausalLM) for (int i = 0; i < kB * kT; ++i) b.labels.push_back(tok(rng));
  else for (int i = 0; i < kB; ++i) b.labels.push_back(lab(rng));
  return b;
}

void add_noise(Transformer<double>& m, uint64_t seed) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m.params().values());
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 0.2);
  for (size_t i = 0; i < h.extent(0); ++i) h(i) += noise(rng);
  Kokkos::deep_copy(m.params().values(), h);
}

// A copy that does not alias (create_mirror_view on the host would return the view itself).
std::vector<double> snapshot(const View1<double>& v) {
  auto h = Kokkos::create_mirror(v);
  Kokkos::deep_copy(h, v);
  return std::vector<double>(h.data(), h.data() + h.extent(0));
}

ForwardOptions train_opts() {
  ForwardOptions o;
  o.training = true;
  o.seed = 99;
  o.step = 3;
  return o;
}

struct Case {
  Family family;
  HeadKind head;
};
class Lora : public ::testing::TestWithParam<Case> {};

TEST_P(Lora, GradientsMatchFiniteDifferencesAndBaseIsFrozen) {
  const TransformerConfig c = tiny(GetParam().family, GetParam().head);
  Transformer<double> m(c);
  m.init_weights(4);
  // Fresh adapters (B = 0): the forward equals the base model's.
  {
    TransformerConfig base_cfg = c;
    base_cfg.lora = LoraConfig{};
    Transformer<double> base(base_cfg);
    base.init_weights(4);
    const Batch b = make_batch(c);
    const double l0 = base.forward(b.inputs(c), kB, kT, ForwardOptions{});
    const double l1 = m.forward(b.inputs(c), kB, kT, ForwardOptions{});
    EXPECT_EQ(l0, l1) << "a fresh adapter (B = 0) must not change the forward";
  }
  add_noise(m, 8);
  const Batch b = make_batch(c);
  m.params().zero_grads();
  m.forward(b.inputs(c), kB, kT, train_opts());
  m.backward(1.0);
  auto values = m.params().values();
  auto loss_at = [&](size_t idx, double delta) {
    auto hv = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), values);
    const double keep = hv(idx);
    hv(idx) = keep + delta;
    Kokkos::deep_copy(values, hv);
    const double l = m.forward(b.inputs(c), kB, kT, train_opts());
    hv(idx) = keep;
    Kokkos::deep_copy(values, hv);
    return l;
  };
  std::mt19937_64 pick(1);
  int n_lora = 0, n_checked = 0;
  double worst = 0;
  for (size_t p = 0; p < m.params().infos().size(); ++p) {
    const ParamInfo& info = m.params().info(p);
    const bool lora = info.name.find(".lora_") != std::string::npos;
    const bool head = is_task_head_parameter(info.name);
    EXPECT_EQ(info.trainable, lora || head) << info.name;
    if (!info.trainable) continue;
    n_lora += lora ? 1 : 0;
    auto g = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m.params().grad(p));
    for (int k = 0; k < 4; ++k) {
      const size_t e = std::uniform_int_distribution<size_t>(0, info.numel - 1)(pick);
      const double h = 3e-4;
      const size_t idx = info.offset + e;
      const double num = (8 * (loss_at(idx, h) - loss_at(idx, -h)) - (loss_at(idx, 2 * h) - loss_at(idx, -2 * h))) /
                         (12 * h);
      const double rel = std::abs(g(e) - num) / std::max(std::abs(g(e)) + std::abs(num), 1e-5);
      worst = std::max(worst, rel);
      EXPECT_LE(rel, 1e-6) << info.name << "[" << e << "]: analytic " << g(e) << " numeric " << num;
      ++n_checked;
    }
  }
  EXPECT_GE(n_lora, 2 * 2 * int(c.lora.targets.size()));
  std::printf("[lora %s] %d elements, worst rel %.3g\n", family_name(c.family), n_checked, worst);
}

TEST_P(Lora, MergedForwardEqualsUnmergedAndUnmergeRestores) {
  const TransformerConfig c = tiny(GetParam().family, GetParam().head);
  Transformer<double> m(c);
  m.init_weights(4);
  add_noise(m, 9);
  const Batch b = make_batch(c);
  m.forward(b.inputs(c), kB, kT, ForwardOptions{});
  const std::vector<double> before = snapshot(m.logits());
  const std::vector<double> w0 = snapshot(m.params().values());
  m.merge_lora();
  m.forward(b.inputs(c), kB, kT, ForwardOptions{});
  const std::vector<double> after = snapshot(m.logits());
  double diff = 0, changed = 0;
  for (size_t i = 0; i < before.size(); ++i) diff = std::max(diff, std::abs(before[i] - after[i]));
  EXPECT_LE(diff, 1e-12);
  const std::vector<double> wm = snapshot(m.params().values());
  for (size_t i = 0; i < wm.size(); ++i) changed = std::max(changed, std::abs(wm[i] - w0[i]));
  EXPECT_GT(changed, 1e-3) << "merge did not change the base weights";
  m.unmerge_lora();
  const std::vector<double> w1 = snapshot(m.params().values());
  double back = 0;
  for (size_t i = 0; i < w1.size(); ++i) back = std::max(back, std::abs(w1[i] - w0[i]));
  EXPECT_LE(back, 1e-12);
}

INSTANTIATE_TEST_SUITE_P(Families, Lora,
                         ::testing::Values(Case{Family::GPT2, HeadKind::CausalLM},
                                           Case{Family::Llama, HeadKind::CausalLM},
                                           Case{Family::BERT, HeadKind::SequenceClassification}));

void expect_error(const TransformerConfig& c, const std::string& needle) {
  try {
    Transformer<double> m(c);
    FAIL() << "no error for " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(LoraBadInput, TargetMatchingNothingAndRankTooLarge) {
  TransformerConfig c = tiny(Family::Llama, HeadKind::CausalLM);
  c.lora.targets = {"q_proj", "qproj"};
  expect_error(c, "lora.targets: 'qproj' matches no linear layer");
  c = tiny(Family::GPT2, HeadKind::CausalLM);
  c.lora.r = 9;  // c_attn is [24 × 8]
  expect_error(c, "lora.r = 9 is larger than layer h.0.attn.c_attn [24 × 8]");
}

}  // namespace
