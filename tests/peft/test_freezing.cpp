// Freezing (train.freeze*, docs/peft.md) in the model: a model with frozen
// parameters has a gradient slab and AdamW state covering only the trainable
// tensors, empty gradients for the frozen ones, and the trainable gradients of
// one forward/backward equal bit for bit those of the same model with nothing
// frozen (freezing skips work, never changes it) — GPT-2 (tied head), Llama
// (RMSNorm, untied head), BERT (post-norm, token types, pooler, classifier).
#include <gtest/gtest.h>
#include <cstring>
#include <random>
#include <vector>
#include "src/config/run_config.hpp"
#include "src/model/transformer.hpp"
#include "src/train/adamw_optimizer.hpp"
#include "src/train/freezing.hpp"

using namespace tessera;

namespace {

constexpr int kB = 2, kT = 6;

TransformerConfig tiny(Family f, HeadKind head) {
  TransformerConfig c;
  c.family = f;
  c.head = head;
  c.n_layer = 3;
  c.n_head = 2;
  c.n_embd = 16;
  c.n_inner = 24;
  c.n_positions = 12;
  c.vocab_size = 19;
  c.num_labels = 3;
  if (f == Family::BERT) c.type_vocab_size = 2;
  if (f == Family::Llama) c.tie_word_embeddings = false;
  apply_family_defaults(c);
  return c;
}

void set_noisy_values(Transformer<double>& m, uint64_t seed) {
  m.init_weights(seed);
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m.params().values());
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 0.1);
  for (size_t i = 0; i < h.extent(0); ++i) h(i) += noise(rng);
  Kokkos::deep_copy(m.params().values(), h);
}

void copy_values_by_name(const Transformer<double>& from, Transformer<double>& to) {
  for (size_t i = 0; i < to.params().infos().size(); ++i)
    Kokkos::deep_copy(to.params().value(i), from.params().value(to.params().info(i).name));
}

double run_backward(Transformer<double>& m, const TransformerConfig& c) {
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<int32_t> tok(1, c.vocab_size - 1), lab(0, c.num_labels - 1);
  std::vector<int32_t> tokens(kB * kT), types(kB * kT, 0), labels;
  for (auto& t : tokens) t = tok(rng);
  if (c.head == HeadKind::CausalLM) for (int i = 0; i < kB * kT; ++i) labels.push_back(tok(rng));
  else for (int i = 0; i < kB; ++i) labels.push_back(lab(rng));
  if (c.type_vocab_size > 1) for (int i = 0; i < kB * kT; i += 2) types[i] = 1;
  ModelInputs in;
  in.tokens = tokens.data();
  in.token_types = c.type_vocab_size > 0 ? types.data() : nullptr;
  in.labels = labels.data();
  m.params().zero_grads();
  const double loss = m.forward(in, kB, kT, ForwardOptions{});
  m.backward(1.0);
  return loss;
}

struct Case {
  Family family;
  HeadKind head;
};

class Freezing : public ::testing::TestWithParam<Case> {};

TEST_P(Freezing, FrozenTensorsHaveNoGradientAndTrainableGradientsAreUnchanged) {
  const TransformerConfig c = tiny(GetParam().family, GetParam().head);
  TrainSection train;
  train.freeze_embeddings = true;
  train.freeze_blocks = 1;
  train.freeze = {"*.2.*norm*", "*.2.*LayerNorm*"};
  Transformer<double> full(c), frozen(c, ModelParallel{}, frozen_filter(train, c));
  set_noisy_values(full, 11);
  copy_values_by_name(full, frozen);

  size_t trainable = 0, n_frozen = 0;
  for (size_t i = 0; i < frozen.params().infos().size(); ++i) {
    const ParamInfo& info = frozen.params().info(i);
    const bool expect_frozen = is_embedding_parameter(c, info.name) || parameter_block(c, info.name) == 0 ||
                               matches_glob(train.freeze[0], info.name) || matches_glob(train.freeze[1], info.name);
    EXPECT_EQ(info.trainable, !expect_frozen) << info.name;
    if (info.trainable) trainable += info.numel;
    else ++n_frozen;
  }
  EXPECT_GT(n_frozen, 8u);
  EXPECT_EQ(frozen.params().trainable_numel(), trainable);
  EXPECT_EQ(frozen.params().grads().extent(0), trainable);  // no gradient buffer for frozen tensors
  EXPECT_LT(trainable, full.params().numel() * 3 / 4);
  EXPECT_EQ(AdamWOptimizer<double>(frozen.params(), AdamWSettings{}).state_bytes(), 2 * trainable * sizeof(double));
  EXPECT_EQ(AdamWOptimizer<double>(full.params(), AdamWSettings{}).state_bytes(),
            2 * full.params().numel() * sizeof(double));

  const double lf = run_backward(full, c), lz = run_backward(frozen, c);
  EXPECT_EQ(std::memcmp(&lf, &lz, sizeof lf), 0) << "forward differs";
  for (size_t i = 0; i < frozen.params().infos().size(); ++i) {
    const ParamInfo& info = frozen.params().info(i);
    if (!info.trainable) {
      EXPECT_EQ(frozen.params().grad(i).extent(0), 0u) << info.name;
      continue;
    }
    auto a = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), frozen.params().grad(i));
    auto b = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), full.params().grad(info.name));
    ASSERT_EQ(a.extent(0), b.extent(0)) << info.name;
    double norm = 0;
    for (size_t k = 0; k < a.extent(0); ++k) norm += b(k) * b(k);
    EXPECT_GT(norm, 0) << info.name << ": gradient is zero (the test would prove nothing)";
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.extent(0) * sizeof(double)), 0) << info.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, Freezing,
                         ::testing::Values(Case{Family::GPT2, HeadKind::CausalLM},
                                           Case{Family::Llama, HeadKind::CausalLM},
                                           Case{Family::BERT, HeadKind::SequenceClassification}));

TEST(FreezingFilter, BlocksBeyondTheModelAreAnError) {
  const TransformerConfig c = tiny(Family::GPT2, HeadKind::CausalLM);
  TrainSection train;
  train.freeze_blocks = 4;
  try {
    frozen_filter(train, c);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("train.freeze_blocks"), std::string::npos) << e.what();
  }
}

}  // namespace
