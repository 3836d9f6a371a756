#include "src/model/smote_rows.hpp"
#include <algorithm>
#include <cmath>
#include <numeric>
#include "kernels/counter_rng.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

namespace {
constexpr uint32_t kSmoteSite = 0x53a07e01u;  // RNG stream of SMOTE draws
}

std::vector<char> minority_classes(const std::vector<int32_t>& labels, int num_labels) {
  require(num_labels > 0, "minority_classes: num_labels must be positive");
  std::vector<int64_t> n(size_t(num_labels), 0);
  for (int32_t y : labels)
    if (y >= 0 && y < num_labels) ++n[size_t(y)];
  const int64_t top = *std::max_element(n.begin(), n.end());
  std::vector<char> m(size_t(num_labels), 0);
  for (size_t c = 0; c < n.size(); ++c) m[c] = n[c] > 0 && n[c] < top ? 1 : 0;
  return m;
}

std::vector<int64_t> nearest_neighbours(const double* x, const std::vector<double>& candidates, int64_t C, int k) {
  require(C > 0 && candidates.size() % size_t(C) == 0, "nearest_neighbours: candidates are not rows of width C");
  const int64_t n = int64_t(candidates.size()) / C;
  std::vector<double> d(size_t(n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t j = 0; j < C; ++j) {
      const double t = candidates[size_t(i * C + j)] - x[j];
      s += t * t;
    }
    d[size_t(i)] = s;
  }
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  const int64_t m = std::min<int64_t>(std::max(k, 0), n);
  std::partial_sort(idx.begin(), idx.begin() + m, idx.end(),
                    [&](int64_t a, int64_t b) { return d[size_t(a)] < d[size_t(b)] || (d[size_t(a)] == d[size_t(b)] && a < b); });
  idx.resize(size_t(m));
  return idx;
}

SmoteRows::SmoteRows(SmoteOptions opt, int64_t width) : opt_(std::move(opt)), C_(width) {
  require(opt_.ratio >= 0 && std::isfinite(opt_.ratio), "train.smote_ratio must be >= 0");
  require(opt_.k >= 1, "train.smote_k must be >= 1");
  require(opt_.bank_size >= 0, "SMOTE bank size must be >= 0");
  require(C_ > 0, "SMOTE: head input width must be positive");
  bank_.resize(opt_.minority.size());
}

int64_t SmoteRows::bank_rows(int32_t label) const {
  return label >= 0 && size_t(label) < bank_.size() ? int64_t(bank_[size_t(label)].size()) : 0;
}

SmoteBatch SmoteRows::synthesize(const double* pooled, const int32_t* labels, int B, int max_rows, uint64_t step,
                                 uint64_t rank) {
  SmoteBatch out;
  const RngKey key{opt_.seed, step, uint32_t(rank), kSmoteSite};
  uint64_t draw = 0;
  auto minority = [&](int32_t y) { return y >= 0 && size_t(y) < opt_.minority.size() && opt_.minority[size_t(y)]; };
  const double whole = std::floor(opt_.ratio), frac = opt_.ratio - whole;
  for (int b = 0; b < B && opt_.ratio > 0; ++b) {
    const int32_t y = labels[b];
    if (!minority(y)) continue;
    const double* x = pooled + int64_t(b) * C_;
    // candidates: bank (oldest first), then the batch's other rows of class y
    std::vector<double> cand;
    for (const auto& v : bank_[size_t(y)]) cand.insert(cand.end(), v.begin(), v.end());
    for (int o = 0; o < B; ++o)
      if (o != b && labels[o] == y) cand.insert(cand.end(), pooled + int64_t(o) * C_, pooled + int64_t(o + 1) * C_);
    const int64_t n = int64_t(whole) + (rng_uniform(key, draw++) < frac ? 1 : 0);
    if (cand.empty()) continue;
    const std::vector<int64_t> nn = nearest_neighbours(x, cand, C_, opt_.k);
    for (int64_t r = 0; r < n && out.count() < max_rows; ++r) {
      const int64_t pick = nn[size_t(std::min<double>(double(nn.size()) - 1,
                                                      std::floor(rng_uniform(key, draw++) * double(nn.size()))))];
      const double lam = rng_uniform(key, draw++);
      const double* z = cand.data() + pick * C_;
      for (int64_t j = 0; j < C_; ++j) out.rows.push_back(x[j] + lam * (z[j] - x[j]));
      out.labels.push_back(y);
      out.source.push_back(b);
      out.lambda.push_back(lam);
    }
  }
  for (int b = 0; b < B; ++b) {
    const int32_t y = labels[b];
    if (!minority(y) || opt_.bank_size == 0) continue;
    auto& q = bank_[size_t(y)];
    q.emplace_back(pooled + int64_t(b) * C_, pooled + int64_t(b + 1) * C_);
    while (int64_t(q.size()) > opt_.bank_size) q.pop_front();
  }
  return out;
}

}  // namespace tessera
