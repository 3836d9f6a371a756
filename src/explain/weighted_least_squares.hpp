// Weighted (ridge) least squares in double, shared by KernelSHAP and LIME:
//   β = argmin Σ_r w_r (y_r − b − x_r·β)² + α‖β‖²   (b = 0 without an intercept),
// solved through the normal equations (XᵀWX + αI)β = XᵀWy with the intercept
// removed by weighted centring (sklearn Ridge's sample_weight semantics).
#pragma once
#include <vector>

namespace tessera::explain {

struct LinearFit {
  std::vector<double> coef;
  double intercept = 0;
};

// X: rows × cols, row-major.
LinearFit weighted_ridge(const std::vector<double>& X, const std::vector<double>& y, const std::vector<double>& w,
                         int cols, double alpha, bool intercept);

// Solves A x = b (n × n, row-major) by Gaussian elimination with partial pivoting.
std::vector<double> solve_dense(std::vector<double> A, std::vector<double> b, int n);

}  // namespace tessera::explain
