#include "src/explain/weighted_least_squares.hpp"

#include <cmath>
#include <utility>

#include "src/runtime/error.hpp"

namespace tessera::explain {

std::vector<double> solve_dense(std::vector<double> A, std::vector<double> b, int n) {
  for (int c = 0; c < n; ++c) {
    int p = c;
    for (int r = c + 1; r < n; ++r)
      if (std::fabs(A[size_t(r * n + c)]) > std::fabs(A[size_t(p * n + c)])) p = r;
    require(std::fabs(A[size_t(p * n + c)]) > 1e-300, "explain: singular least-squares system (too few distinct samples)");
    if (p != c) {
      for (int k = 0; k < n; ++k) std::swap(A[size_t(c * n + k)], A[size_t(p * n + k)]);
      std::swap(b[size_t(c)], b[size_t(p)]);
    }
    for (int r = c + 1; r < n; ++r) {
      const double f = A[size_t(r * n + c)] / A[size_t(c * n + c)];
      for (int k = c; k < n; ++k) A[size_t(r * n + k)] -= f * A[size_t(c * n + k)];
      b[size_t(r)] -= f * b[size_t(c)];
    }
  }
  std::vector<double> x(static_cast<size_t>(n));
  for (int r = n - 1; r >= 0; --r) {
    double s = b[size_t(r)];
    for (int k = r + 1; k < n; ++k) s -= A[size_t(r * n + k)] * x[size_t(k)];
    x[size_t(r)] = s / A[size_t(r * n + r)];
  }
  return x;
}

LinearFit weighted_ridge(const std::vector<double>& X, const std::vector<double>& y, const std::vector<double>& w,
                         int cols, double alpha, bool intercept) {
  const size_t R = y.size(), C = size_t(cols);
  std::vector<double> xm(C, 0.0);
  double ym = 0, ws = 0;
  if (intercept) {
    for (size_t r = 0; r < R; ++r) {
      ws += w[r];
      ym += w[r] * y[r];
      for (size_t c = 0; c < C; ++c) xm[c] += w[r] * X[r * C + c];
    }
    ym /= ws;
    for (double& m : xm) m /= ws;
  }
  std::vector<double> A(C * C, 0.0), b(C, 0.0);
  for (size_t r = 0; r < R; ++r) {
    const double yr = y[r] - ym;
    for (size_t i = 0; i < C; ++i) {
      const double xi = X[r * C + i] - xm[i];
      b[i] += w[r] * xi * yr;
      for (size_t j = 0; j < C; ++j) A[i * C + j] += w[r] * xi * (X[r * C + j] - xm[j]);
    }
  }
  for (size_t i = 0; i < C; ++i) A[i * C + i] += alpha;
  LinearFit f;
  f.coef = solve_dense(std::move(A), std::move(b), cols);
  f.intercept = ym;
  for (size_t c = 0; c < C; ++c) f.intercept -= xm[c] * f.coef[c];
  return f;
}

}  // namespace tessera::explain
