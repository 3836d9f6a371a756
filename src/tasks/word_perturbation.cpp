#include "src/tasks/word_perturbation.hpp"
#include <cmath>
#include <utility>
#include <vector>
#include "kernels/counter_rng.hpp"
#include "src/runtime/error.hpp"
#include "src/tasks/near_duplicate.hpp"

namespace tessera::tasks {

namespace {
constexpr uint32_t kPerturbSite = 0x9e27b001u;
}

std::string perturb_words(const std::string& text, const PerturbOptions& opt, uint64_t seed, uint64_t index) {
  require(opt.delete_prob >= 0 && opt.delete_prob < 1, "perturb: delete probability must be in [0, 1)");
  require(opt.swaps >= 0, "perturb: swaps must be >= 0");
  const std::vector<std::string> words = split_words(text);
  if (words.empty()) return "";
  const RngKey key{seed, index, 0, kPerturbSite};
  uint64_t draw = 0;
  auto below = [&](size_t n) {
    return std::min(n - 1, size_t(std::floor(rng_uniform(key, draw++) * double(n))));
  };
  std::vector<std::string> kept;
  for (const std::string& w : words)
    if (rng_uniform(key, draw++) >= opt.delete_prob) kept.push_back(w);
  if (kept.empty()) kept.push_back(words[below(words.size())]);
  for (int s = 0; s < opt.swaps && kept.size() > 1; ++s) {
    const size_t i = below(kept.size()), j = below(kept.size());
    std::swap(kept[i], kept[j]);
  }
  std::string out = kept[0];
  for (size_t i = 1; i < kept.size(); ++i) out += ' ' + kept[i];
  return out;
}

}  // namespace tessera::tasks
