// Gaussian-process regression for Bayesian optimisation (Rasmussen & Williams,
// "Gaussian Processes for Machine Learning", 2006, ch. 2 and 5): Matérn-5/2
// kernel with one length scale per input dimension (ARD),
//   k(x, x') = s² (1 + √5 r + 5/3 r²) exp(−√5 r),  r² = Σ_d ((x_d − x'_d) / ℓ_d)²,
// Gaussian noise σ²; posterior mean k*ᵀ(K+σ²I)⁻¹y, variance k** − k*ᵀ(K+σ²I)⁻¹k*,
// log marginal likelihood −½ yᵀα − Σ log L_ii − n/2 log 2π (Cholesky K+σ²I = LLᵀ).
// Hyperparameters are fitted by maximising the marginal likelihood (analytic
// gradient ½ tr((ααᵀ − K⁻¹) ∂K/∂θ), Adam in log space, several restarts).
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace tessera {

struct GPHyper {
  std::vector<double> length_scales;  // ℓ_d
  double signal_var = 1.0;            // s²
  double noise_var = 1e-4;            // σ²
};

class GaussianProcess {
 public:
  // X: n rows of d inputs (row-major), y: n targets. Factorises K + σ²I.
  GaussianProcess(std::vector<double> X, std::vector<double> y, int d, GPHyper h);
  double kernel(const double* a, const double* b) const;
  void predict(const double* x, double& mean, double& var) const;
  double log_marginal_likelihood() const { return lml_; }
  // ∂ lml / ∂ (log ℓ_1..d, log s², log σ²).
  std::vector<double> lml_gradient() const;
  const GPHyper& hyper() const { return h_; }
  int n() const { return n_; }

 private:
  std::vector<double> X_, y_;
  int n_, d_;
  GPHyper h_;
  std::vector<double> L_, alpha_;  // Cholesky factor (lower, row-major), (K+σ²I)⁻¹y
  double lml_ = 0;
};

// Maximises the marginal likelihood over log hyperparameters from the default
// start (ℓ = 0.5, s² = 1, σ² = 1e-3) and `restarts` random ones; length scales in
// [0.01, 20], s² in [0.05, 20], σ² in [1e-6, 0.5] (inputs in [0,1], targets standardised).
GPHyper fit_gp_hyper(const std::vector<double>& X, const std::vector<double>& y, int d, int restarts,
                     std::mt19937_64& rng);

// Expected improvement for maximisation: EI = (μ − f⁺ − ξ) Φ(z) + σ φ(z), z = (μ − f⁺ − ξ)/σ.
double expected_improvement(double mean, double sd, double best, double xi = 0.0);
// log EI, accurate where EI underflows (Ament et al. 2023, "Unexpected Improvements
// to Expected Improvement for Bayesian Optimization").
double log_expected_improvement(double mean, double sd, double best, double xi = 0.0);

}  // namespace tessera
