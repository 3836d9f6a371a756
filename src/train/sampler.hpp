// Autoregressive sampling from a GPT-2: greedy (temperature 0), temperature and
// top-k. Recomputes the full (windowed) context each token; a KV cache comes with
// the inference work.
#pragma once
#include <cstdint>
#include <vector>
#include "src/model/gpt2.hpp"

namespace tessera {

struct SamplingOptions {
  int max_new_tokens = 64;
  double temperature = 1.0;  // 0 = greedy
  int top_k = 0;             // 0 = whole vocabulary
  uint64_t seed = 0;
  int32_t stop_token = -1;   // stop after emitting this id (-1 = none)
};

// Returns prompt + generated ids.
std::vector<int32_t> sample_tokens(GPT2<float>& model, std::vector<int32_t> ids, const SamplingOptions& opt);

// Picks the next id from one row of logits (exposed for tests).
int32_t pick_token(const float* logits, int64_t V, double temperature, int top_k, double uniform01);

}  // namespace tessera
