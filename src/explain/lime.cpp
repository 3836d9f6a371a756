#include "src/explain/lime.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "src/explain/weighted_least_squares.hpp"
#include "src/runtime/error.hpp"

namespace tessera::explain {

std::vector<Mask> lime_samples(int M, int samples, uint64_t seed) {
  require(M >= 1, "explain lime: the input has no features (empty text?)");
  require(samples >= 2, "explain lime: needs at least 2 samples (got " + std::to_string(samples) + ")");
  std::vector<Mask> masks{full_mask(M)};
  for (int r = 1; r < samples; ++r) {
    const int k = 1 + int(coalition_integer(seed, 4, uint64_t(r), M));
    std::vector<int> perm(static_cast<size_t>(M));
    std::iota(perm.begin(), perm.end(), 0);
    Mask m = full_mask(M);
    for (int i = 0; i < k; ++i) {
      const int j = i + int(coalition_integer(seed, 5, uint64_t(r) * uint64_t(M) + uint64_t(i), M - i));
      std::swap(perm[size_t(i)], perm[size_t(j)]);
      m[size_t(perm[size_t(i)])] = 0;
    }
    masks.push_back(std::move(m));
  }
  return masks;
}

LimeResult lime_fit(const std::vector<Mask>& masks, const std::vector<double>& values, int top_k,
                    double kernel_width) {
  require(!masks.empty() && masks.size() == values.size(), "explain lime: masks and values differ in count");
  const int M = int(masks[0].size());
  require(top_k >= 1 && top_k <= M, "explain lime: --top-k must be in [1, " + std::to_string(M) + "]");
  const size_t R = masks.size();
  // Cosine distance to all-ones: 1 − |z| / (sqrt(|z|)·sqrt(M)); the empty vector is at 1.
  std::vector<double> w(R);
  for (size_t r = 0; r < R; ++r) {
    const double n = double(std::count(masks[r].begin(), masks[r].end(), uint8_t(1)));
    const double d = 100.0 * (n > 0 ? 1.0 - n / (std::sqrt(n) * std::sqrt(double(M))) : 1.0);
    w[r] = std::sqrt(std::exp(-(d * d) / (kernel_width * kernel_width)));
  }
  auto design = [&](const std::vector<int>& cols) {
    std::vector<double> X;
    X.reserve(R * cols.size());
    for (size_t r = 0; r < R; ++r)
      for (int c : cols) X.push_back(double(masks[r][size_t(c)]));
    return X;
  };
  std::vector<int> used(static_cast<size_t>(M));
  std::iota(used.begin(), used.end(), 0);
  if (top_k < M) {
    const LinearFit sel = weighted_ridge(design(used), values, w, M, 0.01, true);
    std::stable_sort(used.begin(), used.end(),
                     [&](int a, int b) { return std::fabs(sel.coef[size_t(a)]) > std::fabs(sel.coef[size_t(b)]); });
    used.resize(size_t(top_k));
  }
  const std::vector<double> X = design(used);
  const LinearFit f = weighted_ridge(X, values, w, int(used.size()), 1.0, true);
  LimeResult out;
  out.intercept = f.intercept;
  out.all_weights.assign(size_t(M), 0.0);
  std::vector<size_t> order(used.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return std::fabs(f.coef[a]) > std::fabs(f.coef[b]); });
  for (size_t k : order) {
    out.features.push_back(used[k]);
    out.weights.push_back(f.coef[k]);
    out.all_weights[size_t(used[k])] = f.coef[k];
  }
  // Weighted R² and the prediction at sample 0.
  double ws = 0, ym = 0;
  for (size_t r = 0; r < R; ++r) {
    ws += w[r];
    ym += w[r] * values[r];
  }
  ym /= ws;
  double ss_res = 0, ss_tot = 0;
  for (size_t r = 0; r < R; ++r) {
    double pred = f.intercept;
    for (size_t c = 0; c < used.size(); ++c) pred += f.coef[c] * X[r * used.size() + c];
    if (r == 0) out.local_pred = pred;
    ss_res += w[r] * (values[r] - pred) * (values[r] - pred);
    ss_tot += w[r] * (values[r] - ym) * (values[r] - ym);
  }
  out.score = ss_tot > 0 ? 1.0 - ss_res / ss_tot : 1.0;
  out.evaluations = int64_t(R);
  return out;
}

LimeResult lime_explain(const ValueFunction& v, int M, int samples, int top_k, uint64_t seed) {
  const std::vector<Mask> masks = lime_samples(M, samples, seed);
  return lime_fit(masks, v(masks), top_k);
}

}  // namespace tessera::explain
