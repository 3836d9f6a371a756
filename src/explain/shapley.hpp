// Shapley attributions of a value function v over M features (coalition.hpp):
// φ_i = Σ_{S ⊆ N∖{i}} |S|!(M−|S|−1)!/M! · (v(S∪{i}) − v(S)), base v(∅).
//   exact       enumerates all 2^M coalitions (M ≤ kMaxExactFeatures);
//   kernel      KernelSHAP (Lundberg & Lee 2017): Shapley-kernel weighted least squares
//               with Σφ = v(N) − v(∅) imposed; whole coalition sizes are enumerated
//               (smallest and largest first) while the budget allows, the rest sampled
//               in complementary pairs; a budget ≥ 2^M − 2 gives the exact values;
//   permutation antithetic permutations: each drawn order and its reverse, features
//               added one at a time; φ_i = mean marginal contribution;
//   partition   Owen values over a balanced binary tree of contiguous feature groups
//               (the hierarchy of shap's Text masker): a node splits its credit between
//               its two halves, each half measured with and without its sibling.
// Efficiency Σφ = v(N) − v(∅) holds exactly for every method (kernel by the constraint,
// permutation and partition by telescoping).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "src/explain/coalition.hpp"

namespace tessera::explain {

constexpr int kMaxExactFeatures = 16;

struct Attribution {
  std::string method;
  std::vector<double> phi;        // one per feature
  std::vector<double> std_error;  // sampled methods: standard error of each φ_i (else empty)
  double base_value = 0;          // v(∅)
  double full_value = 0;          // v(N)
  int64_t evaluations = 0;        // coalitions evaluated
  double efficiency_gap() const;  // Σφ − (v(N) − v(∅))
};

Attribution exact_shapley(const ValueFunction& v, int M);
// samples: coalitions besides ∅ and N (at least 2·M).
Attribution kernel_shap(const ValueFunction& v, int M, int64_t samples, uint64_t seed);
// samples: coalition evaluations; permutations = samples / (2·M), at least 1.
Attribution permutation_shap(const ValueFunction& v, int M, int64_t samples, uint64_t seed);
Attribution partition_shap(const ValueFunction& v, int M);

// Fewest KernelSHAP samples for M features, and the message when there are fewer.
int64_t min_kernel_samples(int M);

}  // namespace tessera::explain
