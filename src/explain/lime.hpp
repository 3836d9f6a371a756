// LIME for text (Ribeiro et al. 2016; the algorithm of the lime package's
// LimeTextExplainer with bow=False): sample 0 keeps every word; sample r removes a
// uniformly drawn number k ∈ [1, M] of distinct words; distance = 100 · cosine
// distance of the 0/1 vector to all-ones; kernel w = sqrt(exp(−d²/width²)), width 25;
// a weighted ridge (α = 1, intercept) of the target on the 0/1 vectors. Top-k words:
// k = M keeps all; k < M selects by |coefficient| of a ridge with α = 0.01 first
// (lime's "highest_weights" selection), then refits.
#pragma once
#include <cstdint>
#include <vector>

#include "src/explain/coalition.hpp"

namespace tessera::explain {

struct LimeResult {
  std::vector<int> features;       // selected features, by decreasing |weight|
  std::vector<double> weights;     // their coefficients
  std::vector<double> all_weights; // per feature (0 where not selected)
  double intercept = 0;
  double score = 0;       // weighted R² of the local model
  double local_pred = 0;  // the local model at the full input
  int64_t evaluations = 0;
};

// lime's perturbation set: samples masks (the first all ones), deterministic in seed.
std::vector<Mask> lime_samples(int M, int samples, uint64_t seed);
// The fit on given masks and values (what the parity test drives with lime's samples).
LimeResult lime_fit(const std::vector<Mask>& masks, const std::vector<double>& values, int top_k,
                    double kernel_width = 25.0);
// Both: sample, evaluate v, fit.
LimeResult lime_explain(const ValueFunction& v, int M, int samples, int top_k, uint64_t seed);

}  // namespace tessera::explain
