#include "src/tasks/token_sampler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "kernels/counter_rng.hpp"
#include "src/runtime/error.hpp"

namespace tessera::tasks {
namespace {

constexpr uint32_t kSamplingSite = 0x5a3f1fu;  // RNG stream of generation draws
constexpr double kTopPSlack = 1e-6;

// Logits after the repetition penalty, in double; validates logits and history.
std::vector<double> penalised(const float* logits, int64_t V, const std::vector<int32_t>& history, double penalty) {
  require(V > 0, "sampling: empty vocabulary (V = 0)");
  std::vector<double> z(static_cast<size_t>(V));
  bool any_finite = false;
  for (int64_t i = 0; i < V; ++i) {
    const double v = logits[i];
    require(!std::isnan(v) && v != std::numeric_limits<double>::infinity(),
            "sampling: logit " + std::to_string(i) + " is " + (std::isnan(v) ? "nan" : "+inf"));
    any_finite = any_finite || std::isfinite(v);
    z[static_cast<size_t>(i)] = v;
  }
  require(any_finite, "sampling: every logit is -inf");
  std::vector<char> seen(static_cast<size_t>(V), 0);
  for (int32_t id : history) {
    require(id >= 0 && id < V, "sampling: history token " + std::to_string(id) + " outside the vocabulary [0, " +
                                   std::to_string(V) + ")");
    if (seen[static_cast<size_t>(id)] || penalty == 1.0) continue;
    seen[static_cast<size_t>(id)] = 1;
    double& v = z[static_cast<size_t>(id)];
    v = v < 0 ? v * penalty : v / penalty;
  }
  return z;
}

int32_t argmax_lowest(const std::vector<double>& z) {
  return static_cast<int32_t>(std::max_element(z.begin(), z.end()) - z.begin());  // first maximum
}

struct Kept {
  std::vector<int32_t> ids;  // ascending id
  std::vector<double> p;     // normalised over the kept set
};

Kept kept_distribution(const std::vector<double>& z, const SamplingOptions& opt) {
  const auto V = static_cast<int64_t>(z.size());
  std::vector<int32_t> cand;
  for (int64_t i = 0; i < V; ++i)
    if (std::isfinite(z[static_cast<size_t>(i)])) cand.push_back(static_cast<int32_t>(i));
  auto higher = [&](int32_t a, int32_t b) {
    return z[static_cast<size_t>(a)] > z[static_cast<size_t>(b)] ||
           (z[static_cast<size_t>(a)] == z[static_cast<size_t>(b)] && a < b);
  };
  // top-k: keep z >= the k-th largest (division by T > 0 keeps the order)
  if (opt.top_k > 0 && static_cast<size_t>(opt.top_k) < cand.size()) {
    std::vector<int32_t> tmp = cand;
    std::nth_element(tmp.begin(), tmp.begin() + (opt.top_k - 1), tmp.end(), higher);
    const double kth = z[static_cast<size_t>(tmp[static_cast<size_t>(opt.top_k - 1)])];
    cand.erase(std::remove_if(cand.begin(), cand.end(), [&](int32_t i) { return z[static_cast<size_t>(i)] < kth; }),
               cand.end());
  }
  double mx = -std::numeric_limits<double>::infinity();
  for (int32_t i : cand) mx = std::max(mx, z[static_cast<size_t>(i)] / opt.temperature);
  std::vector<double> w(static_cast<size_t>(V), 0.0);
  double sum = 0.0;
  for (int32_t i : cand) sum += w[static_cast<size_t>(i)] = std::exp(z[static_cast<size_t>(i)] / opt.temperature - mx);
  if (opt.top_p < 1.0) {
    std::sort(cand.begin(), cand.end(), [&](int32_t a, int32_t b) {
      return w[static_cast<size_t>(a)] > w[static_cast<size_t>(b)] || (w[static_cast<size_t>(a)] == w[static_cast<size_t>(b)] && a < b);
    });
    size_t n = 0;
    double cum = 0.0;
    while (n < cand.size() && (n == 0 || cum < opt.top_p - kTopPSlack)) cum += w[static_cast<size_t>(cand[n++])] / sum;
    cand.resize(n);
    std::sort(cand.begin(), cand.end());
    sum = 0.0;
    for (int32_t i : cand) sum += w[static_cast<size_t>(i)];
  }
  Kept k;
  k.ids = cand;
  for (int32_t i : cand) k.p.push_back(w[static_cast<size_t>(i)] / sum);
  return k;
}

}  // namespace

void check_sampling_options(const SamplingOptions& opt) {
  require(std::isfinite(opt.temperature) && opt.temperature >= 0.0,
          "sampling: temperature must be >= 0 (0 = greedy), got " + std::to_string(opt.temperature));
  require(opt.top_k >= 0, "sampling: top_k must be >= 0 (0 = off), got " + std::to_string(opt.top_k));
  require(opt.top_p > 0.0 && opt.top_p <= 1.0, "sampling: top_p must be in (0, 1], got " + std::to_string(opt.top_p));
  require(std::isfinite(opt.repetition_penalty) && opt.repetition_penalty > 0.0,
          "sampling: repetition_penalty must be > 0 (1 = off), got " + std::to_string(opt.repetition_penalty));
}

std::vector<double> next_token_probabilities(const float* logits, int64_t V, const std::vector<int32_t>& history,
                                             const SamplingOptions& opt) {
  check_sampling_options(opt);
  const std::vector<double> z = penalised(logits, V, history, opt.repetition_penalty);
  std::vector<double> p(static_cast<size_t>(V), 0.0);
  if (opt.temperature == 0.0) {
    p[static_cast<size_t>(argmax_lowest(z))] = 1.0;
    return p;
  }
  const Kept k = kept_distribution(z, opt);
  for (size_t i = 0; i < k.ids.size(); ++i) p[static_cast<size_t>(k.ids[i])] = k.p[i];
  return p;
}

int32_t sample_next_token(const float* logits, int64_t V, const std::vector<int32_t>& history,
                          const SamplingOptions& opt, uint64_t step) {
  check_sampling_options(opt);
  const std::vector<double> z = penalised(logits, V, history, opt.repetition_penalty);
  if (opt.temperature == 0.0) return argmax_lowest(z);
  const Kept k = kept_distribution(z, opt);
  const double u = rng_uniform(RngKey{opt.seed, step, 0, kSamplingSite}, 0);
  double acc = 0.0;
  for (size_t i = 0; i < k.ids.size(); ++i) {
    acc += k.p[i];
    if (u < acc) return k.ids[i];
  }
  return k.ids.back();  // u within rounding of 1
}

bool is_stop_token(int32_t token, const SamplingOptions& opt) {
  return std::find(opt.stop_tokens.begin(), opt.stop_tokens.end(), token) != opt.stop_tokens.end();
}

bool hits_stop(const std::vector<int32_t>& generated, const std::vector<std::vector<int32_t>>& stop_sequences) {
  for (const auto& s : stop_sequences)
    if (!s.empty() && s.size() <= generated.size() && std::equal(s.rbegin(), s.rend(), generated.rbegin()))
      return true;
  return false;
}

}  // namespace tessera::tasks
