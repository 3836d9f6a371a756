// The GP of the BO sampler against NumPy (tests/fixtures/tune/gp.json, written by
// scripts/tools/make_tune_fixtures.py): posterior mean/variance and the log marginal
// likelihood; its analytic gradient against central differences; EI against its
// formula and log-EI against log(EI), including where EI underflows.
#include <gtest/gtest.h>
#include <cmath>
#include <nlohmann/json.hpp>
#include "src/tune/gaussian_process.hpp"
#include "test_support.hpp"

using namespace tessera;

namespace {
nlohmann::json fixture() {
  return nlohmann::json::parse(tessera_test::read_file(tessera_test::source_dir() + "/tests/fixtures/tune/gp.json"));
}
GaussianProcess fixture_gp(const nlohmann::json& f) {
  GPHyper h{f["length_scales"].get<std::vector<double>>(), f["signal_var"].get<double>(), f["noise_var"].get<double>()};
  return GaussianProcess(f["X"].get<std::vector<double>>(), f["y"].get<std::vector<double>>(), f["d"].get<int>(), h);
}
}  // namespace

TEST(GaussianProcess, PosteriorAndMarginalLikelihoodMatchNumPy) {
  const auto f = fixture();
  const GaussianProcess gp = fixture_gp(f);
  const int d = f["d"];
  const auto Xs = f["Xs"].get<std::vector<double>>();
  for (size_t i = 0; i < f["mean"].size(); ++i) {
    double m, v;
    gp.predict(&Xs[i * size_t(d)], m, v);
    EXPECT_NEAR(m, f["mean"][i].get<double>(), 1e-10) << i;
    EXPECT_NEAR(v, f["var"][i].get<double>(), 1e-10) << i;
  }
  EXPECT_NEAR(gp.log_marginal_likelihood(), f["lml"].get<double>(), 1e-9);
}

TEST(GaussianProcess, MarginalLikelihoodGradientMatchesCentralDifferences) {
  const auto f = fixture();
  const GaussianProcess gp = fixture_gp(f);
  const std::vector<double> g = gp.lml_gradient();
  const int d = f["d"];
  ASSERT_EQ(int(g.size()), d + 2);
  for (int k = 0; k < d + 2; ++k) {
    auto lml_at = [&](double delta) {
      GPHyper h = gp.hyper();
      if (k < d) h.length_scales[size_t(k)] *= std::exp(delta);
      else if (k == d) h.signal_var *= std::exp(delta);
      else h.noise_var *= std::exp(delta);
      return GaussianProcess(f["X"].get<std::vector<double>>(), f["y"].get<std::vector<double>>(), d, h)
          .log_marginal_likelihood();
    };
    const double eps = 1e-5, fd = (lml_at(eps) - lml_at(-eps)) / (2 * eps);
    EXPECT_NEAR(g[size_t(k)], fd, 1e-6 * (1 + std::abs(fd))) << "theta " << k;
  }
}

TEST(GaussianProcess, FittingRaisesTheMarginalLikelihood) {
  const auto f = fixture();
  std::mt19937_64 rng(3);
  const GPHyper h = fit_gp_hyper(f["X"].get<std::vector<double>>(), f["y"].get<std::vector<double>>(), f["d"], 3, rng);
  const double fitted =
      GaussianProcess(f["X"].get<std::vector<double>>(), f["y"].get<std::vector<double>>(), f["d"], h).log_marginal_likelihood();
  EXPECT_GE(fitted, f["lml"].get<double>());  // at least as good as the generating hyperparameters
}

TEST(ExpectedImprovement, EqualsItsFormulaAndLogEiItsLog) {
  for (const auto& c : fixture()["ei"]) {
    const double ei = expected_improvement(c["mean"], c["sd"], c["best"], c["xi"]);
    EXPECT_NEAR(ei, c["ei"].get<double>(), 1e-12 * (1 + c["ei"].get<double>()));
    EXPECT_NEAR(log_expected_improvement(c["mean"], c["sd"], c["best"], c["xi"]), std::log(c["ei"].get<double>()), 1e-9);
  }
  // Far below the incumbent: EI underflows in double, log-EI stays finite and
  // continues the direct branch smoothly across its switch at z = -25.
  const double a = log_expected_improvement(-25.0 + 1e-9, 1.0, 0.0), b = log_expected_improvement(-25.0 - 1e-9, 1.0, 0.0);
  EXPECT_NEAR(a, b, 1e-6);
  EXPECT_NEAR(a, std::log(expected_improvement(-25.0, 1.0, 0.0)), 1e-6);
  EXPECT_EQ(expected_improvement(-60.0, 1.0, 0.0), 0.0);
  EXPECT_TRUE(std::isfinite(log_expected_improvement(-60.0, 1.0, 0.0)));
  EXPECT_LT(log_expected_improvement(-60.0, 1.0, 0.0), log_expected_improvement(-50.0, 1.0, 0.0));
}
