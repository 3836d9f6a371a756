// Last-layer Laplace approximation of a linear classifier head (Daxberger et al. 2021,
// "Laplace Redux"; MacKay 1992): logits f = W φ + b over fixed features φ ∈ R^C (BERT:
// the pooler output), parameters θ = (W [K, C], b [K]) at the fine-tuned MAP θ*.
//   loss        L(θ) = Σ_i −log softmax(W φ_i + b)_{y_i}   (summed over the fit split)
//   Hessian     for softmax cross-entropy the GGN equals the Hessian of L in θ (f is
//               linear in θ); its diagonal is h_{W_kc} = Σ_i p_ik (1 − p_ik) φ_ic²,
//               h_{b_k} = Σ_i p_ik (1 − p_ik)
//   posterior   N(θ*, diag(1 / (h + λ))) with prior N(0, λ⁻¹ I)
//   evidence    log p(D | λ) ≈ −L(θ*) − (λ/2)‖θ*‖² + (P/2) log λ − ½ Σ_j log(h_j + λ)
//               (P parameters; the 2π terms cancel); λ maximises it over a log grid
//               (1e-6 … 1e6, 241 points) refined by golden-section search
//   predictive  f ~ N(f*, diag(σ²)), σ_k² = Σ_c φ_c² / (h_{W_kc} + λ) + 1 / (h_{b_k} + λ);
//               probit: p_k ∝ softmax_k(f*_k / sqrt(1 + π σ_k² / 8)); or S Monte-Carlo
//               samples of f (seeded) through the softmax.
#pragma once
#include <cstdint>
#include <vector>

namespace tessera::explain {

struct LastLayerLaplace {
  int64_t K = 0, C = 0;
  std::vector<double> W, b;      // the MAP head: W [K, C], b [K]
  std::vector<double> hW, hb;    // diagonal Hessian of L: [K, C], [K]
  double loss = 0;               // L(θ*)
  double prior_precision = 0;    // λ
  double log_marginal_likelihood = 0;
  int64_t n = 0;
};

// Diagonal Hessian of L at (W, b) over features [n, C] (hW [K, C], hb [K]), and L.
void laplace_diag_hessian(const std::vector<double>& features, int64_t C, const std::vector<int>& labels,
                          const std::vector<double>& W, const std::vector<double>& b, int64_t K,
                          std::vector<double>& hW, std::vector<double>& hb, double& loss);
double laplace_log_marginal(const LastLayerLaplace& la, double lambda);
// Fits the Hessian and λ on features / labels of the fit split.
LastLayerLaplace fit_last_layer_laplace(const std::vector<double>& features, int64_t C, const std::vector<int>& labels,
                                        const std::vector<double>& W, const std::vector<double>& b, int64_t K);
// Predictive probabilities [n, K]: the probit approximation.
std::vector<double> laplace_probit(const LastLayerLaplace& la, const std::vector<double>& features);
// S Monte-Carlo samples of the predictive, each [n, K] (f_k ~ N(f*_k, σ_k²), seeded).
std::vector<std::vector<double>> laplace_samples(const LastLayerLaplace& la, const std::vector<double>& features, int S,
                                                 uint64_t seed);

}  // namespace tessera::explain
