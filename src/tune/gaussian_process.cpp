#include "src/tune/gaussian_process.hpp"
#include <algorithm>
#include <cmath>
#include "src/runtime/error.hpp"

namespace tessera {

namespace {

constexpr double kSqrt5 = 2.23606797749978969640;

// In-place Cholesky of the n×n SPD matrix A (row-major, lower triangle); false if not SPD.
bool cholesky(std::vector<double>& A, int n) {
  for (int j = 0; j < n; ++j) {
    double s = A[size_t(j) * n + j];
    for (int k = 0; k < j; ++k) s -= A[size_t(j) * n + k] * A[size_t(j) * n + k];
    if (!(s > 0)) return false;
    const double ljj = std::sqrt(s);
    A[size_t(j) * n + j] = ljj;
    for (int i = j + 1; i < n; ++i) {
      double t = A[size_t(i) * n + j];
      for (int k = 0; k < j; ++k) t -= A[size_t(i) * n + k] * A[size_t(j) * n + k];
      A[size_t(i) * n + j] = t / ljj;
    }
    for (int i = 0; i < j; ++i) A[size_t(i) * n + j] = 0;
  }
  return true;
}

// Solves L z = b (forward) in place.
void solve_lower(const std::vector<double>& L, int n, double* b) {
  for (int i = 0; i < n; ++i) {
    double s = b[i];
    for (int k = 0; k < i; ++k) s -= L[size_t(i) * n + k] * b[k];
    b[i] = s / L[size_t(i) * n + i];
  }
}

// Solves Lᵀ z = b (backward) in place.
void solve_upper_t(const std::vector<double>& L, int n, double* b) {
  for (int i = n - 1; i >= 0; --i) {
    double s = b[i];
    for (int k = i + 1; k < n; ++k) s -= L[size_t(k) * n + i] * b[k];
    b[i] = s / L[size_t(i) * n + i];
  }
}

double normal_pdf(double z) { return std::exp(-0.5 * z * z) / std::sqrt(2.0 * M_PI); }
double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

}  // namespace

GaussianProcess::GaussianProcess(std::vector<double> X, std::vector<double> y, int d, GPHyper h)
    : X_(std::move(X)), y_(std::move(y)), n_(int(y_.size())), d_(d), h_(std::move(h)) {
  require(int(h_.length_scales.size()) == d_, "GP: one length scale per input dimension");
  std::vector<double> K(size_t(n_) * n_);
  for (int i = 0; i < n_; ++i)
    for (int j = 0; j <= i; ++j) {
      const double k = kernel(&X_[size_t(i) * d_], &X_[size_t(j) * d_]) + (i == j ? h_.noise_var : 0.0);
      K[size_t(i) * n_ + j] = K[size_t(j) * n_ + i] = k;
    }
  // Jitter on failure (near-duplicate inputs with tiny noise).
  double jitter = 0;
  std::vector<double> A = K;
  while (!cholesky(A, n_)) {
    jitter = jitter == 0 ? 1e-10 * h_.signal_var : jitter * 10;
    require(jitter < h_.signal_var, "GP: kernel matrix is not positive definite");
    A = K;
    for (int i = 0; i < n_; ++i) A[size_t(i) * n_ + i] += jitter;
  }
  L_ = std::move(A);
  alpha_ = y_;
  solve_lower(L_, n_, alpha_.data());
  solve_upper_t(L_, n_, alpha_.data());
  double quad = 0, logdet = 0;
  for (int i = 0; i < n_; ++i) {
    quad += y_[size_t(i)] * alpha_[size_t(i)];
    logdet += std::log(L_[size_t(i) * n_ + i]);
  }
  lml_ = -0.5 * quad - logdet - 0.5 * n_ * std::log(2.0 * M_PI);
}

double GaussianProcess::kernel(const double* a, const double* b) const {
  double r2 = 0;
  for (int k = 0; k < d_; ++k) {
    const double t = (a[k] - b[k]) / h_.length_scales[size_t(k)];
    r2 += t * t;
  }
  const double r = std::sqrt(r2);
  return h_.signal_var * (1.0 + kSqrt5 * r + 5.0 / 3.0 * r2) * std::exp(-kSqrt5 * r);
}

void GaussianProcess::predict(const double* x, double& mean, double& var) const {
  std::vector<double> ks(static_cast<size_t>(n_));
  for (int i = 0; i < n_; ++i) ks[size_t(i)] = kernel(x, &X_[size_t(i) * d_]);
  mean = 0;
  for (int i = 0; i < n_; ++i) mean += ks[size_t(i)] * alpha_[size_t(i)];
  solve_lower(L_, n_, ks.data());  // v = L⁻¹k*, var = k** − vᵀv
  double vv = 0;
  for (double v : ks) vv += v * v;
  var = std::max(h_.signal_var - vv, 1e-12 * h_.signal_var);
}

std::vector<double> GaussianProcess::lml_gradient() const {
  // W = ααᵀ − K⁻¹ with K⁻¹ from the Cholesky factor (column by column).
  std::vector<double> Kinv(size_t(n_) * n_);
  std::vector<double> e(static_cast<size_t>(n_));
  for (int j = 0; j < n_; ++j) {
    std::fill(e.begin(), e.end(), 0.0);
    e[size_t(j)] = 1;
    solve_lower(L_, n_, e.data());
    solve_upper_t(L_, n_, e.data());
    for (int i = 0; i < n_; ++i) Kinv[size_t(i) * n_ + j] = e[size_t(i)];
  }
  std::vector<double> g(size_t(d_) + 2, 0.0);
  for (int i = 0; i < n_; ++i)
    for (int j = 0; j < n_; ++j) {
      const double w = alpha_[size_t(i)] * alpha_[size_t(j)] - Kinv[size_t(i) * n_ + j];
      const double* a = &X_[size_t(i) * d_];
      const double* b = &X_[size_t(j) * d_];
      double r2 = 0;
      for (int k = 0; k < d_; ++k) {
        const double t = (a[k] - b[k]) / h_.length_scales[size_t(k)];
        r2 += t * t;
      }
      const double r = std::sqrt(r2), ex = std::exp(-kSqrt5 * r);
      const double kval = h_.signal_var * (1.0 + kSqrt5 * r + 5.0 / 3.0 * r2) * ex;
      // ∂k/∂log ℓ_k = 5/3 s² (1 + √5 r) e^{−√5 r} (Δ_k/ℓ_k)²
      const double c = 5.0 / 3.0 * h_.signal_var * (1.0 + kSqrt5 * r) * ex;
      for (int k = 0; k < d_; ++k) {
        const double t = (a[k] - b[k]) / h_.length_scales[size_t(k)];
        g[size_t(k)] += 0.5 * w * c * t * t;
      }
      g[size_t(d_)] += 0.5 * w * kval;                               // ∂K/∂log s² = K (noise-free part)
      if (i == j) g[size_t(d_) + 1] += 0.5 * w * h_.noise_var;       // ∂K/∂log σ² = σ² I
    }
  return g;
}

GPHyper fit_gp_hyper(const std::vector<double>& X, const std::vector<double>& y, int d, int restarts,
                     std::mt19937_64& rng) {
  const double lo_l = std::log(0.01), hi_l = std::log(20.0), lo_s = std::log(0.05), hi_s = std::log(20.0),
               lo_n = std::log(1e-6), hi_n = std::log(0.5);
  auto to_hyper = [&](const std::vector<double>& t) {
    GPHyper h;
    for (int k = 0; k < d; ++k) h.length_scales.push_back(std::exp(t[size_t(k)]));
    h.signal_var = std::exp(t[size_t(d)]);
    h.noise_var = std::exp(t[size_t(d) + 1]);
    return h;
  };
  auto clamp_theta = [&](std::vector<double>& t) {
    for (int k = 0; k < d; ++k) t[size_t(k)] = std::clamp(t[size_t(k)], lo_l, hi_l);
    t[size_t(d)] = std::clamp(t[size_t(d)], lo_s, hi_s);
    t[size_t(d) + 1] = std::clamp(t[size_t(d) + 1], lo_n, hi_n);
  };
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  GPHyper best;
  double best_lml = -INFINITY;
  for (int r = 0; r <= restarts; ++r) {
    std::vector<double> t(size_t(d) + 2);
    if (r == 0) {
      for (int k = 0; k < d; ++k) t[size_t(k)] = std::log(0.5);
      t[size_t(d)] = 0;
      t[size_t(d) + 1] = std::log(1e-3);
    } else {
      for (int k = 0; k < d; ++k) t[size_t(k)] = std::log(0.05) + u01(rng) * (std::log(5.0) - std::log(0.05));
      t[size_t(d)] = std::log(0.3) + u01(rng) * (std::log(3.0) - std::log(0.3));
      t[size_t(d) + 1] = std::log(1e-5) + u01(rng) * (std::log(0.1) - std::log(1e-5));
    }
    // Adam ascent on the log marginal likelihood.
    std::vector<double> m(t.size(), 0.0), v(t.size(), 0.0);
    const double lr = 0.05, b1 = 0.9, b2 = 0.999;
    double prev = -INFINITY;
    for (int it = 1; it <= 150; ++it) {
      GaussianProcess gp(X, y, d, to_hyper(t));
      const double lml = gp.log_marginal_likelihood();
      if (lml > best_lml) best_lml = lml, best = gp.hyper();
      if (std::abs(lml - prev) < 1e-7 * (1 + std::abs(lml))) break;
      prev = lml;
      const std::vector<double> g = gp.lml_gradient();
      for (size_t k = 0; k < t.size(); ++k) {
        m[k] = b1 * m[k] + (1 - b1) * g[k];
        v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k];
        const double mh = m[k] / (1 - std::pow(b1, it)), vh = v[k] / (1 - std::pow(b2, it));
        t[k] += lr * mh / (std::sqrt(vh) + 1e-8);
      }
      clamp_theta(t);
    }
  }
  return best;
}

double expected_improvement(double mean, double sd, double best, double xi) {
  const double imp = mean - best - xi;
  if (sd <= 0) return std::max(imp, 0.0);
  const double z = imp / sd;
  return imp * normal_cdf(z) + sd * normal_pdf(z);
}

double log_expected_improvement(double mean, double sd, double best, double xi) {
  const double imp = mean - best - xi;
  if (sd <= 0) return imp > 0 ? std::log(imp) : -INFINITY;
  const double z = imp / sd;
  // EI = σ h(z), h(z) = φ(z) + z Φ(z).
  // The direct form loses only ~2 log10(|z|) digits to cancellation; it underflows below z ≈ −38.
  if (z > -25) return std::log(sd) + std::log(normal_pdf(z) + z * normal_cdf(z));
  // Asymptotic (Mills-ratio) series: h(z) = φ(z)/z² (1 − 3/z² + 15/z⁴ − 105/z⁶ + …).
  const double z2 = z * z;
  return std::log(sd) - 0.5 * z2 - 0.5 * std::log(2.0 * M_PI) - std::log(z2) +
         std::log1p(-3.0 / z2 + 15.0 / (z2 * z2) - 105.0 / (z2 * z2 * z2));
}

}  // namespace tessera
