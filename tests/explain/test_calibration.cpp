// Calibration metrics and temperature scaling (src/explain/calibration.hpp) against
// the NumPy reference in tests/fixtures/calibration (make_calibration_fixture.py), a
// crafted over-confident model, and the uncertainty decomposition from its definition.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "src/explain/calibration.hpp"
#include "src/runtime/error.hpp"
#include "test_support.hpp"

using namespace tessera::explain;

namespace {

nlohmann::json fixture() {
  std::ifstream f(tessera_test::source_dir() + "/tests/fixtures/calibration/calibration_cases.json");
  EXPECT_TRUE(bool(f));
  return nlohmann::json::parse(f);
}

}  // namespace

TEST(Calibration, MetricsEqualNumpyReference) {
  const auto fx = fixture();
  const std::vector<double> levels = fx["coverage_levels"].get<std::vector<double>>();
  ASSERT_EQ(fx["cases"].size(), 5u);
  for (const auto& c : fx["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto m = calibration_metrics(c["probs"].get<std::vector<double>>(), c["K"].get<int64_t>(),
                                       c["labels"].get<std::vector<int>>(), c["bins"].get<int>(), levels);
    const auto& e = c["expected"];
    EXPECT_NEAR(m.accuracy, e["accuracy"].get<double>(), 1e-12);
    EXPECT_NEAR(m.ece, e["ece"].get<double>(), 1e-12);
    EXPECT_NEAR(m.mce, e["mce"].get<double>(), 1e-12);
    EXPECT_NEAR(m.brier, e["brier"].get<double>(), 1e-12);
    EXPECT_NEAR(m.nll, e["nll"].get<double>(), 1e-12);
    EXPECT_NEAR(m.coverage_auc, e["coverage_auc"].get<double>(), 1e-12);
    ASSERT_EQ(m.bins.size(), e["bins"].size());
    for (size_t b = 0; b < m.bins.size(); ++b) {
      EXPECT_EQ(m.bins[b].count, e["bins"][b][0].get<int64_t>()) << "bin " << b;
      EXPECT_NEAR(m.bins[b].confidence, e["bins"][b][1].get<double>(), 1e-12) << "bin " << b;
      EXPECT_NEAR(m.bins[b].accuracy, e["bins"][b][2].get<double>(), 1e-12) << "bin " << b;
    }
    ASSERT_EQ(m.coverage.size(), e["coverage"].size());
    for (size_t q = 0; q < m.coverage.size(); ++q) {
      EXPECT_EQ(m.coverage[q].kept, e["coverage"][q][0].get<int64_t>());
      EXPECT_NEAR(m.coverage[q].accuracy, e["coverage"][q][1].get<double>(), 1e-12);
    }
  }
}

TEST(Calibration, FittedTemperatureEqualsBruteForceMinimiser) {
  const auto fx = fixture();
  int fitted = 0;
  for (const auto& c : fx["cases"]) {
    if (!c.contains("temperature")) continue;
    SCOPED_TRACE(c["name"].get<std::string>());
    const std::vector<double> zd = c["logits"].get<std::vector<double>>();
    const std::vector<float> z(zd.begin(), zd.end());
    const auto y = c["labels"].get<std::vector<int>>();
    const int64_t K = c["K"].get<int64_t>();
    const double T = fit_temperature(z, K, y), ref = c["temperature"].get<double>();
    EXPECT_NEAR(T / ref, 1.0, 1e-5) << T << " vs NumPy " << ref;
    // a minimum: both neighbours are worse
    const double f = temperature_nll(z, K, y, T);
    EXPECT_LE(f, temperature_nll(z, K, y, T * 1.01));
    EXPECT_LE(f, temperature_nll(z, K, y, T / 1.01));
    // the probabilities at T = 1 are the fixture's
    const auto p = softmax_rows(z, K, 1.0);
    const auto pr = c["probs"].get<std::vector<double>>();
    for (size_t i = 0; i < p.size(); ++i) ASSERT_NEAR(p[i], pr[i], 1e-12);
    ++fitted;
  }
  EXPECT_EQ(fitted, 4);
}

TEST(Calibration, TemperatureScalingFixesAnOverconfidentModel) {
  // Calibrated by construction (labels drawn from softmax(z)), then made over-confident
  // by multiplying the logits by 4: the fitted T is about 4 and the ECE drops.
  std::mt19937_64 rng(7);
  std::normal_distribution<double> g(0, 1.5);
  const int64_t n = 3000, K = 4;
  std::vector<float> z(size_t(n * K));
  std::vector<int> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> p(static_cast<size_t>(K));
    double s = 0;
    for (int64_t k = 0; k < K; ++k) s += p[size_t(k)] = std::exp(double(z[size_t(i * K + k)] = float(g(rng))));
    std::discrete_distribution<int> draw(p.begin(), p.end());
    y[size_t(i)] = draw(rng);
    for (int64_t k = 0; k < K; ++k) z[size_t(i * K + k)] *= 4.0f;
  }
  const auto before = calibration_metrics(softmax_rows(z, K, 1.0), K, y, 15);
  const double T = fit_temperature(z, K, y);
  const auto after = calibration_metrics(softmax_rows(z, K, T), K, y, 15);
  EXPECT_NEAR(T, 4.0, 0.4);
  EXPECT_GT(before.ece, 0.1);
  EXPECT_LT(after.ece, before.ece / 3);
  EXPECT_LT(after.nll, before.nll);
  EXPECT_NEAR(after.accuracy, before.accuracy, 1e-12);  // argmax unchanged
}

TEST(Calibration, UncertaintyDecomposition) {
  const std::vector<std::vector<double>> s = {{0.7, 0.2, 0.1}, {0.1, 0.8, 0.1}, {0.3, 0.3, 0.4}};
  const auto u = predictive_uncertainty(s);
  auto H = [](const std::vector<double>& p) {
    double h = 0;
    for (double v : p) h -= v * std::log(v);
    return h;
  };
  const std::vector<double> mean = {1.1 / 3, 1.3 / 3, 0.6 / 3};
  for (size_t k = 0; k < 3; ++k) EXPECT_NEAR(u.mean[k], mean[k], 1e-15);
  EXPECT_NEAR(u.entropy, H(mean), 1e-14);
  EXPECT_NEAR(u.expected_entropy, (H(s[0]) + H(s[1]) + H(s[2])) / 3, 1e-14);
  EXPECT_NEAR(u.mutual_information, H(mean) - (H(s[0]) + H(s[1]) + H(s[2])) / 3, 1e-14);
  EXPECT_GT(u.mutual_information, 0.1);
  // identical samples: no epistemic part
  const auto same = predictive_uncertainty({s[0], s[0], s[0]});
  EXPECT_NEAR(same.mutual_information, 0.0, 1e-15);
}

TEST(Calibration, BadInputIsRejected) {
  const std::vector<double> p = {0.5, 0.5, 0.9, 0.1};
  EXPECT_THROW(calibration_metrics(p, 2, {0, 2}, 10), tessera::Error);        // label out of range
  EXPECT_THROW(calibration_metrics(p, 2, {0, 1}, 0), tessera::Error);         // no bins
  EXPECT_THROW(calibration_metrics({0.5, 0.6, 0.9, 0.1}, 2, {0, 1}, 5), tessera::Error);  // not a distribution
  EXPECT_THROW(calibration_metrics({}, 2, {}, 5), tessera::Error);           // empty
  const std::string png = reliability_png(calibration_metrics(p, 2, {0, 1}, 4), 200, 200);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}
