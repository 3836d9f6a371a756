#include "src/train/resampling_sampler.hpp"
#include <algorithm>
#include <map>
#include <utility>
#include "kernels/counter_rng.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

namespace {

// Sites of the counter RNG streams (RngKey::site); the class ordinal goes in RngKey::layer.
constexpr uint32_t kSiteShuffle = 0x5e5a0001u;
constexpr uint32_t kSiteOverDraw = 0x5e5a0002u;
constexpr uint32_t kSiteUnderPick = 0x5e5a0003u;

// A stream of uniform integers from one counter-RNG key.
class UniformStream {
 public:
  explicit UniformStream(const RngKey& key) : key_(key) {}
  // Uniform in [0, bound), bound >= 1: Lemire's multiply-shift, rejecting the biased low products.
  uint64_t below(uint64_t bound) {
    const uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound
    for (;;) {
      const unsigned __int128 m = (unsigned __int128)(rng_bits(key_, counter_++)) * bound;
      if (uint64_t(m) >= threshold) return uint64_t(m >> 64);
    }
  }

 private:
  RngKey key_;
  uint64_t counter_ = 0;
};

void fisher_yates(std::vector<int64_t>& a, UniformStream& rng) {
  for (size_t i = a.size(); i > 1; --i) std::swap(a[i - 1], a[size_t(rng.below(i))]);
}

std::map<int32_t, std::vector<int64_t>> indices_by_class(const std::vector<int32_t>& labels) {
  std::map<int32_t, std::vector<int64_t>> by_class;
  for (size_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(int64_t(i));
  return by_class;
}

}  // namespace

ResampleMode parse_resample_mode(const std::string& name) {
  if (name == "none") return ResampleMode::None;
  if (name == "oversample") return ResampleMode::Oversample;
  if (name == "undersample") return ResampleMode::Undersample;
  throw Error("resample mode '" + name + "' is not one of none, oversample, undersample");
}

const char* resample_mode_name(ResampleMode mode) {
  switch (mode) {
    case ResampleMode::Oversample: return "oversample";
    case ResampleMode::Undersample: return "undersample";
    default: return "none";
  }
}

int64_t epoch_length(const std::vector<int32_t>& labels, ResampleMode mode) {
  if (labels.empty() || mode == ResampleMode::None) return int64_t(labels.size());
  const auto by_class = indices_by_class(labels);
  size_t lo = labels.size(), hi = 0;
  for (const auto& [label, idx] : by_class) lo = std::min(lo, idx.size()), hi = std::max(hi, idx.size());
  return int64_t(by_class.size() * (mode == ResampleMode::Oversample ? hi : lo));
}

std::vector<int64_t> epoch_order(const std::vector<int32_t>& labels, ResampleMode mode, uint64_t seed,
                                 int64_t epoch) {
  require(epoch >= 0, "epoch_order: epoch must be >= 0 (got " + std::to_string(epoch) + ")");
  const uint64_t e = uint64_t(epoch);
  std::vector<int64_t> order;
  if (mode == ResampleMode::None || labels.empty()) {
    order.resize(labels.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = int64_t(i);
  } else {
    const auto by_class = indices_by_class(labels);
    size_t lo = labels.size(), hi = 0;
    for (const auto& [label, idx] : by_class) lo = std::min(lo, idx.size()), hi = std::max(hi, idx.size());
    order.reserve(by_class.size() * (mode == ResampleMode::Oversample ? hi : lo));
    uint32_t ordinal = 0;
    for (const auto& [label, idx] : by_class) {
      if (mode == ResampleMode::Oversample) {
        UniformStream rng(RngKey{seed, e, ordinal, kSiteOverDraw});
        order.insert(order.end(), idx.begin(), idx.end());
        for (size_t k = idx.size(); k < hi; ++k) order.push_back(idx[size_t(rng.below(idx.size()))]);
      } else {
        // Partial Fisher–Yates from the front: positions 0..lo-1 end up a uniform sample without replacement.
        UniformStream rng(RngKey{seed, e, ordinal, kSiteUnderPick});
        std::vector<int64_t> pool = idx;
        for (size_t k = 0; k < lo; ++k) std::swap(pool[k], pool[k + size_t(rng.below(pool.size() - k))]);
        order.insert(order.end(), pool.begin(), pool.begin() + int64_t(lo));
      }
      ++ordinal;
    }
  }
  UniformStream rng(RngKey{seed, e, 0, kSiteShuffle});
  fisher_yates(order, rng);
  return order;
}

}  // namespace tessera
