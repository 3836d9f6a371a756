// Perturbation augmentation (tessera augment --method perturb): a new text from a
// source text by random word deletion and swaps, a pure function of (text, options,
// key) through the counter RNG (kernels/counter_rng.hpp):
//   1. each word (split at whitespace) is deleted with probability delete_prob, but
//      when every word was deleted, one uniformly drawn word stays;
//   2. `swaps` times, two uniformly drawn positions exchange their words.
// Words are joined by one space.
#pragma once
#include <cstdint>
#include <string>

namespace tessera::tasks {

struct PerturbOptions {
  double delete_prob = 0.1;
  int swaps = 1;
};

std::string perturb_words(const std::string& text, const PerturbOptions& opt, uint64_t seed, uint64_t index);

}  // namespace tessera::tasks
