// Shapley explainers (src/explain/shapley.hpp) against an independent brute force:
// the average of marginal contributions over all M! orders of the features.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "src/explain/shapley.hpp"
#include "src/runtime/error.hpp"

using namespace tessera::explain;

namespace {

// A nonlinear game: v(z) = tanh(table[z] ) with random table entries, plus a smooth part.
struct TableGame {
  int M;
  std::vector<double> table;
  explicit TableGame(int m, unsigned seed) : M(m), table(size_t(1) << m) {
    std::mt19937_64 g(seed);
    std::normal_distribution<double> n(0, 1);
    for (double& t : table) t = n(g);
  }
  double operator()(const Mask& z) const {
    uint32_t s = 0;
    for (int i = 0; i < M; ++i) s |= uint32_t(z[size_t(i)]) << i;
    return std::tanh(table[s]) + 0.3 * double(std::count(z.begin(), z.end(), uint8_t(1)));
  }
  ValueFunction fn(int64_t* calls = nullptr) const {
    return [this, calls](const std::vector<Mask>& ms) {
      if (calls) *calls += int64_t(ms.size());
      std::vector<double> out;
      for (const Mask& m : ms) out.push_back((*this)(m));
      return out;
    };
  }
};

std::vector<double> brute_force_shapley(const TableGame& g) {
  std::vector<int> order(size_t(g.M));
  std::iota(order.begin(), order.end(), 0);
  std::vector<double> phi(size_t(g.M), 0.0);
  double count = 0;
  do {
    Mask m = empty_mask(g.M);
    double prev = g(m);
    for (int i : order) {
      m[size_t(i)] = 1;
      const double cur = g(m);
      phi[size_t(i)] += cur - prev;
      prev = cur;
    }
    count += 1;
  } while (std::next_permutation(order.begin(), order.end()));
  for (double& p : phi) p /= count;
  return phi;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double e = 0;
  for (size_t i = 0; i < a.size(); ++i) e = std::max(e, std::fabs(a[i] - b[i]));
  return e;
}

}  // namespace

TEST(ExplainShapley, ExactEqualsBruteForce) {
  for (int M : {1, 3, 6, 8}) {
    const TableGame g(M, 10 + unsigned(M));
    const auto ref = brute_force_shapley(g);
    const Attribution a = exact_shapley(g.fn(), M);
    ASSERT_EQ(a.phi.size(), size_t(M));
    EXPECT_LT(max_abs_diff(a.phi, ref), 1e-6) << "M=" << M;
    EXPECT_LT(std::fabs(a.efficiency_gap()), 1e-9);
    EXPECT_EQ(a.evaluations, int64_t(1) << M);
    EXPECT_DOUBLE_EQ(a.base_value, g(empty_mask(M)));
  }
}

TEST(ExplainShapley, KernelWithFullBudgetIsExact) {
  const int M = 8;
  const TableGame g(M, 3);
  const auto ref = brute_force_shapley(g);
  const Attribution a = kernel_shap(g.fn(), M, (1 << M) - 2, 5);
  EXPECT_LT(max_abs_diff(a.phi, ref), 1e-9);
  EXPECT_LT(std::fabs(a.efficiency_gap()), 1e-12);
}

// Error vs budget (printed for docs/explain.md): the sampled methods approach the exact values.
TEST(ExplainShapley, KernelAndPermutationConverge) {
  const int M = 10;
  const TableGame g(M, 7);
  const auto ref = exact_shapley(g.fn(), M).phi;
  double scale = 0;
  for (double p : ref) scale = std::max(scale, std::fabs(p));
  std::vector<double> kerr, perr;
  for (int64_t n : {40, 160, 640, 1000}) {
    double ke = 0, pe = 0;
    for (uint64_t seed = 1; seed <= 4; ++seed) {  // mean over seeds
      const Attribution k = kernel_shap(g.fn(), M, n, seed);
      const Attribution p = permutation_shap(g.fn(), M, n, seed);
      EXPECT_LT(std::fabs(k.efficiency_gap()), 1e-9);
      EXPECT_LT(std::fabs(p.efficiency_gap()), 1e-9);
      ke += max_abs_diff(k.phi, ref) / 4;
      pe += max_abs_diff(p.phi, ref) / 4;
    }
    std::printf("M=%d samples=%lld  kernel max|err|=%.5f  permutation max|err|=%.5f  (max|phi| %.4f)\n", M,
                (long long)n, ke, pe, scale);
    kerr.push_back(ke);
    perr.push_back(pe);
  }
  EXPECT_LT(kerr.back(), kerr.front() / 3);
  EXPECT_LT(perr.back(), perr.front() / 3);
  EXPECT_LT(kerr.back(), 0.05 * scale);
  EXPECT_LT(perr.back(), 0.6 * scale);  // a random-table game: no additive structure to exploit
}

TEST(ExplainShapley, PermutationReportsStandardErrors) {
  const int M = 6;
  const TableGame g(M, 9);
  const Attribution p = permutation_shap(g.fn(), M, 600, 3);
  ASSERT_EQ(p.std_error.size(), size_t(M));
  const auto ref = brute_force_shapley(g);
  for (int i = 0; i < M; ++i) {
    EXPECT_GT(p.std_error[size_t(i)], 0);
    EXPECT_LT(std::fabs(p.phi[size_t(i)] - ref[size_t(i)]), 5 * p.std_error[size_t(i)] + 1e-12) << i;
  }
}

// Owen values: efficiency holds, and for an additive game they equal Shapley values.
TEST(ExplainShapley, PartitionEfficiencyAndAdditiveGame) {
  const int M = 11;
  const TableGame g(M, 2);
  const Attribution p = partition_shap(g.fn(), M);
  EXPECT_LT(std::fabs(p.efficiency_gap()), 1e-9);
  ValueFunction additive = [](const std::vector<Mask>& ms) {
    std::vector<double> out;
    for (const Mask& m : ms) {
      double s = 0;
      for (size_t i = 0; i < m.size(); ++i) s += m[i] * (0.5 + double(i));
      out.push_back(s);
    }
    return out;
  };
  const Attribution q = partition_shap(additive, M);
  for (int i = 0; i < M; ++i) EXPECT_NEAR(q.phi[size_t(i)], 0.5 + i, 1e-12);
  EXPECT_LT(q.evaluations, int64_t(M) * M * 2);  // O(M²) coalitions, not 2^M
}

TEST(ExplainShapley, BadInputMessages) {
  const TableGame g(4, 1);
  try {
    kernel_shap(g.fn(), 4, 5, 1);
    FAIL() << "expected an error";
  } catch (const tessera::Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs at least 2·M = 8"), std::string::npos) << e.what();
  }
  EXPECT_THROW(exact_shapley(g.fn(), 0), tessera::Error);
  try {
    exact_shapley(g.fn(), 30);
    FAIL() << "expected an error";
  } catch (const tessera::Error& e) {
    EXPECT_NE(std::string(e.what()).find("at most 16"), std::string::npos) << e.what();
  }
}
