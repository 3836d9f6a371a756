// Weighted, label-smoothed classification cross-entropy: a 2×3 case computed by hand from PyTorch's documented
// CrossEntropyLoss formula, forward vs a plain-loop reference written the way PyTorch composes it
// ((1−ε)·weighted-mean NLL + (ε/K)·Σ_i Σ_j w_j(−log p_ij) / Σ_i w[y_i]), backward (+=) vs central differences in
// double, ignored rows, an all-ignored batch (loss 0, no NaN), bad targets/shapes (clear errors).
#include <cmath>
#include "kernels/classification_loss.hpp"
#include "kernels/cross_entropy.hpp"
#include "kernel_test_util.hpp"
#include "src/runtime/error.hpp"

using namespace tessera;
using namespace ktest;

namespace {

constexpr int32_t kIgnore = -100;

struct RefLoss {
  double loss, weight_sum;
};

// PyTorch: nll = Σ_i w[y_i]·(−log p_{i,y_i}) / Σ_i w[y_i]; smooth = Σ_i Σ_j w_j·(−log p_ij) / Σ_i w[y_i];
// loss = (1−ε)·nll + (ε/K)·smooth, sums over rows whose target is not ignore_index.
RefLoss reference_loss(const std::vector<double>& x, const std::vector<int32_t>& y, const std::vector<double>& w,
                       int64_t N, int K, double eps) {
  auto wt = [&](int j) { return w.empty() ? 1.0 : w[j]; };
  double nll = 0, smooth = 0, den = 0;
  for (int64_t i = 0; i < N; ++i) {
    if (y[i] == kIgnore) continue;
    double z = 0;
    for (int j = 0; j < K; ++j) z += std::exp(x[i * K + j]);
    std::vector<double> logp(K);
    for (int j = 0; j < K; ++j) logp[j] = std::log(std::exp(x[i * K + j]) / z);
    nll += -wt(y[i]) * logp[y[i]];
    for (int j = 0; j < K; ++j) smooth += -wt(j) * logp[j];
    den += wt(y[i]);
  }
  return {(1 - eps) * nll / den + eps / K * smooth / den, den};
}

template <class S>
View1<S> viewof(const std::vector<double>& v) {
  return to_view(std::vector<S>(v.begin(), v.end()));
}

}  // namespace

// logits [[1, 2, 0.5], [0, −1, 3]], targets [1, 0], weights [0.5, 2, 1], ε = 0.1, K = 3:
//   lse_0 = log(e + e² + e^0.5) = 2.4643687841079447, −log p_0 = [1.46436878…, 0.46436878…, 1.96436878…]
//   l_0 = 0.9·2·0.46436878… + (0.1/3)·(0.5·1.46436878… + 2·0.46436878… + 1·1.96436878…) = 0.956706836206894
//   lse_1 = log(1 + e^−1 + e³) = 3.0658839037574293, −log p_1 = [3.06588390…, 4.06588390…, 0.06588390…]
//   l_1 = 0.9·0.5·3.06588390… + (0.1/3)·(0.5·3.06588390… + 2·4.06588390… + 1·0.06588390…) = 1.7040008787958767
//   loss = (l_0 + l_1) / (w_1 + w_0) = 2.6607077150027707 / 2.5 = 1.0642830860011083
TEST(KernelsClassificationLoss, HandComputed2x3WeightsSmoothing) {
  const std::vector<double> x{1.0, 2.0, 0.5, 0.0, -1.0, 3.0}, w{0.5, 2.0, 1.0};
  const std::vector<int32_t> y{1, 0};
  View1<double> lse("lse", 2);
  double wsum = -1;
  const double loss = classification_loss_forward<double>(lse, to_view(x), to_view(y), to_view(w), 2, 3, 0.1,
                                                          kIgnore, &wsum);
  EXPECT_NEAR(loss, 1.0642830860011083, 1e-14);
  EXPECT_NEAR(wsum, 2.5, 1e-15);
  EXPECT_NEAR(to_vec(lse)[0], 2.4643687841079447, 1e-14);
  EXPECT_NEAR(to_vec(lse)[1], 3.0658839037574293, 1e-14);
  // The same in float.
  View1<float> lsef("lsef", 2);
  float wsumf = -1;
  const float lossf = classification_loss_forward<float>(lsef, viewof<float>(x), to_view(y), viewof<float>(w), 2, 3,
                                                         0.1f, kIgnore, &wsumf);
  EXPECT_NEAR(lossf, 1.0642830860011083, 2e-6);
  EXPECT_EQ(wsumf, 2.5f);
  // Row 1 ignored: loss = l_0 / w_1 = 0.956706836206894 / 2.
  const std::vector<int32_t> y_ign{1, kIgnore};
  EXPECT_NEAR(classification_loss_forward<double>(lse, to_view(x), to_view(y_ign), to_view(w), 2, 3, 0.1, kIgnore,
                                                  &wsum),
              0.956706836206894 / 2, 1e-14);
  EXPECT_EQ(wsum, 2.0);
}

TEST(KernelsClassificationLoss, ForwardMatchesPlainReference) {
  std::mt19937 rng(41);
  for (auto [N, K] : {std::pair<int64_t, int>{9, 7}, {16, 2}, {5, 33}, {1, 1}})
    for (bool weighted : {false, true})
      for (double eps : {0.0, 0.1, 0.25}) {
        auto x = randvec(N * K, rng, -4, 4);
        auto w = weighted ? randvec(K, rng, 0.1, 3.0) : std::vector<double>{};
        std::vector<int32_t> y(N);
        std::uniform_int_distribution<int32_t> ud(0, K - 1);
        for (auto& t : y) t = ud(rng);
        if (N > 3) y[2] = kIgnore;
        const auto ref = reference_loss(x, y, w, N, K, eps);
        View1<double> lse("lse", N);
        double wsum = 0;
        const double loss = classification_loss_forward<double>(lse, to_view(x), to_view(y), viewof<double>(w), N, K,
                                                                eps, kIgnore, &wsum);
        const std::string what = "N=" + std::to_string(N) + " K=" + std::to_string(K) +
                                 " weighted=" + std::to_string(weighted) + " eps=" + std::to_string(eps);
        EXPECT_NEAR(loss, ref.loss, 1e-12 * std::max(1.0, std::abs(ref.loss))) << what;
        EXPECT_NEAR(wsum, ref.weight_sum, 1e-12) << what;
        auto l = to_vec(lse);
        for (int64_t i = 0; i < N; ++i) {
          double z = 0;
          for (int j = 0; j < K; ++j) z += std::exp(x[i * K + j]);
          EXPECT_NEAR(l[i], std::log(z), 1e-12) << what << " lse row " << i;  // ignored rows too
        }
        // float instantiation agrees with the double reference to float accuracy
        View1<float> lsef("lsef", N);
        const float lossf = classification_loss_forward<float>(lsef, viewof<float>(x), to_view(y), viewof<float>(w),
                                                               N, K, float(eps), kIgnore, nullptr);
        EXPECT_NEAR(lossf, ref.loss, 2e-5 * std::max(1.0, std::abs(ref.loss))) << what << " (float)";
      }
}

TEST(KernelsClassificationLoss, UnweightedUnsmoothedEqualsMeanCrossEntropy) {
  std::mt19937 rng(42);
  const int64_t N = 11;
  const int K = 5;
  auto x = randvec(N * K, rng, -3, 3);
  std::vector<int32_t> y{0, 1, 2, 3, 4, kIgnore, 4, 3, 2, kIgnore, 0};
  View1<double> lse("lse", N), losses("losses", N), lse2("lse2", N);
  double wsum = 0;
  const double loss =
      classification_loss_forward<double>(lse, to_view(x), to_view(y), View1<double>(), N, K, 0.0, kIgnore, &wsum);
  cross_entropy_forward<double>(losses, lse2, to_view(x), to_view(y), N, K, kIgnore);
  double total = 0;
  for (double v : to_vec(losses)) total += v;
  EXPECT_EQ(wsum, 9.0);
  EXPECT_NEAR(loss, total / 9.0, 1e-13);
}

TEST(KernelsClassificationLoss, BackwardGradcheck) {
  std::mt19937 rng(43);
  for (auto [N, K] : {std::pair<int64_t, int>{6, 5}, {4, 2}, {3, 17}})
    for (bool weighted : {false, true})
      for (double eps : {0.0, 0.15}) {
        auto x = randvec(N * K, rng, -3, 3);
        auto w = weighted ? randvec(K, rng, 0.2, 2.5) : std::vector<double>{};
        std::vector<int32_t> y(N);
        std::uniform_int_distribution<int32_t> ud(0, K - 1);
        for (auto& t : y) t = ud(rng);
        y[1] = kIgnore;
        const double dloss = 0.73;
        View1<double> lse("lse", N);
        auto loss = [&] {
          return dloss * classification_loss_forward<double>(lse, to_view(x), to_view(y), viewof<double>(w), N, K,
                                                             eps, kIgnore, nullptr);
        };
        double wsum = 0;
        classification_loss_forward<double>(lse, to_view(x), to_view(y), viewof<double>(w), N, K, eps, kIgnore, &wsum);
        auto init = randvec(N * K, rng);  // backward accumulates: start from non-zero
        auto d = to_view(init);
        classification_loss_backward<double>(d, to_view(x), lse, to_view(y), viewof<double>(w), N, K, eps, kIgnore,
                                             dloss / wsum);
        auto g = minus(to_vec(d), init);
        for (int j = 0; j < K; ++j) EXPECT_EQ(g[1 * K + j], 0.0) << "ignored row 1 must get no gradient";
        const std::string what = "dlogits N=" + std::to_string(N) + " K=" + std::to_string(K) +
                                 " weighted=" + std::to_string(weighted) + " eps=" + std::to_string(eps);
        expect_grad_close(g, numeric_grad(x, loss), what);
      }
}

TEST(KernelsClassificationLoss, AllIgnoredBatchIsZeroNotNaN) {
  const int64_t N = 3;
  const int K = 4;
  std::vector<double> x{0.1, 0.2, 0.3, 0.4, 1, 2, 3, 4, -1, 0, 1, 2};
  std::vector<int32_t> y(N, kIgnore);
  const std::vector<double> w{1.0, 2.0, 3.0, 4.0};
  View1<double> lse("lse", N);
  double wsum = -1;
  const double loss =
      classification_loss_forward<double>(lse, to_view(x), to_view(y), to_view(w), N, K, 0.1, kIgnore, &wsum);
  EXPECT_EQ(loss, 0.0);
  EXPECT_EQ(wsum, 0.0);
  View1<float> lsef("lsef", N);
  EXPECT_EQ(classification_loss_forward<float>(lsef, viewof<float>(x), to_view(y), View1<float>(), N, K, 0.0f, kIgnore,
                                               nullptr),
            0.0f);
  std::vector<double> init(N * K, 0.5);
  auto d = to_view(init);
  classification_loss_backward<double>(d, to_view(x), lse, to_view(y), to_view(w), N, K, 0.1, kIgnore, 0.0);
  for (double v : to_vec(d)) EXPECT_EQ(v, 0.5);
  // Empty batch.
  View1<double> none("none", 0);
  EXPECT_EQ(classification_loss_forward<double>(none, View1<double>(), View1<int32_t>(), to_view(w), 0, K, 0.1,
                                                kIgnore, &wsum),
            0.0);
}

TEST(KernelsClassificationLoss, BadInputsAreClearErrors) {
  std::vector<double> x{0, 1, 2, 3, 4, 5};
  View1<double> lse("lse", 2);
  auto run = [&](std::vector<int32_t> y, std::vector<double> w, double eps) {
    return classification_loss_forward<double>(lse, to_view(x), to_view(y), viewof<double>(w), 2, 3, eps, kIgnore,
                                               nullptr);
  };
  try {
    run({0, 3}, {}, 0.0);
    FAIL() << "target 3 with K=3 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(run({-1, 0}, {}, 0.0), Error);
  EXPECT_THROW(run({0, 1}, {1.0, 2.0}, 0.0), Error);  // 2 weights for 3 classes
  EXPECT_THROW(run({0, 1}, {}, 1.5), Error);          // label_smoothing outside [0, 1]
  EXPECT_NO_THROW(run({0, 2}, {}, 1.0));
}
