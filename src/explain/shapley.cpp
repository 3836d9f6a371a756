#include "src/explain/shapley.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "src/runtime/error.hpp"

namespace tessera::explain {

double Attribution::efficiency_gap() const {
  return std::accumulate(phi.begin(), phi.end(), 0.0) - (full_value - base_value);
}

namespace {

void require_features(int M, const char* method) {
  require(M >= 1, std::string("explain ") + method + ": the input has no features (empty text?)");
}

}  // namespace

Attribution exact_shapley(const ValueFunction& v, int M) {
  require_features(M, "exact");
  require(M <= kMaxExactFeatures, "explain exact: " + std::to_string(M) + " features; exact Shapley enumerates 2^M " +
                                      "coalitions and allows at most " + std::to_string(kMaxExactFeatures) +
                                      " (use --method shap --shap kernel, permutation or partition)");
  const uint32_t n = 1u << M;
  std::vector<Mask> masks(n, Mask(size_t(M)));
  for (uint32_t s = 0; s < n; ++s)
    for (int i = 0; i < M; ++i) masks[s][size_t(i)] = uint8_t((s >> i) & 1u);
  const std::vector<double> val = v(masks);
  // w(k) = k!(M−k−1)!/M! for a coalition of size k without i.
  std::vector<double> w(static_cast<size_t>(M));
  for (int k = 0; k < M; ++k) w[size_t(k)] = std::exp(std::lgamma(k + 1.0) + std::lgamma(M - k + 0.0) - std::lgamma(M + 1.0));
  Attribution a;
  a.method = "exact";
  a.phi.assign(size_t(M), 0.0);
  for (uint32_t s = 0; s < n; ++s) {
    const int k = __builtin_popcount(s);
    for (int i = 0; i < M; ++i)
      if (!((s >> i) & 1u)) a.phi[size_t(i)] += w[size_t(k)] * (val[s | (1u << i)] - val[s]);
  }
  a.base_value = val[0];
  a.full_value = val[n - 1];
  a.evaluations = n;
  return a;
}

Attribution permutation_shap(const ValueFunction& v, int M, int64_t samples, uint64_t seed) {
  require_features(M, "permutation");
  const int64_t P = std::max<int64_t>(1, samples / (2 * int64_t(M)));
  // Pass p (2 per permutation: the order, then its reverse): masks 0..M, adding one feature each.
  std::vector<std::vector<int>> orders;
  for (int64_t p = 0; p < P; ++p) {
    std::vector<int> o(static_cast<size_t>(M));
    std::iota(o.begin(), o.end(), 0);
    for (int i = M - 1; i > 0; --i)  // Fisher–Yates
      std::swap(o[size_t(i)], o[size_t(coalition_integer(seed, 1, uint64_t(p) * uint64_t(M) + uint64_t(i), i + 1))]);
    orders.push_back(o);
    std::reverse(o.begin(), o.end());
    orders.push_back(o);
  }
  std::vector<Mask> masks;
  masks.push_back(empty_mask(M));
  masks.push_back(full_mask(M));
  for (const auto& o : orders) {
    Mask m = empty_mask(M);
    for (int k = 0; k + 1 < M; ++k) {  // the empty and full coalitions are shared
      m[size_t(o[size_t(k)])] = 1;
      masks.push_back(m);
    }
  }
  const std::vector<double> val = v(masks);
  Attribution a;
  a.method = "permutation";
  a.base_value = val[0];
  a.full_value = val[1];
  a.evaluations = int64_t(masks.size());
  // Per permutation (order + reverse averaged): marginal contributions; mean and standard error.
  std::vector<double> sum(size_t(M), 0.0), sum2(size_t(M), 0.0);
  size_t at = 2;
  for (int64_t p = 0; p < P; ++p) {
    std::vector<double> both(size_t(M), 0.0);
    for (int r = 0; r < 2; ++r) {
      const auto& o = orders[size_t(2 * p + r)];
      double prev = a.base_value;
      for (int k = 0; k < M; ++k) {
        const double cur = k + 1 < M ? val[at++] : a.full_value;
        both[size_t(o[size_t(k)])] += 0.5 * (cur - prev);
        prev = cur;
      }
    }
    for (int i = 0; i < M; ++i) {
      sum[size_t(i)] += both[size_t(i)];
      sum2[size_t(i)] += both[size_t(i)] * both[size_t(i)];
    }
  }
  a.phi.resize(size_t(M));
  a.std_error.resize(size_t(M));
  for (int i = 0; i < M; ++i) {
    const double mean = sum[size_t(i)] / double(P);
    a.phi[size_t(i)] = mean;
    const double var = P > 1 ? std::max(0.0, (sum2[size_t(i)] - double(P) * mean * mean) / double(P - 1)) : 0.0;
    a.std_error[size_t(i)] = std::sqrt(var / double(P));
  }
  return a;
}

// ---------------------------------------------------------------- partition (Owen values)

namespace {

struct OwenTask {
  int lo, hi;     // the node: features [lo, hi)
  Mask context;   // features outside the node that are present
  double weight;  // probability of this context
};

}  // namespace

Attribution partition_shap(const ValueFunction& v, int M) {
  require_features(M, "partition");
  // A node [lo,hi) with context C hands each half the contexts C and C ∪ (other half),
  // each with half its weight; a leaf i gets Σ weight · (v(C ∪ {i}) − v(C)).
  auto with = [](Mask m, int lo, int hi) {
    for (int i = lo; i < hi; ++i) m[size_t(i)] = 1;
    return m;
  };
  std::vector<OwenTask> leaves, level{{0, M, empty_mask(M), 1.0}};
  while (!level.empty()) {
    std::vector<OwenTask> next;
    for (OwenTask& t : level) {
      if (t.hi - t.lo == 1) {
        leaves.push_back(std::move(t));
        continue;
      }
      const int mid = (t.lo + t.hi) / 2;
      next.push_back({t.lo, mid, t.context, 0.5 * t.weight});
      next.push_back({t.lo, mid, with(t.context, mid, t.hi), 0.5 * t.weight});
      next.push_back({mid, t.hi, t.context, 0.5 * t.weight});
      next.push_back({mid, t.hi, with(t.context, t.lo, mid), 0.5 * t.weight});
    }
    level = std::move(next);
  }
  // Every distinct coalition once (in first-use order, the same on every rank).
  std::map<Mask, size_t> index;
  std::vector<Mask> masks;
  auto slot = [&](const Mask& m) {
    auto [it, fresh] = index.emplace(m, masks.size());
    if (fresh) masks.push_back(m);
    return it->second;
  };
  slot(empty_mask(M));
  slot(full_mask(M));
  std::vector<std::pair<size_t, size_t>> at;
  for (const OwenTask& t : leaves) {
    const size_t off = slot(t.context);
    at.emplace_back(off, slot(with(t.context, t.lo, t.hi)));
  }
  const std::vector<double> val = v(masks);
  Attribution a;
  a.method = "partition";
  a.phi.assign(size_t(M), 0.0);
  a.base_value = val[0];
  a.full_value = val[1];
  a.evaluations = int64_t(masks.size());
  for (size_t k = 0; k < leaves.size(); ++k)
    a.phi[size_t(leaves[k].lo)] += leaves[k].weight * (val[at[k].second] - val[at[k].first]);
  return a;
}

}  // namespace tessera::explain
