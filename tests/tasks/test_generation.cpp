// KV-cache generation equals full-recompute generation token for token (GPT-2 and
// Llama/GQA, greedy and sampled), the cached logits equal the full forward's last
// rows, and stop tokens / stop sequences end generation.
#include <gtest/gtest.h>
#include <algorithm>
#include <cmath>
#include <vector>
#include "src/tasks/text_generation.hpp"

using namespace tessera;

namespace {

TransformerConfig tiny(Family f) {
  TransformerConfig c;
  c.family = f;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_embd = 32;
  c.n_positions = 48;
  c.vocab_size = 37;
  if (f == Family::Llama) {
    c.n_kv_head = 2;
    c.n_inner = 48;
    c.tie_word_embeddings = false;
  }
  apply_family_defaults(c);
  return c;
}

// A random model with sharper-than-init weights so sampled text is not uniform.
void init(Transformer<float>& m, uint64_t seed) {
  m.init_weights(seed);
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m.params().values());
  for (size_t i = 0; i < h.extent(0); ++i) h(i) *= 8.0f;
  Kokkos::deep_copy(m.params().values(), h);
}

std::vector<int32_t> prompt_of(int n, int V) {
  std::vector<int32_t> p;
  for (int i = 0; i < n; ++i) p.push_back((7 * i + 3) % V);
  return p;
}

}  // namespace

TEST(Generation, CachedLogitsEqualFullForward) {
  for (Family f : {Family::GPT2, Family::Llama}) {
    Transformer<float> m(tiny(f));
    init(m, 5);
    const auto toks = prompt_of(20, 37);
    m.forward(toks.data(), nullptr, 1, 20, ForwardOptions{});
    auto full = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m.logits());
    m.begin_decode(1, 20);
    m.forward_decode(toks.data(), 1, 12, 0);  // a 12-token prompt chunk, then 8 single tokens
    for (int t = 12; t < 20; ++t) {
      m.forward_decode(&toks[t], 1, 1, t);
      auto step = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m.logits());
      double max_diff = 0, max_ref = 0;
      for (int v = 0; v < 37; ++v) {
        max_diff = std::max(max_diff, double(std::abs(step(v) - full(size_t(t) * 37 + v))));
        max_ref = std::max(max_ref, double(std::abs(full(size_t(t) * 37 + v))));
      }
      EXPECT_LE(max_diff, 2e-5 * std::max(1.0, max_ref)) << family_name(f) << " position " << t;
    }
  }
}

TEST(Generation, KvCacheEqualsFullRecomputeTokenForToken) {
  for (Family f : {Family::GPT2, Family::Llama}) {
    Transformer<float> m(tiny(f));
    init(m, 11);
    for (double temperature : {0.0, 0.9}) {
      GenerationOptions o;
      o.max_new_tokens = 30;
      o.sampling.temperature = temperature;
      o.sampling.top_k = temperature > 0 ? 20 : 0;
      o.sampling.top_p = temperature > 0 ? 0.95 : 1.0;
      o.sampling.repetition_penalty = 1.3;
      o.sampling.seed = 42;
      o.kv_cache = true;
      const auto cached = generate_tokens(m, prompt_of(9, 37), o);
      o.kv_cache = false;
      const auto full = generate_tokens(m, prompt_of(9, 37), o);
      EXPECT_EQ(cached.tokens.size(), size_t(9 + 30));
      EXPECT_EQ(cached.tokens, full.tokens) << family_name(f) << " temperature " << temperature;
      // Not a constant sequence: the test would be vacuous otherwise.
      std::vector<int32_t> gen(cached.tokens.begin() + 9, cached.tokens.end());
      std::sort(gen.begin(), gen.end());
      EXPECT_GT(std::unique(gen.begin(), gen.end()) - gen.begin(), 3) << family_name(f);
    }
  }
}

TEST(Generation, StopsAtStopTokenAndSequenceAndContext) {
  Transformer<float> m(tiny(Family::GPT2));
  init(m, 3);
  GenerationOptions o;
  o.max_new_tokens = 30;
  o.sampling.temperature = 0;
  const auto free_run = generate_tokens(m, prompt_of(5, 37), o);
  const int32_t third = free_run.tokens[5 + 2];
  o.sampling.stop_tokens = {third};
  const auto stopped = generate_tokens(m, prompt_of(5, 37), o);
  EXPECT_TRUE(stopped.stopped);
  EXPECT_EQ(stopped.tokens.back(), third);
  EXPECT_LE(stopped.tokens.size(), size_t(5 + 3));
  o.sampling.stop_tokens.clear();
  o.stop_sequences = {{free_run.tokens[5 + 3], free_run.tokens[5 + 4]}};
  const auto seq = generate_tokens(m, prompt_of(5, 37), o);
  EXPECT_TRUE(seq.stopped);
  EXPECT_LE(seq.tokens.size(), size_t(5 + 5));
  o.stop_sequences.clear();
  o.max_new_tokens = 1000;  // ends at the context length (48)
  EXPECT_EQ(generate_tokens(m, prompt_of(5, 37), o).tokens.size(), size_t(48));
}
