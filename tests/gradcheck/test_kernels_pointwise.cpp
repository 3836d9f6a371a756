// GELU, bias, residual, dropout and the counter RNG: forward against plain loops,
// backward against central differences in double (tolerance 1e-6, see kernel_test_util.hpp).
// Every backward starts from a random non-zero gradient buffer, so += accumulation is checked too.
#include <cmath>
#include "kernels/bias.hpp"
#include "kernels/counter_rng.hpp"
#include "kernels/dropout.hpp"
#include "kernels/gelu.hpp"
#include "kernels/residual.hpp"
#include "kernel_test_util.hpp"

using namespace tessera;
using namespace ktest;

static double gelu_ref(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

TEST(KernelsPointwise, GeluForwardAndGradcheck) {
  std::mt19937 rng(1);
  for (int64_t n : {1, 13, 61}) {
    std::vector<double> x = randvec(n, rng, -3, 3), w = randvec(n, rng), g0 = randvec(n, rng);
    View1<double> out("out", n);
    gelu_forward<double>(out, to_view(x), n);
    auto y = to_vec(out);
    for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(y[i], gelu_ref(x[i]), 1e-14);
    auto dinp = to_view(g0);
    gelu_backward<double>(dinp, to_view(x), to_view(w), n);
    auto num = numeric_grad(x, [&] {
      gelu_forward<double>(out, to_view(x), n);
      return dot(to_vec(out), w);
    });
    expect_grad_close(minus(to_vec(dinp), g0), num, "gelu dinp");
  }
}

TEST(KernelsPointwise, BiasForwardAndGradcheck) {
  std::mt19937 rng(2);
  for (auto [N, OC] : {std::pair<int64_t, int64_t>{5, 12}, {7, 37}}) {
    std::vector<double> base = randvec(N * OC, rng), b = randvec(OC, rng), w = randvec(N * OC, rng),
                        g0 = randvec(OC, rng);
    auto out = to_view(base);
    bias_add_forward<double>(out, to_view(b), N, OC);
    auto y = to_vec(out);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t o = 0; o < OC; ++o) EXPECT_DOUBLE_EQ(y[n * OC + o], base[n * OC + o] + b[o]);
    auto db = to_view(g0);
    bias_backward<double>(db, to_view(w), N, OC);
    auto num = numeric_grad(b, [&] {
      auto o2 = to_view(base);
      bias_add_forward<double>(o2, to_view(b), N, OC);
      return dot(to_vec(o2), w);
    });
    expect_grad_close(minus(to_vec(db), g0), num, "bias dbias");
  }
}

TEST(KernelsPointwise, ResidualAccumulateScale) {
  std::mt19937 rng(3);
  const int64_t n = 29;
  auto a = randvec(n, rng), b = randvec(n, rng);
  View1<double> out("out", n);
  residual_forward<double>(out, to_view(a), to_view(b), n);
  auto y = to_vec(out);
  for (int64_t i = 0; i < n; ++i) EXPECT_DOUBLE_EQ(y[i], a[i] + b[i]);
  accumulate<double>(out, to_view(a), n);
  y = to_vec(out);
  for (int64_t i = 0; i < n; ++i) EXPECT_DOUBLE_EQ(y[i], (a[i] + b[i]) + a[i]);
  scale_inplace<double>(out, n, 0.5);
  y = to_vec(out);
  for (int64_t i = 0; i < n; ++i) EXPECT_DOUBLE_EQ(y[i], 0.5 * ((a[i] + b[i]) + a[i]));
}

TEST(KernelsPointwise, DropoutMaskStatistics) {
  const int64_t n = 100000;
  const double p = 0.3;
  RngKey key{1234, 7, 2, 1};
  std::vector<double> ones(n, 1.0);
  auto inp = to_view(ones);
  View1<double> out("out", n), out2("out2", n);
  dropout_forward<double>(out, inp, n, p, key);
  auto m1 = to_vec(out);
  int64_t dropped = 0;
  for (double v : m1) {
    if (v == 0.0) ++dropped;
    else EXPECT_DOUBLE_EQ(v, 1.0 / (1.0 - p));
  }
  // Binomial sd = sqrt(n p (1-p)) ≈ 145; allow 5 sd.
  EXPECT_NEAR(double(dropped), p * n, 5 * std::sqrt(n * p * (1 - p)));
  dropout_forward<double>(out2, inp, n, p, key);
  EXPECT_EQ(to_vec(out2), m1) << "same key must give the same mask";
  RngKey next = key;
  next.step += 1;
  dropout_forward<double>(out2, inp, n, p, next);
  auto m2 = to_vec(out2);
  int64_t differ = 0;
  for (int64_t i = 0; i < n; ++i) differ += (m1[i] == 0.0) != (m2[i] == 0.0);
  EXPECT_NEAR(double(differ), 2 * p * (1 - p) * n, 0.02 * n) << "next step must draw an independent mask";
  // A slice at offset k draws elements k.. of the full mask.
  const int64_t k = 777, m = 1000;
  View1<double> part("part", m);
  dropout_forward<double>(part, slice(inp, 0, m), m, p, key, k);
  auto mp = to_vec(part);
  for (int64_t i = 0; i < m; ++i) EXPECT_EQ(mp[i], m1[k + i]) << i;
  // p == 0: plain copy
  dropout_forward<double>(out2, inp, n, 0.0, key);
  EXPECT_EQ(to_vec(out2), ones);
}

TEST(KernelsPointwise, DropoutGradcheck) {
  std::mt19937 rng(4);
  RngKey key{99, 3, 1, 5};
  for (int64_t n : {17, 64}) {
    auto x = randvec(n, rng), w = randvec(n, rng), g0 = randvec(n, rng);
    const double p = 0.25;
    View1<double> out("out", n);
    auto dinp = to_view(g0);
    dropout_backward<double>(dinp, to_view(w), n, p, key, 5);
    auto num = numeric_grad(x, [&] {
      dropout_forward<double>(out, to_view(x), n, p, key, 5);
      return dot(to_vec(out), w);
    });
    expect_grad_close(minus(to_vec(dinp), g0), num, "dropout dinp");
  }
}

TEST(KernelsPointwise, CounterRngDistributions) {
  RngKey key{42, 1, 0, 0};
  const int n = 200000;
  double su = 0, sn = 0, sn2 = 0;
  for (int i = 0; i < n; ++i) {
    const double u = rng_uniform(key, i);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    su += u;
    const double z = rng_normal(key, i);
    ASSERT_TRUE(std::isfinite(z));
    sn += z;
    sn2 += z * z;
  }
  EXPECT_NEAR(su / n, 0.5, 5 * std::sqrt(1.0 / 12 / n));
  EXPECT_NEAR(sn / n, 0.0, 5 / std::sqrt(double(n)));
  EXPECT_NEAR(sn2 / n, 1.0, 5 * std::sqrt(2.0 / n));
  // Every key field changes the stream.
  RngKey variants[4] = {key, key, key, key};
  variants[0].seed++, variants[1].step++, variants[2].layer++, variants[3].site++;
  for (const auto& v : variants) EXPECT_NE(rng_bits(v, 0), rng_bits(key, 0));
  EXPECT_NE(rng_bits(key, 0), rng_bits(key, 1));
}
