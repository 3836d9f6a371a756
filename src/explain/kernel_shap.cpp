// KernelSHAP: the Shapley kernel π(z) = (M−1) / (C(M,|z|)·|z|·(M−|z|)) weights a least-
// squares fit of v(z) − v(∅) ≈ Σ z_i φ_i under Σφ = v(N) − v(∅) (φ_M eliminated).
// Budget: sizes s and M−s are enumerated in pairs, smallest first, while all their
// coalitions fit (each weighted by π); the remaining sizes share the rest of the
// kernel mass over sampled coalitions, each drawn with its complement.
#include <algorithm>
#include <cmath>
#include <map>

#include "src/explain/shapley.hpp"
#include "src/explain/weighted_least_squares.hpp"
#include "src/runtime/error.hpp"

namespace tessera::explain {

int64_t min_kernel_samples(int M) { return 2 * int64_t(M); }

namespace {

double binomial(int n, int k) { return std::round(std::exp(std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0))); }

// All masks of M features with exactly s present, in lexicographic order of positions.
void for_each_subset(int M, int s, std::vector<Mask>& out) {
  std::vector<int> idx(static_cast<size_t>(s));
  for (int i = 0; i < s; ++i) idx[size_t(i)] = i;
  while (true) {
    Mask m = empty_mask(M);
    for (int i : idx) m[size_t(i)] = 1;
    out.push_back(std::move(m));
    int k = s - 1;
    while (k >= 0 && idx[size_t(k)] == M - s + k) --k;
    if (k < 0) return;
    ++idx[size_t(k)];
    for (int j = k + 1; j < s; ++j) idx[size_t(j)] = idx[size_t(j - 1)] + 1;
  }
}

}  // namespace

Attribution kernel_shap(const ValueFunction& v, int M, int64_t samples, uint64_t seed) {
  require(M >= 1, "explain kernel: the input has no features (empty text?)");
  require(samples >= min_kernel_samples(M),
          "explain kernel: " + std::to_string(samples) + " samples for " + std::to_string(M) +
              " features; KernelSHAP needs at least 2·M = " + std::to_string(min_kernel_samples(M)) +
              " coalitions (raise --samples)");
  Attribution a;
  a.method = "kernel";
  std::vector<Mask> masks{empty_mask(M), full_mask(M)};
  std::vector<double> weight{0, 0};
  if (M == 1) {
    const auto val = v(masks);
    a.base_value = val[0];
    a.full_value = val[1];
    a.phi = {val[1] - val[0]};
    a.evaluations = 2;
    return a;
  }
  // Kernel mass of each size: W(s) ∝ (M−1)/(s(M−s)), normalised over s = 1..M−1.
  std::vector<double> W(size_t(M), 0.0);
  double total = 0;
  for (int s = 1; s < M; ++s) total += W[size_t(s)] = double(M - 1) / (double(s) * double(M - s));
  for (double& x : W) x /= total;
  int64_t left = samples;
  double mass_left = 1.0;
  int lo = 1;
  for (; lo <= M - lo; ++lo) {
    const int hi = M - lo;
    const double count = binomial(M, lo) * (lo == hi ? 1 : 2);
    if (count > double(left)) break;
    for (int s : lo == hi ? std::vector<int>{lo} : std::vector<int>{lo, hi}) {
      std::vector<Mask> sub;
      for_each_subset(M, s, sub);
      for (Mask& m : sub) {
        masks.push_back(std::move(m));
        weight.push_back(W[size_t(s)] / binomial(M, s));
      }
      mass_left -= W[size_t(s)];
    }
    left -= int64_t(count);
  }
  if (lo <= M - lo && left >= 2) {
    // Sample sizes in [lo, M−lo] by their kernel mass, a random subset of that size and its complement.
    std::vector<int> sizes;
    std::vector<double> cdf;
    double acc = 0;
    for (int s = lo; s <= M - lo; ++s) {
      acc += W[size_t(s)];
      sizes.push_back(s);
      cdf.push_back(acc);
    }
    const int64_t pairs = left / 2;
    std::map<Mask, size_t> seen;
    for (int64_t p = 0; p < pairs; ++p) {
      const double u = coalition_uniform(seed, 2, uint64_t(p)) * acc;
      const int s = sizes[size_t(std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin())];
      std::vector<int> perm(static_cast<size_t>(M));
      for (int i = 0; i < M; ++i) perm[size_t(i)] = i;
      Mask m = empty_mask(M);
      for (int i = 0; i < s; ++i) {  // partial Fisher–Yates: the first s of a random order
        const int j = i + int(coalition_integer(seed, 3, uint64_t(p) * uint64_t(M) + uint64_t(i), M - i));
        std::swap(perm[size_t(i)], perm[size_t(j)]);
        m[size_t(perm[size_t(i)])] = 1;
      }
      Mask c = m;
      for (auto& b : c) b = uint8_t(1 - b);
      const double wp = mass_left / double(2 * pairs);
      for (Mask* x : {&m, &c}) {
        auto [it, fresh] = seen.emplace(*x, masks.size());
        if (fresh) {
          masks.push_back(*x);
          weight.push_back(wp);
        } else {
          weight[it->second] += wp;
        }
      }
    }
  }
  const std::vector<double> val = v(masks);
  a.base_value = val[0];
  a.full_value = val[1];
  a.evaluations = int64_t(masks.size());
  const double delta = a.full_value - a.base_value;
  // y − z_M·Δ = Σ_{j<M} (z_j − z_M) φ_j  (weighted, no intercept).
  const int C = M - 1;
  std::vector<double> X, y, w;
  for (size_t r = 2; r < masks.size(); ++r) {
    const double zM = masks[r][size_t(M - 1)];
    for (int j = 0; j < C; ++j) X.push_back(double(masks[r][size_t(j)]) - zM);
    y.push_back(val[r] - a.base_value - zM * delta);
    w.push_back(weight[r]);
  }
  const LinearFit f = weighted_ridge(X, y, w, C, 0.0, false);
  a.phi = f.coef;
  double rest = delta;
  for (double p : a.phi) rest -= p;
  a.phi.push_back(rest);
  return a;
}

}  // namespace tessera::explain
