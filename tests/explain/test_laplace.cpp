// Last-layer Laplace (src/explain/laplace.hpp): the diagonal Hessian against central
// finite differences of the loss, the prior precision a maximum of the evidence, the
// probit and Monte-Carlo predictives against their limits.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "src/explain/laplace.hpp"

using namespace tessera::explain;

namespace {

struct Tiny {
  int64_t n = 40, C = 5, K = 3;
  std::vector<double> phi, W, b;
  std::vector<int> y;
  Tiny() {
    std::mt19937_64 rng(3);
    std::normal_distribution<double> g(0, 1);
    for (int64_t i = 0; i < n * C; ++i) phi.push_back(g(rng));
    for (int64_t i = 0; i < K * C; ++i) W.push_back(0.7 * g(rng));
    for (int64_t k = 0; k < K; ++k) b.push_back(0.3 * g(rng));
    for (int64_t i = 0; i < n; ++i) y.push_back(int(rng() % uint64_t(K)));
  }
  // the loss written out independently of laplace.cpp
  double loss(const std::vector<double>& w, const std::vector<double>& bb) const {
    double L = 0;
    for (int64_t i = 0; i < n; ++i) {
      std::vector<double> f(static_cast<size_t>(K));
      for (int64_t k = 0; k < K; ++k) {
        f[size_t(k)] = bb[size_t(k)];
        for (int64_t c = 0; c < C; ++c) f[size_t(k)] += w[size_t(k * C + c)] * phi[size_t(i * C + c)];
      }
      double se = 0;
      for (double v : f) se += std::exp(v);
      L += std::log(se) - f[size_t(y[size_t(i)])];
    }
    return L;
  }
};

}  // namespace

TEST(Laplace, DiagonalHessianEqualsFiniteDifferences) {
  const Tiny t;
  std::vector<double> hW, hb;
  double L = 0;
  laplace_diag_hessian(t.phi, t.C, t.y, t.W, t.b, t.K, hW, hb, L);
  EXPECT_NEAR(L, t.loss(t.W, t.b), 1e-10);
  const double h = 1e-4;
  for (size_t j = 0; j < t.W.size(); ++j) {
    auto wp = t.W, wm = t.W;
    wp[j] += h, wm[j] -= h;
    const double fd = (t.loss(wp, t.b) - 2 * t.loss(t.W, t.b) + t.loss(wm, t.b)) / (h * h);
    EXPECT_NEAR(hW[j], fd, 1e-4 * std::max(1.0, std::fabs(fd))) << "W " << j;
  }
  for (size_t k = 0; k < t.b.size(); ++k) {
    auto bp = t.b, bm = t.b;
    bp[k] += h, bm[k] -= h;
    const double fd = (t.loss(t.W, bp) - 2 * t.loss(t.W, t.b) + t.loss(t.W, bm)) / (h * h);
    EXPECT_NEAR(hb[k], fd, 1e-4 * std::max(1.0, std::fabs(fd))) << "b " << k;
  }
}

TEST(Laplace, PriorPrecisionMaximisesTheEvidence) {
  const Tiny t;
  const LastLayerLaplace la = fit_last_layer_laplace(t.phi, t.C, t.y, t.W, t.b, t.K);
  EXPECT_GT(la.prior_precision, 1e-6);
  EXPECT_LT(la.prior_precision, 1e6);
  const double best = laplace_log_marginal(la, la.prior_precision);
  EXPECT_NEAR(best, la.log_marginal_likelihood, 1e-12);
  for (double r : {0.5, 0.9, 0.99, 1.01, 1.1, 2.0})
    EXPECT_LE(laplace_log_marginal(la, la.prior_precision * r), best + 1e-12) << r;
  // MacKay's fixed point holds at the optimum: λ = γ / ‖θ*‖², γ = Σ_j h_j / (h_j + λ)
  double gamma = 0, sq = 0;
  for (double v : la.hW) gamma += v / (v + la.prior_precision);
  for (double v : la.hb) gamma += v / (v + la.prior_precision);
  for (double v : t.W) sq += v * v;
  for (double v : t.b) sq += v * v;
  // d/dλ evidence = -sq/2 + P/(2λ) - ½ Σ 1/(h+λ) = 0  ⇔  λ·sq = P − Σ λ/(h+λ) = γ
  EXPECT_NEAR(la.prior_precision * sq / gamma, 1.0, 1e-6);
}

TEST(Laplace, PredictivesAgainstTheirLimits) {
  const Tiny t;
  LastLayerLaplace la = fit_last_layer_laplace(t.phi, t.C, t.y, t.W, t.b, t.K);
  // probit against the formula evaluated here from the fitted Hessian
  const auto p = laplace_probit(la, t.phi);
  double conf = 0, conf0 = 0;
  for (int64_t i = 0; i < t.n; ++i) {
    std::vector<double> g(static_cast<size_t>(t.K)), m(static_cast<size_t>(t.K));
    double se = 0, se0 = 0;
    for (int64_t k = 0; k < t.K; ++k) {
      double f = t.b[size_t(k)], v = 1 / (la.hb[size_t(k)] + la.prior_precision);
      for (int64_t c = 0; c < t.C; ++c) {
        const double x = t.phi[size_t(i * t.C + c)];
        f += t.W[size_t(k * t.C + c)] * x;
        v += x * x / (la.hW[size_t(k * t.C + c)] + la.prior_precision);
      }
      m[size_t(k)] = std::exp(f);
      se0 += m[size_t(k)];
      g[size_t(k)] = std::exp(f / std::sqrt(1 + M_PI * v / 8));
      se += g[size_t(k)];
    }
    double mx = 0, mx0 = 0;
    for (int64_t k = 0; k < t.K; ++k) {
      EXPECT_NEAR(p[size_t(i * t.K + k)], g[size_t(k)] / se, 1e-12);
      mx = std::max(mx, g[size_t(k)] / se);
      mx0 = std::max(mx0, m[size_t(k)] / se0);
    }
    conf += mx / double(t.n);
    conf0 += mx0 / double(t.n);
  }
  EXPECT_LT(conf, conf0) << "the Laplace predictive is on average less confident than the MAP";
  la.prior_precision = 1e12;  // (almost) no posterior variance: the MAP softmax
  const auto p0 = laplace_probit(la, t.phi);
  for (int64_t i = 0; i < t.n; ++i) {
    double se = 0;
    std::vector<double> f(static_cast<size_t>(t.K));
    for (int64_t k = 0; k < t.K; ++k) {
      f[size_t(k)] = t.b[size_t(k)];
      for (int64_t c = 0; c < t.C; ++c) f[size_t(k)] += t.W[size_t(k * t.C + c)] * t.phi[size_t(i * t.C + c)];
      se += std::exp(f[size_t(k)]);
    }
    for (int64_t k = 0; k < t.K; ++k) EXPECT_NEAR(p0[size_t(i * t.K + k)], std::exp(f[size_t(k)]) / se, 1e-9);
  }
  // MC with no variance = MAP; with the fitted variance its mean is close to probit
  const auto s0 = laplace_samples(la, t.phi, 3, 1);
  for (size_t j = 0; j < p0.size(); ++j) EXPECT_NEAR(s0[2][j], p0[j], 1e-5);
  la.prior_precision = fit_last_layer_laplace(t.phi, t.C, t.y, t.W, t.b, t.K).prior_precision;
  const auto s = laplace_samples(la, t.phi, 4000, 7);
  // (probit is an approximation of the same integral: close on average, not exact)
  double gap = 0, mean_gap = 0;
  for (size_t j = 0; j < p.size(); ++j) {
    double m = 0;
    for (const auto& v : s) m += v[j] / double(s.size());
    gap = std::max(gap, std::fabs(m - p[j]));
    mean_gap += std::fabs(m - p[j]) / double(p.size());
  }
  EXPECT_LT(gap, 0.1) << "MC and probit predictives disagree";
  EXPECT_LT(mean_gap, 0.02) << "MC and probit predictives disagree";
}

namespace {

// Dense (G ⊗ A + λI) over θ = (W̃[k, c]) index k·(C+1) + c; inverse and log det by Gauss–Jordan.
std::vector<double> dense_kron(const std::vector<double>& A, const std::vector<double>& G, int64_t C1, int64_t K,
                               double lambda) {
  const int64_t P = K * C1;
  std::vector<double> H(size_t(P * P));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C1; ++c)
      for (int64_t k2 = 0; k2 < K; ++k2)
        for (int64_t c2 = 0; c2 < C1; ++c2)
          H[size_t((k * C1 + c) * P + k2 * C1 + c2)] = G[size_t(k * K + k2)] * A[size_t(c * C1 + c2)] +
                                                      ((k == k2 && c == c2) ? lambda : 0.0);
  return H;
}
std::vector<double> invert(std::vector<double> M, int64_t P, double& logdet) {
  std::vector<double> I(size_t(P * P), 0.0);
  for (int64_t i = 0; i < P; ++i) I[size_t(i * P + i)] = 1;
  logdet = 0;
  for (int64_t c = 0; c < P; ++c) {
    int64_t piv = c;
    for (int64_t r = c + 1; r < P; ++r)
      if (std::fabs(M[size_t(r * P + c)]) > std::fabs(M[size_t(piv * P + c)])) piv = r;
    for (int64_t k = 0; k < P; ++k) std::swap(M[size_t(c * P + k)], M[size_t(piv * P + k)]), std::swap(I[size_t(c * P + k)], I[size_t(piv * P + k)]);
    const double d = M[size_t(c * P + c)];
    logdet += std::log(std::fabs(d));
    for (int64_t k = 0; k < P; ++k) M[size_t(c * P + k)] /= d, I[size_t(c * P + k)] /= d;
    for (int64_t r = 0; r < P; ++r) {
      if (r == c) continue;
      const double m = M[size_t(r * P + c)];
      for (int64_t k = 0; k < P; ++k) M[size_t(r * P + k)] -= m * M[size_t(c * P + k)], I[size_t(r * P + k)] -= m * I[size_t(c * P + k)];
    }
  }
  return I;
}

}  // namespace

TEST(Laplace, KronFactorsEqualTheFullHessianForOneSample) {
  // n = 1: Λ ⊗ φ̃φ̃ᵀ is exact; compare every entry with mixed finite differences.
  Tiny t;
  t.n = 1;
  t.C = 3;
  t.phi.resize(3);
  t.W.resize(size_t(t.K * 3));
  t.y.resize(1);
  std::vector<double> A, G;
  laplace_kron_factors(t.phi, t.C, t.W, t.b, t.K, A, G);
  const int64_t C1 = 4, P = t.K * C1;
  auto loss_at = [&](const std::vector<double>& th) {
    std::vector<double> w(size_t(t.K * t.C)), bb(size_t(t.K));
    for (int64_t k = 0; k < t.K; ++k) {
      for (int64_t c = 0; c < t.C; ++c) w[size_t(k * t.C + c)] = th[size_t(k * C1 + c)];
      bb[size_t(k)] = th[size_t(k * C1 + t.C)];
    }
    return t.loss(w, bb);
  };
  std::vector<double> th(static_cast<size_t>(P));
  for (int64_t k = 0; k < t.K; ++k) {
    for (int64_t c = 0; c < t.C; ++c) th[size_t(k * C1 + c)] = t.W[size_t(k * t.C + c)];
    th[size_t(k * C1 + t.C)] = t.b[size_t(k)];
  }
  const std::vector<double> H = dense_kron(A, G, C1, t.K, 0.0);
  const double h = 1e-3;
  for (int64_t i = 0; i < P; ++i)
    for (int64_t j = 0; j < P; ++j) {
      auto e = [&](double si, double sj) {
        auto x = th;
        x[size_t(i)] += si * h;
        x[size_t(j)] += sj * h;
        return loss_at(x);
      };
      const double fd = (e(1, 1) - e(1, -1) - e(-1, 1) + e(-1, -1)) / (4 * h * h);
      EXPECT_NEAR(H[size_t(i * P + j)], fd, 1e-5) << i << "," << j;
    }
}

TEST(Laplace, KronPredictiveAndEvidenceEqualDenseAlgebra) {
  Tiny t;  // n = 40, C = 5, K = 3
  const LastLayerLaplace la = fit_last_layer_laplace(t.phi, t.C, t.y, t.W, t.b, t.K, LaplaceStructure::Kron);
  std::vector<double> A, G;
  laplace_kron_factors(t.phi, t.C, t.W, t.b, t.K, A, G);
  const int64_t C1 = t.C + 1, P = t.K * C1;
  // eigendecomposition reconstructs A
  for (int64_t r = 0; r < C1; ++r)
    for (int64_t c = 0; c < C1; ++c) {
      double v = 0;
      for (int64_t i = 0; i < C1; ++i) v += la.U[size_t(r * C1 + i)] * la.a[size_t(i)] * la.U[size_t(c * C1 + i)];
      EXPECT_NEAR(v, A[size_t(r * C1 + c)], 1e-9);
    }
  double logdet = 0;
  const std::vector<double> inv = invert(dense_kron(A, G, C1, t.K, la.prior_precision), P, logdet);
  double sq = 0;
  for (double v : t.W) sq += v * v;
  for (double v : t.b) sq += v * v;
  const double evidence = -la.loss - 0.5 * la.prior_precision * sq + 0.5 * double(P) * std::log(la.prior_precision) -
                          0.5 * logdet;
  EXPECT_NEAR(la.log_marginal_likelihood, evidence, 1e-8);
  for (double r : {0.8, 1.25}) EXPECT_LE(laplace_log_marginal(la, la.prior_precision * r), la.log_marginal_likelihood + 1e-12);
  // Σ_f = J (G⊗A + λI)⁻¹ Jᵀ, J[k, (k', c)] = δ_kk' φ̃_c
  for (int64_t n = 0; n < 3; ++n) {
    const double* phi = t.phi.data() + n * t.C;
    std::vector<double> x(phi, phi + t.C);
    x.push_back(1);
    const auto cov = laplace_logit_covariance(la, phi);
    for (int64_t k = 0; k < t.K; ++k)
      for (int64_t k2 = 0; k2 < t.K; ++k2) {
        double v = 0;
        for (int64_t c = 0; c < C1; ++c)
          for (int64_t c2 = 0; c2 < C1; ++c2) v += x[size_t(c)] * inv[size_t((k * C1 + c) * P + k2 * C1 + c2)] * x[size_t(c2)];
        EXPECT_NEAR(cov[size_t(k * t.K + k2)], v, 1e-9 * std::max(1.0, std::fabs(v))) << n << " " << k << " " << k2;
      }
  }
  // MC over the full Gaussian: sample mean near probit (approximation), probabilities valid
  const auto s = laplace_samples(la, t.phi, 2000, 5);
  const auto p = laplace_probit(la, t.phi);
  double mean_gap = 0;
  for (size_t j = 0; j < p.size(); ++j) {
    double m = 0;
    for (const auto& v : s) m += v[j] / double(s.size());
    mean_gap += std::fabs(m - p[j]) / double(p.size());
  }
  EXPECT_LT(mean_gap, 0.03);
}

// A head without bias (GPT-2 / Llama `score` [K, C]): θ = W only. The full Hessian of
// L(W) from mixed finite differences of the loss (written in this file) is the dense
// reference: its diagonal is the diagonal Hessian, for one sample it equals G ⊗ A with
// A = Σ φφᵀ (no bias row); the evidence has P = K·C and the dense log det; the
// predictive covariance is J (H + λI)⁻¹ Jᵀ with J = I_K ⊗ φᵀ.
TEST(Laplace, NoBiasHeadAgainstTheDenseHessian) {
  Tiny t;
  const std::vector<double> zero(static_cast<size_t>(t.K), 0.0), none;
  const int64_t P = t.K * t.C;
  auto dense_fd_hessian = [&](const Tiny& u) {
    std::vector<double> H(size_t(P * P));
    const double h = 1e-3;
    for (int64_t i = 0; i < P; ++i)
      for (int64_t j = 0; j < P; ++j) {
        auto e = [&](double si, double sj) {
          auto w = u.W;
          w[size_t(i)] += si * h;
          w[size_t(j)] += sj * h;
          return u.loss(w, zero);
        };
        H[size_t(i * P + j)] = (e(1, 1) - e(1, -1) - e(-1, 1) + e(-1, -1)) / (4 * h * h);
      }
    return H;
  };
  // diagonal structure: hW = diag of the dense Hessian, no bias block
  std::vector<double> hW, hb;
  double L = 0;
  laplace_diag_hessian(t.phi, t.C, t.y, t.W, none, t.K, hW, hb, L);
  EXPECT_TRUE(hb.empty());
  EXPECT_NEAR(L, t.loss(t.W, zero), 1e-10);
  const std::vector<double> Hd = dense_fd_hessian(t);
  for (int64_t i = 0; i < P; ++i) EXPECT_NEAR(hW[size_t(i)], Hd[size_t(i * P + i)], 1e-4 * std::max(1.0, Hd[size_t(i * P + i)])) << i;
  // one sample: G ⊗ A is the whole dense Hessian
  Tiny one = t;
  one.n = 1;
  one.phi.resize(size_t(t.C));
  one.y.resize(1);
  std::vector<double> A, G;
  laplace_kron_factors(one.phi, one.C, one.W, none, one.K, A, G);
  ASSERT_EQ(A.size(), size_t(t.C * t.C));
  const std::vector<double> H1 = dense_fd_hessian(one), GA = dense_kron(A, G, t.C, t.K, 0.0);
  for (int64_t i = 0; i < P * P; ++i) EXPECT_NEAR(GA[size_t(i)], H1[size_t(i)], 1e-5) << i;
  // evidence and predictive covariance by dense algebra (kron), the probit variance (diag)
  const LastLayerLaplace la = fit_last_layer_laplace(t.phi, t.C, t.y, t.W, none, t.K, LaplaceStructure::Kron);
  laplace_kron_factors(t.phi, t.C, t.W, none, t.K, A, G);
  double logdet = 0;
  const std::vector<double> inv = invert(dense_kron(A, G, t.C, t.K, la.prior_precision), P, logdet);
  double sq = 0;
  for (double v : t.W) sq += v * v;
  EXPECT_NEAR(la.log_marginal_likelihood,
              -la.loss - 0.5 * la.prior_precision * sq + 0.5 * double(P) * std::log(la.prior_precision) - 0.5 * logdet, 1e-8);
  for (double r : {0.8, 1.25}) EXPECT_LE(laplace_log_marginal(la, la.prior_precision * r), la.log_marginal_likelihood + 1e-12);
  for (int64_t n = 0; n < 3; ++n) {
    const double* phi = t.phi.data() + n * t.C;
    const auto cov = laplace_logit_covariance(la, phi);
    for (int64_t k = 0; k < t.K; ++k)
      for (int64_t k2 = 0; k2 < t.K; ++k2) {
        double v = 0;
        for (int64_t c = 0; c < t.C; ++c)
          for (int64_t c2 = 0; c2 < t.C; ++c2) v += phi[c] * inv[size_t((k * t.C + c) * P + k2 * t.C + c2)] * phi[c2];
        EXPECT_NEAR(cov[size_t(k * t.K + k2)], v, 1e-9 * std::max(1.0, std::fabs(v))) << n << " " << k << " " << k2;
      }
  }
  const LastLayerLaplace ld = fit_last_layer_laplace(t.phi, t.C, t.y, t.W, none, t.K);
  EXPECT_EQ(ld.hW.size(), size_t(P));
  const auto p = laplace_probit(ld, t.phi);
  double conf = 0, conf0 = 0;
  for (int64_t i = 0; i < t.n; ++i) {
    std::vector<double> g(static_cast<size_t>(t.K)), m(static_cast<size_t>(t.K));
    double se = 0, se0 = 0, sum = 0;
    for (int64_t k = 0; k < t.K; ++k) {
      double f = 0, v = 0;  // no bias, no bias variance
      for (int64_t c = 0; c < t.C; ++c) {
        const double x = t.phi[size_t(i * t.C + c)];
        f += t.W[size_t(k * t.C + c)] * x;
        v += x * x / (ld.hW[size_t(k * t.C + c)] + ld.prior_precision);
      }
      g[size_t(k)] = std::exp(f / std::sqrt(1 + M_PI * v / 8));
      m[size_t(k)] = std::exp(f);
      se += g[size_t(k)];
      se0 += m[size_t(k)];
    }
    double mx = 0, mx0 = 0;
    for (int64_t k = 0; k < t.K; ++k) {
      EXPECT_NEAR(p[size_t(i * t.K + k)], g[size_t(k)] / se, 1e-12);
      sum += p[size_t(i * t.K + k)];
      mx = std::max(mx, p[size_t(i * t.K + k)]);
      mx0 = std::max(mx0, m[size_t(k)] / se0);
    }
    EXPECT_NEAR(sum, 1.0, 1e-12);
    conf += mx / double(t.n);
    conf0 += mx0 / double(t.n);
  }
  EXPECT_LT(conf, conf0);
}
