// Next-token sampling for generation with Hugging Face generate() semantics, applied
// in HF's order: repetition penalty, temperature, top-k, top-p, then one draw:
//   z_i ← z_i < 0 ? z_i·θ : z_i/θ  for each distinct id i in history (CTRL penalty θ)
//   p = softmax(z / T) over the tokens kept by top-k and then top-p
// top-k keeps every token whose logit is ≥ the k-th largest (ties at the boundary are
// kept, as HF). top-p keeps the smallest set of most probable tokens (after top-k)
// whose probability sums to ≥ top_p (within 1e-6, since float logits make the sums
// inexact at that level), at least one. temperature == 0 is greedy: the argmax of the
// penalised logits, lowest id on ties; top-k / top-p / seed play no part then.
// The draw is the inverse CDF over the kept tokens in id order at a uniform from the
// counter-based RNG keyed by (seed, step) (kernels/counter_rng.hpp): the same
// logits, history, options and step give the same token on every rank and every run.
// These are tessera::tasks::SamplingOptions; tessera::SamplingOptions
// (src/train/sampler.hpp) is the older sampler's, until the CLI switches over.
#pragma once
#include <cstdint>
#include <vector>

namespace tessera::tasks {

struct SamplingOptions {
  double temperature = 1.0;         // 0 = greedy
  int top_k = 0;                    // 0 = no top-k
  double top_p = 1.0;               // 1 = no top-p
  double repetition_penalty = 1.0;  // 1 = none
  std::vector<int32_t> stop_tokens; // the caller stops after emitting one (is_stop_token)
  uint64_t seed = 0;
};

// Throws Error naming the option: temperature < 0 or not finite, top_k < 0, top_p
// outside (0, 1], repetition_penalty <= 0 or not finite.
void check_sampling_options(const SamplingOptions& opt);

// The distribution the draw uses: V probabilities, 0 outside the kept set (greedy:
// one-hot at the argmax). Checks the options; history ids outside [0, V), NaN / +inf
// logits or all logits -inf throw Error.
std::vector<double> next_token_probabilities(const float* logits, int64_t V, const std::vector<int32_t>& history,
                                             const SamplingOptions& opt);

// history: every id the model has seen (prompt + generated so far), for the penalty.
// step: the index of the token being generated (0 for the first new token).
int32_t sample_next_token(const float* logits, int64_t V, const std::vector<int32_t>& history,
                          const SamplingOptions& opt, uint64_t step);

bool is_stop_token(int32_t token, const SamplingOptions& opt);

// True when `generated` ends with one of the (non-empty) stop sequences.
bool hits_stop(const std::vector<int32_t>& generated, const std::vector<std::vector<int32_t>>& stop_sequences);

}  // namespace tessera::tasks
