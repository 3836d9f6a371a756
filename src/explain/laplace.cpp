#include "src/explain/laplace.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "src/runtime/error.hpp"

namespace tessera::explain {

namespace {

// logits of one row in double
void head_logits(const double* phi, int64_t C, const std::vector<double>& W, const std::vector<double>& b, int64_t K,
                 std::vector<double>& f) {
  f.assign(size_t(K), 0.0);
  for (int64_t k = 0; k < K; ++k) {
    double s = b[size_t(k)];
    for (int64_t c = 0; c < C; ++c) s += W[size_t(k * C + c)] * phi[c];
    f[size_t(k)] = s;
  }
}

void softmax_inplace(std::vector<double>& f) {
  const double mx = *std::max_element(f.begin(), f.end());
  double s = 0;
  for (double& v : f) s += v = std::exp(v - mx);
  for (double& v : f) v /= s;
}

void check_shapes(const std::vector<double>& features, int64_t C, const std::vector<double>& W,
                  const std::vector<double>& b, int64_t K) {
  require(C >= 1 && K >= 1 && features.size() % size_t(C) == 0, "laplace: features are not [n, C]");
  require(W.size() == size_t(K * C) && b.size() == size_t(K), "laplace: the head is not W [K, C], b [K]");
}

// Per row: f* and σ² of the linearised predictive.
void predictive_moments(const LastLayerLaplace& la, const double* phi, std::vector<double>& f,
                        std::vector<double>& var) {
  head_logits(phi, la.C, la.W, la.b, la.K, f);
  var.assign(size_t(la.K), 0.0);
  for (int64_t k = 0; k < la.K; ++k) {
    double v = 1.0 / (la.hb[size_t(k)] + la.prior_precision);
    for (int64_t c = 0; c < la.C; ++c) v += phi[c] * phi[c] / (la.hW[size_t(k * la.C + c)] + la.prior_precision);
    var[size_t(k)] = v;
  }
}

}  // namespace

void laplace_diag_hessian(const std::vector<double>& features, int64_t C, const std::vector<int>& labels,
                          const std::vector<double>& W, const std::vector<double>& b, int64_t K,
                          std::vector<double>& hW, std::vector<double>& hb, double& loss) {
  check_shapes(features, C, W, b, K);
  const int64_t n = int64_t(features.size()) / C;
  require(int64_t(labels.size()) == n, "laplace: features and labels disagree in size");
  hW.assign(size_t(K * C), 0.0);
  hb.assign(size_t(K), 0.0);
  loss = 0;
  std::vector<double> f;
  for (int64_t i = 0; i < n; ++i) {
    const double* phi = features.data() + i * C;
    const int y = labels[size_t(i)];
    require(y >= 0 && y < K, "laplace: sample " + std::to_string(i) + " has label " + std::to_string(y) +
                                 " outside [0, " + std::to_string(K) + ")");
    head_logits(phi, C, W, b, K, f);
    const double mx = *std::max_element(f.begin(), f.end());
    double se = 0;
    for (double v : f) se += std::exp(v - mx);
    loss += mx + std::log(se) - f[size_t(y)];
    softmax_inplace(f);
    for (int64_t k = 0; k < K; ++k) {
      const double w = f[size_t(k)] * (1 - f[size_t(k)]);
      hb[size_t(k)] += w;
      for (int64_t c = 0; c < C; ++c) hW[size_t(k * C + c)] += w * phi[c] * phi[c];
    }
  }
}

double laplace_log_marginal(const LastLayerLaplace& la, double lambda) {
  double sq = 0, logdet = 0;
  for (double v : la.W) sq += v * v;
  for (double v : la.b) sq += v * v;
  for (double h : la.hW) logdet += std::log(h + lambda);
  for (double h : la.hb) logdet += std::log(h + lambda);
  const double P = double(la.W.size() + la.b.size());
  return -la.loss - 0.5 * lambda * sq + 0.5 * P * std::log(lambda) - 0.5 * logdet;
}

LastLayerLaplace fit_last_layer_laplace(const std::vector<double>& features, int64_t C, const std::vector<int>& labels,
                                        const std::vector<double>& W, const std::vector<double>& b, int64_t K) {
  LastLayerLaplace la;
  la.K = K;
  la.C = C;
  la.W = W;
  la.b = b;
  la.n = int64_t(labels.size());
  require(la.n >= 1, "laplace: no samples to fit on");
  laplace_diag_hessian(features, C, labels, W, b, K, la.hW, la.hb, la.loss);
  auto f = [&](double u) { return laplace_log_marginal(la, std::exp(u)); };
  const int G = 241;
  const double lo = std::log(1e-6), hi = std::log(1e6), du = (hi - lo) / (G - 1);
  int best = 0;
  double fb = -INFINITY;
  for (int g = 0; g < G; ++g) {
    const double v = f(lo + g * du);
    if (v > fb) fb = v, best = g;
  }
  double a = lo + std::max(best - 1, 0) * du, z = lo + std::min(best + 1, G - 1) * du;
  const double gr = (std::sqrt(5.0) - 1) / 2;
  double c = z - gr * (z - a), d = a + gr * (z - a), fc = f(c), fd = f(d);
  while (z - a > 1e-9) {
    if (fc >= fd) z = d, d = c, fd = fc, c = z - gr * (z - a), fc = f(c);
    else a = c, c = d, fc = fd, d = a + gr * (z - a), fd = f(d);
  }
  double u = (a + z) / 2;
  if (f(u) < fb) u = lo + best * du;  // the grid point at an edge of the range
  la.prior_precision = std::exp(u);
  la.log_marginal_likelihood = f(u);
  return la;
}

std::vector<double> laplace_probit(const LastLayerLaplace& la, const std::vector<double>& features) {
  check_shapes(features, la.C, la.W, la.b, la.K);
  const int64_t n = int64_t(features.size()) / la.C;
  std::vector<double> p(size_t(n * la.K)), f, var;
  for (int64_t i = 0; i < n; ++i) {
    predictive_moments(la, features.data() + i * la.C, f, var);
    for (int64_t k = 0; k < la.K; ++k) f[size_t(k)] /= std::sqrt(1 + M_PI * var[size_t(k)] / 8);
    softmax_inplace(f);
    std::copy(f.begin(), f.end(), p.begin() + i * la.K);
  }
  return p;
}

std::vector<std::vector<double>> laplace_samples(const LastLayerLaplace& la, const std::vector<double>& features, int S,
                                                 uint64_t seed) {
  check_shapes(features, la.C, la.W, la.b, la.K);
  require(S >= 1, "laplace: --laplace-samples must be >= 1");
  const int64_t n = int64_t(features.size()) / la.C;
  std::vector<std::vector<double>> out(size_t(S), std::vector<double>(size_t(n * la.K)));
  std::vector<double> f, var, g(size_t(la.K));
  for (int64_t i = 0; i < n; ++i) {
    predictive_moments(la, features.data() + i * la.C, f, var);
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + uint64_t(i));
    std::normal_distribution<double> z(0, 1);
    for (int s = 0; s < S; ++s) {
      for (int64_t k = 0; k < la.K; ++k) g[size_t(k)] = f[size_t(k)] + std::sqrt(var[size_t(k)]) * z(rng);
      softmax_inplace(g);
      std::copy(g.begin(), g.end(), out[size_t(s)].begin() + i * la.K);
    }
  }
  return out;
}

}  // namespace tessera::explain
