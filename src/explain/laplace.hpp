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
//
// Kronecker-factored (structure Kron, KFAC): with φ̃ = (φ, 1) and θ = W̃ = [W | b] [K, C+1],
// the Hessian Σ_i Λ_i ⊗ φ̃_i φ̃_iᵀ (Λ_i = diag p_i − p_i p_iᵀ) is approximated by G ⊗ A with
// A = Σ_i φ̃_i φ̃_iᵀ and G = (1/n) Σ_i Λ_i (exact for n = 1). With A = U diag(a) Uᵀ and
// G = V diag(g) Vᵀ (Jacobi eigendecompositions), H + λI has eigenvalues g_j a_i + λ, so
//   log det(H + λI) = Σ_ij log(g_j a_i + λ),
//   Σ_f = J (H + λI)⁻¹ Jᵀ = Σ_j s_j v_j v_jᵀ,  s_j = Σ_i (u_iᵀ φ̃)² / (g_j a_i + λ);
// probit uses the diagonal of Σ_f, MC samples f* + Σ_j √s_j z_j v_j.
// No bias (GPT-2 / Llama `score`, b empty): θ = W only; the bias terms drop out of the
// Hessian, the evidence (P = K·C), the predictive variance, and φ̃ = φ (A is [C, C]).
#pragma once
#include <cstdint>
#include <vector>

namespace tessera::explain {

enum class LaplaceStructure { Diagonal, Kron };

struct LastLayerLaplace {
  LaplaceStructure structure = LaplaceStructure::Diagonal;
  int64_t K = 0, C = 0;
  // Kron: eigenvalues / eigenvectors (columns, row-major) of A [(C+1)²] and G [K²]
  std::vector<double> a, U, g, V;
  std::vector<double> W, b;      // the MAP head: W [K, C], b [K] (empty: no bias)
  std::vector<double> hW, hb;    // diagonal Hessian of L: [K, C], [K] (empty without bias)
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
                                        const std::vector<double>& W, const std::vector<double>& b, int64_t K,
                                        LaplaceStructure structure = LaplaceStructure::Diagonal);
// Kron factors A [(C+1)²] ([C²] without bias) and G [K²] (row-major) over features / MAP head.
void laplace_kron_factors(const std::vector<double>& features, int64_t C, const std::vector<double>& W,
                          const std::vector<double>& b, int64_t K, std::vector<double>& A, std::vector<double>& G);
// Symmetric eigendecomposition (cyclic Jacobi): m [n²] row-major → eigenvalues, eigenvectors as columns.
void symmetric_eigen(std::vector<double> m, int64_t n, std::vector<double>& evals, std::vector<double>& evecs);
// The predictive covariance Σ_f [K²] of one feature row (either structure).
std::vector<double> laplace_logit_covariance(const LastLayerLaplace& la, const double* phi);
// Predictive probabilities [n, K]: the probit approximation.
std::vector<double> laplace_probit(const LastLayerLaplace& la, const std::vector<double>& features);
// S Monte-Carlo samples of the predictive, each [n, K] (f_k ~ N(f*_k, σ_k²), seeded).
std::vector<std::vector<double>> laplace_samples(const LastLayerLaplace& la, const std::vector<double>& features, int S,
                                                 uint64_t seed);

}  // namespace tessera::explain
