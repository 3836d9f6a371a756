// Shared helpers for the kernel tests: host<->View copies, random vectors and a
// central-difference gradient check of L = Σ w·out in double.
#pragma once
#include <gtest/gtest.h>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>
#include "kernels/views.hpp"

namespace ktest {

using tessera::View1;

template <class T>
View1<T> to_view(const std::vector<T>& v, const char* name = "v") {
  View1<T> d(std::string(name), v.size());
  auto h = Kokkos::create_mirror_view(d);
  for (size_t i = 0; i < v.size(); ++i) h(i) = v[i];
  Kokkos::deep_copy(d, h);
  return d;
}

template <class V>
auto to_vec(const V& d) {
  using T = std::remove_const_t<typename V::value_type>;
  auto h = Kokkos::create_mirror_view(d);
  Kokkos::deep_copy(h, d);
  std::vector<T> v(d.extent(0));
  for (size_t i = 0; i < v.size(); ++i) v[i] = h(i);
  return v;
}

inline std::vector<double> randvec(size_t n, std::mt19937& rng, double lo = -1.0, double hi = 1.0) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Central differences dL/dx_i = (L(x+h e_i) - L(x-h e_i)) / 2h, step h = 1e-5 (truncation ~h², roundoff
// ~1e-16·|L|/h: both ≲1e-10 for the O(1) inputs used here).
inline std::vector<double> numeric_grad(std::vector<double>& x, const std::function<double()>& loss,
                                        double h = 1e-5) {
  std::vector<double> g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const double lp = loss();
    x[i] = x0 - h;
    const double lm = loss();
    x[i] = x0;
    g[i] = (lp - lm) / (2 * h);
  }
  return g;
}

// Norm-wise relative error ‖a−n‖/(‖a‖+‖n‖) ≤ tol (default 1e-6), and per element |a−n| ≤ tol·max(1,‖a‖∞).
inline void expect_grad_close(const std::vector<double>& analytic, const std::vector<double>& numeric,
                              const std::string& what, double tol = 1e-6) {
  ASSERT_EQ(analytic.size(), numeric.size()) << what;
  double diff = 0, na = 0, nn = 0, amax = 0;
  for (size_t i = 0; i < analytic.size(); ++i) {
    diff += (analytic[i] - numeric[i]) * (analytic[i] - numeric[i]);
    na += analytic[i] * analytic[i];
    nn += numeric[i] * numeric[i];
    amax = std::max(amax, std::abs(analytic[i]));
  }
  const double rel = std::sqrt(diff) / std::max(1e-30, std::sqrt(na) + std::sqrt(nn));
  EXPECT_LE(rel, tol) << what << ": norm-wise relative error";
  EXPECT_GT(std::sqrt(na), 0.0) << what << ": analytic gradient is identically zero";
  for (size_t i = 0; i < analytic.size(); ++i)
    EXPECT_LE(std::abs(analytic[i] - numeric[i]), tol * std::max(1.0, amax))
        << what << "[" << i << "] analytic " << analytic[i] << " numeric " << numeric[i];
}

// Element-wise difference a - b (to strip the random initial value of an accumulated gradient).
inline std::vector<double> minus(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = a[i] - b[i];
  return r;
}

}  // namespace ktest
