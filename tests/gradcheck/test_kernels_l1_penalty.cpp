// L1 penalty: grad += λ·sign(θ) with sign(0) = 0, returned penalty λ·Σ|θ| vs plain loops; the gradient away
// from 0 equals central differences of λ·Σ|θ| in double; float instantiation.
#include <cmath>
#include "kernels/l1_penalty.hpp"
#include "kernel_test_util.hpp"

using namespace tessera;
using namespace ktest;

TEST(KernelsL1Penalty, GradAndValueMatchPlainLoop) {
  std::mt19937 rng(51);
  const int64_t n = 37;
  auto p = randvec(n, rng, -2, 2);
  p[3] = 0.0, p[10] = -0.0;
  auto g0 = randvec(n, rng);
  auto g = to_view(g0);
  const double lambda = 0.03;
  const double pen = l1_penalty_add_grad<double>(g, to_view(p), n, lambda);
  double ref = 0;
  for (double v : p) ref += std::abs(v);
  EXPECT_NEAR(pen, lambda * ref, 1e-14);
  auto g1 = to_vec(g);
  for (int64_t i = 0; i < n; ++i) {
    const double s = p[i] > 0 ? 1.0 : (p[i] < 0 ? -1.0 : 0.0);
    EXPECT_EQ(g1[i], g0[i] + lambda * s) << i;
  }
  EXPECT_EQ(g1[3], g0[3]) << "sign(0) = 0";
  EXPECT_EQ(g1[10], g0[10]) << "sign(-0) = 0";
}

TEST(KernelsL1Penalty, GradcheckAwayFromZero) {
  std::mt19937 rng(52);
  const int64_t n = 19;
  auto p = randvec(n, rng, 0.1, 2.0);
  for (int64_t i = 0; i < n; i += 2) p[i] = -p[i];  // |θ| ≥ 0.1 ≫ h: no kink inside the stencil
  const double lambda = 0.4;
  auto loss = [&] {
    View1<double> scratch("scratch", n);
    return l1_penalty_add_grad<double>(scratch, to_view(p), n, lambda);
  };
  View1<double> g("g", n);
  l1_penalty_add_grad<double>(g, to_view(p), n, lambda);
  expect_grad_close(to_vec(g), numeric_grad(p, loss), "l1 dθ");
}

TEST(KernelsL1Penalty, FloatAndEdgeCases) {
  std::vector<float> p{1.5f, -2.0f, 0.0f, 0.25f}, g{0.f, 1.f, 2.f, 3.f};
  auto gv = to_view(g);
  const float pen = l1_penalty_add_grad<float>(gv, to_view(p), 4, 0.5f);
  EXPECT_FLOAT_EQ(pen, 0.5f * 3.75f);
  const auto g1 = to_vec(gv);
  EXPECT_EQ(g1, (std::vector<float>{0.5f, 0.5f, 2.0f, 3.5f}));
  // λ = 0: nothing added, penalty 0; n = 0: penalty 0.
  EXPECT_EQ(l1_penalty_add_grad<float>(gv, to_view(p), 4, 0.0f), 0.0f);
  EXPECT_EQ(to_vec(gv), g1);
  EXPECT_EQ(l1_penalty_add_grad<float>(gv, to_view(p), 0, 0.5f), 0.0f);
  // Only the first n entries are touched.
  EXPECT_EQ(l1_penalty_add_grad<float>(gv, to_view(p), 2, 1.0f), 3.5f);
  EXPECT_EQ(to_vec(gv), (std::vector<float>{1.5f, -0.5f, 2.0f, 3.5f}));
}
