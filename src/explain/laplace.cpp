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
    double s = b.empty() ? 0.0 : b[size_t(k)];
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
  require(W.size() == size_t(K * C) && (b.empty() || b.size() == size_t(K)),
          "laplace: the head is not W [K, C] with a bias b [K] or none");
}

// Per row: f* and the predictive covariance as Σ_j s_j v_j v_jᵀ (vecs [K, K] columns v_j).
void predictive_moments(const LastLayerLaplace& la, const double* phi, std::vector<double>& f, std::vector<double>& s,
                        std::vector<double>& vecs) {
  head_logits(phi, la.C, la.W, la.b, la.K, f);
  const int64_t K = la.K, C = la.C;
  s.assign(size_t(K), 0.0);
  if (la.structure == LaplaceStructure::Diagonal) {
    vecs.assign(size_t(K * K), 0.0);
    for (int64_t k = 0; k < K; ++k) {
      vecs[size_t(k * K + k)] = 1;
      double v = la.b.empty() ? 0.0 : 1.0 / (la.hb[size_t(k)] + la.prior_precision);
      for (int64_t c = 0; c < C; ++c) v += phi[c] * phi[c] / (la.hW[size_t(k * C + c)] + la.prior_precision);
      s[size_t(k)] = v;
    }
    return;
  }
  const bool bias = !la.b.empty();
  const int64_t C1 = C + (bias ? 1 : 0);
  vecs = la.V;
  std::vector<double> proj(static_cast<size_t>(C1));
  for (int64_t i = 0; i < C1; ++i) {
    double d = bias ? la.U[size_t(C * C1 + i)] : 0.0;  // the bias feature 1
    for (int64_t c = 0; c < C; ++c) d += la.U[size_t(c * C1 + i)] * phi[c];
    proj[size_t(i)] = d * d;
  }
  for (int64_t j = 0; j < K; ++j)
    for (int64_t i = 0; i < C1; ++i)
      s[size_t(j)] += proj[size_t(i)] / (std::max(la.g[size_t(j)], 0.0) * std::max(la.a[size_t(i)], 0.0) + la.prior_precision);
}

double log_det(const LastLayerLaplace& la, double lambda) {
  double ld = 0;
  if (la.structure == LaplaceStructure::Diagonal) {
    for (double h : la.hW) ld += std::log(h + lambda);
    for (double h : la.hb) ld += std::log(h + lambda);
  } else {
    for (double gj : la.g)
      for (double ai : la.a) ld += std::log(std::max(gj, 0.0) * std::max(ai, 0.0) + lambda);
  }
  return ld;
}

}  // namespace

void laplace_diag_hessian(const std::vector<double>& features, int64_t C, const std::vector<int>& labels,
                          const std::vector<double>& W, const std::vector<double>& b, int64_t K,
                          std::vector<double>& hW, std::vector<double>& hb, double& loss) {
  check_shapes(features, C, W, b, K);
  const int64_t n = int64_t(features.size()) / C;
  require(int64_t(labels.size()) == n, "laplace: features and labels disagree in size");
  hW.assign(size_t(K * C), 0.0);
  hb.assign(b.empty() ? 0 : size_t(K), 0.0);  // no bias (GPT-2 / Llama score): no bias block
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
      if (!b.empty()) hb[size_t(k)] += w;
      for (int64_t c = 0; c < C; ++c) hW[size_t(k * C + c)] += w * phi[c] * phi[c];
    }
  }
}

double laplace_log_marginal(const LastLayerLaplace& la, double lambda) {
  double sq = 0, logdet = 0;
  for (double v : la.W) sq += v * v;
  for (double v : la.b) sq += v * v;
  logdet = log_det(la, lambda);
  const double P = double(la.W.size() + la.b.size());
  return -la.loss - 0.5 * lambda * sq + 0.5 * P * std::log(lambda) - 0.5 * logdet;
}

void symmetric_eigen(std::vector<double> m, int64_t n, std::vector<double>& evals, std::vector<double>& evecs) {
  evecs.assign(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) evecs[size_t(i * n + i)] = 1;
  auto at = [&](int64_t r, int64_t c) -> double& { return m[size_t(r * n + c)]; };
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0, diag = 0;
    for (int64_t p = 0; p < n; ++p) {
      diag += at(p, p) * at(p, p);
      for (int64_t q = p + 1; q < n; ++q) off += at(p, q) * at(p, q);
    }
    if (off <= 1e-30 * std::max(diag, 1e-300)) break;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        const double apq = at(p, q);
        if (std::fabs(apq) < 1e-300) continue;
        const double theta = (at(q, q) - at(p, p)) / (2 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), sn = t * c;
        for (int64_t k = 0; k < n; ++k) {  // columns p, q
          const double mkp = at(k, p), mkq = at(k, q);
          at(k, p) = c * mkp - sn * mkq;
          at(k, q) = sn * mkp + c * mkq;
        }
        for (int64_t k = 0; k < n; ++k) {  // rows p, q
          const double mpk = at(p, k), mqk = at(q, k);
          at(p, k) = c * mpk - sn * mqk;
          at(q, k) = sn * mpk + c * mqk;
        }
        for (int64_t k = 0; k < n; ++k) {
          double& vp = evecs[size_t(k * n + p)];
          double& vq = evecs[size_t(k * n + q)];
          const double a = vp, b = vq;
          vp = c * a - sn * b;
          vq = sn * a + c * b;
        }
      }
  }
  evals.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i) evals[size_t(i)] = at(i, i);
}

void laplace_kron_factors(const std::vector<double>& features, int64_t C, const std::vector<double>& W,
                          const std::vector<double>& b, int64_t K, std::vector<double>& A, std::vector<double>& G) {
  check_shapes(features, C, W, b, K);
  const bool bias = !b.empty();
  const int64_t n = int64_t(features.size()) / C, C1 = C + (bias ? 1 : 0);
  require(n >= 1, "laplace: no samples");
  A.assign(size_t(C1 * C1), 0.0);
  G.assign(size_t(K * K), 0.0);
  std::vector<double> f, x(static_cast<size_t>(C1));
  for (int64_t i = 0; i < n; ++i) {
    const double* phi = features.data() + i * C;
    std::copy(phi, phi + C, x.begin());
    if (bias) x[size_t(C)] = 1;
    for (int64_t r = 0; r < C1; ++r)
      for (int64_t c = 0; c < C1; ++c) A[size_t(r * C1 + c)] += x[size_t(r)] * x[size_t(c)];
    head_logits(phi, C, W, b, K, f);
    softmax_inplace(f);
    for (int64_t r = 0; r < K; ++r)
      for (int64_t c = 0; c < K; ++c)
        G[size_t(r * K + c)] += ((r == c ? f[size_t(r)] : 0.0) - f[size_t(r)] * f[size_t(c)]) / double(n);
  }
}

std::vector<double> laplace_logit_covariance(const LastLayerLaplace& la, const double* phi) {
  std::vector<double> f, s, v, cov(size_t(la.K * la.K), 0.0);
  predictive_moments(la, phi, f, s, v);
  for (int64_t r = 0; r < la.K; ++r)
    for (int64_t c = 0; c < la.K; ++c)
      for (int64_t j = 0; j < la.K; ++j)
        cov[size_t(r * la.K + c)] += s[size_t(j)] * v[size_t(r * la.K + j)] * v[size_t(c * la.K + j)];
  return cov;
}

LastLayerLaplace fit_last_layer_laplace(const std::vector<double>& features, int64_t C, const std::vector<int>& labels,
                                        const std::vector<double>& W, const std::vector<double>& b, int64_t K,
                                        LaplaceStructure structure) {
  LastLayerLaplace la;
  la.structure = structure;
  la.K = K;
  la.C = C;
  la.W = W;
  la.b = b;
  la.n = int64_t(labels.size());
  require(la.n >= 1, "laplace: no samples to fit on");
  laplace_diag_hessian(features, C, labels, W, b, K, la.hW, la.hb, la.loss);
  if (structure == LaplaceStructure::Kron) {
    std::vector<double> A, G;
    laplace_kron_factors(features, C, W, b, K, A, G);
    symmetric_eigen(A, C + (b.empty() ? 0 : 1), la.a, la.U);
    symmetric_eigen(G, K, la.g, la.V);
  }
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
  std::vector<double> p(size_t(n * la.K)), f, sv, vecs;
  for (int64_t i = 0; i < n; ++i) {
    predictive_moments(la, features.data() + i * la.C, f, sv, vecs);
    for (int64_t k = 0; k < la.K; ++k) {
      double var = 0;
      for (int64_t j = 0; j < la.K; ++j) var += sv[size_t(j)] * vecs[size_t(k * la.K + j)] * vecs[size_t(k * la.K + j)];
      f[size_t(k)] /= std::sqrt(1 + M_PI * var / 8);
    }
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
  std::vector<double> f, sv, vecs, g(size_t(la.K));
  for (int64_t i = 0; i < n; ++i) {
    predictive_moments(la, features.data() + i * la.C, f, sv, vecs);
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + uint64_t(i));
    std::normal_distribution<double> z(0, 1);
    for (int s = 0; s < S; ++s) {
      g = f;
      for (int64_t j = 0; j < la.K; ++j) {
        const double zj = std::sqrt(std::max(sv[size_t(j)], 0.0)) * z(rng);
        for (int64_t k = 0; k < la.K; ++k) g[size_t(k)] += zj * vecs[size_t(k * la.K + j)];
      }
      softmax_inplace(g);
      std::copy(g.begin(), g.end(), out[size_t(s)].begin() + i * la.K);
    }
  }
  return out;
}

}  // namespace tessera::explain
