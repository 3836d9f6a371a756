// Activation recomputation (train.recompute) gives the stored-activation gradients BIT FOR BIT:
// for every family (GPT-2, BERT, RoBERTa, Llama with RoPE and GQA) × head (causal LM, sequence
// classification, token classification, QA), with every dropout on (embedding, attention,
// residual, classifier, LoRA), a key padding mask, LoRA adapters on or off, materialized or tiled
// attention, two accumulated micro-steps (different dropout keys), the fp32 gradients of
// recompute = full and = selective equal those of recompute = none element by element, and so do
// the losses. Three blocks, so two of them are recomputed (the last block's buffers are still
// the forward's). The kept buffers must really shrink: full and (materialized) selective hold
// fewer activation bytes than none; with tiled attention selective is a no-op (same bytes).
#include <gtest/gtest.h>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>
#include "src/model/transformer.hpp"
#include "tiny_transformer_config.hpp"

using namespace tessera;
using tessera_test::tiny_transformer_config;

namespace {

constexpr int kB = 2, kT = 7;

struct Case {
  Family family;
  HeadKind head;
  bool lora;
  AttentionKind attention;
  bool gates = false;  // attention-head gates with their gradient
};

TransformerConfig config_of(const Case& k) {
  tessera_test::TinySizes z;
  z.layers = 3;
  TransformerConfig c = tiny_transformer_config(k.family, k.head, z);
  c.embd_pdrop = 0.1;
  c.attn_pdrop = 0.2;
  c.resid_pdrop = 0.15;
  c.classifier_pdrop = 0.1;
  c.attention = k.attention;
  if (k.lora) {
    c.lora.r = 2;
    c.lora.alpha = 4;
    c.lora.dropout = 0.2;
    if (k.family == Family::GPT2) c.lora.targets = {"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"};
    if (k.family == Family::Llama)
      c.lora.targets = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
    if (c.is_encoder()) c.lora.targets = {"query", "key", "value", "output.dense", "intermediate.dense"};
  }
  return c;
}

struct Batch {
  std::vector<int32_t> tokens, types, mask, labels;
  ModelInputs inputs(const TransformerConfig& c) const {
    ModelInputs in;
    in.tokens = tokens.data();
    in.token_types = c.type_vocab_size > 0 ? types.data() : nullptr;
    in.attention_mask = mask.data();
    in.labels = labels.data();
    return in;
  }
};

Batch make_batch(const TransformerConfig& c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> tok(1, c.vocab_size - 1), lab(0, c.num_labels - 1), pos(0, kT - 3);
  Batch b;
  for (int i = 0; i < kB * kT; ++i) {
    b.tokens.push_back(tok(rng));
    b.types.push_back(i % kT >= 4 ? 1 : 0);
    b.mask.push_back(i >= kT && i % kT >= kT - 2 ? 0 : 1);  // sample 1: the last two positions are padding
  }
  switch (c.head) {
    case HeadKind::CausalLM:
    case HeadKind::TokenClassification:
      for (int i = 0; i < kB * kT; ++i)
        b.labels.push_back(c.head == HeadKind::CausalLM ? tok(rng) : (b.mask[size_t(i)] ? lab(rng) : -100));
      break;
    case HeadKind::SequenceClassification:
      for (int i = 0; i < kB; ++i) b.labels.push_back(lab(rng));
      break;
    case HeadKind::QuestionAnswering:
      for (int i = 0; i < kB; ++i) {
        const int32_t s = pos(rng);
        b.labels.push_back(s);
        b.labels.push_back(s + 1);
      }
      break;
    case HeadKind::None: break;
  }
  return b;
}

std::vector<float> snapshot(const View1<float>& v) {
  auto h = Kokkos::create_mirror(v);
  Kokkos::deep_copy(h, v);
  return std::vector<float>(h.data(), h.data() + h.extent(0));
}

struct Result {
  std::vector<float> grads;
  std::vector<double> losses, gate_grads;
  size_t activation_bytes = 0;
};

Result train_two_micro_steps(const Case& k, RecomputeKind mode) {
  TransformerConfig c = config_of(k);
  c.recompute = mode;
  Transformer<float> m(c);
  m.init_weights(21);
  {  // perturb every value (LoRA B away from 0, norms away from 1) with the same noise in every run
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m.params().values());
    std::mt19937_64 rng(3);
    std::normal_distribution<float> noise(0.0f, 0.1f);
    for (size_t i = 0; i < h.extent(0); ++i) h(i) += noise(rng);
    Kokkos::deep_copy(m.params().values(), h);
  }
  if (k.gates) {
    std::vector<double> g(size_t(c.n_layer * c.n_head));
    for (size_t i = 0; i < g.size(); ++i) g[i] = 0.5 + 0.1 * double(i % 7);
    m.set_head_gates(g);
    m.set_head_gate_grad(true);
    m.zero_head_gate_grad();
  }
  m.params().zero_grads();
  Result r;
  for (uint64_t step = 5; step <= 6; ++step) {
    const Batch b = make_batch(c, 40 + step);
    ForwardOptions o;
    o.training = true;
    o.seed = 77;
    o.step = step;
    r.losses.push_back(double(m.forward(b.inputs(c), kB, kT, o)));
    m.backward(1.0f);
  }
  Kokkos::fence();
  r.grads = snapshot(m.params().grads());
  if (k.gates) r.gate_grads = m.head_gate_grad();
  r.activation_bytes = m.activation_bytes();
  return r;
}

std::string case_name(const Case& k) {
  return std::string(family_name(k.family)) + "_" + head_name(k.head) + (k.lora ? "_lora" : "") +
         (k.attention == AttentionKind::Tiled ? "_tiled" : "") + (k.gates ? "_gates" : "");
}

class RecomputeGradients : public ::testing::TestWithParam<Case> {};

TEST_P(RecomputeGradients, FullAndSelectiveEqualStoredActivationsBitForBit) {
  const Case k = GetParam();
  const Result ref = train_two_micro_steps(k, RecomputeKind::None);
  size_t nonzero = 0;
  for (float g : ref.grads) nonzero += g != 0.0f;
  ASSERT_GT(nonzero, ref.grads.size() / 2) << "the reference run must produce gradients";
  for (RecomputeKind mode : {RecomputeKind::Full, RecomputeKind::Selective}) {
    const std::string what = case_name(k) + " recompute=" + recompute_name(mode);
    const Result got = train_two_micro_steps(k, mode);
    ASSERT_EQ(got.grads.size(), ref.grads.size()) << what;
    size_t differ = 0, first = 0;
    for (size_t i = 0; i < ref.grads.size(); ++i)
      if (std::memcmp(&got.grads[i], &ref.grads[i], sizeof(float)) != 0 && differ++ == 0) first = i;
    EXPECT_EQ(differ, 0u) << what << ": " << differ << " gradient elements differ, first at " << first << " ("
                          << got.grads[first] << " vs " << ref.grads[first] << ")";
    EXPECT_EQ(got.losses, ref.losses) << what;
    EXPECT_EQ(got.gate_grads, ref.gate_grads) << what << ": head-gate gradients";
    const bool selective_noop = mode == RecomputeKind::Selective && k.attention == AttentionKind::Tiled;
    if (selective_noop)
      EXPECT_EQ(got.activation_bytes, ref.activation_bytes) << what << ": tiled attention keeps no probabilities";
    else
      EXPECT_LT(got.activation_bytes, ref.activation_bytes) << what << ": the kept activations must shrink";
  }
}

std::vector<Case> all_cases() {
  const std::vector<std::pair<Family, HeadKind>> fh = {
      {Family::GPT2, HeadKind::CausalLM},
      {Family::GPT2, HeadKind::SequenceClassification},
      {Family::BERT, HeadKind::SequenceClassification},
      {Family::BERT, HeadKind::TokenClassification},
      {Family::BERT, HeadKind::QuestionAnswering},
      {Family::RoBERTa, HeadKind::SequenceClassification},
      {Family::RoBERTa, HeadKind::TokenClassification},
      {Family::Llama, HeadKind::CausalLM},
      {Family::Llama, HeadKind::SequenceClassification},
  };
  std::vector<Case> out;
  for (const auto& [f, h] : fh)
    for (bool lora : {false, true})
      for (AttentionKind a : {AttentionKind::Materialized, AttentionKind::Tiled}) out.push_back({f, h, lora, a});
  out.push_back({Family::GPT2, HeadKind::CausalLM, false, AttentionKind::Materialized, true});
  out.push_back({Family::Llama, HeadKind::SequenceClassification, true, AttentionKind::Materialized, true});
  return out;
}

std::string param_name(const ::testing::TestParamInfo<Case>& info) { return case_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Families, RecomputeGradients, ::testing::ValuesIn(all_cases()), param_name);

}  // namespace
