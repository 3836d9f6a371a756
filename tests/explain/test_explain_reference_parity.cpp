// The explainers against the shap and lime packages on committed value functions
// (tests/fixtures/explain/reference_parity.json, from scripts/tools/make_explain_fixtures.py):
// the C++ side evaluates the same tables, so both sides explain the same game.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "src/explain/lime.hpp"
#include "src/explain/shapley.hpp"

using namespace tessera::explain;

namespace {

nlohmann::json fixture() {
  std::ifstream f(std::string(TESSERA_SOURCE_DIR) + "/tests/fixtures/explain/reference_parity.json");
  EXPECT_TRUE(bool(f)) << "missing fixture tests/fixtures/explain/reference_parity.json";
  return nlohmann::json::parse(f);
}

// The generator's value(): sigmoid(b + a·z + Σ_{i<j} c_ij z_i z_j + d z0 z1 z2) or the pairwise sum.
ValueFunction game(const nlohmann::json& t, bool pairwise) {
  return [t, pairwise](const std::vector<Mask>& ms) {
    const auto a = t["a"].get<std::vector<double>>();
    const auto c = t["c"].get<std::vector<std::vector<double>>>();
    std::vector<double> out;
    for (const Mask& z : ms) {
      double s = t["b"].get<double>();
      for (size_t i = 0; i < z.size(); ++i) {
        s += a[i] * z[i];
        for (size_t j = i + 1; j < z.size(); ++j) s += c[i][j] * z[i] * z[j];
      }
      if (!pairwise) {
        s += t["d"].get<double>() * z[0] * z[1] * z[2];
        s = 1.0 / (1.0 + std::exp(-s));
      }
      out.push_back(s);
    }
    return out;
  };
}

void expect_near_all(const std::vector<double>& got, const nlohmann::json& want, double tol, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i].get<double>(), tol) << what << " feature " << i;
}

}  // namespace

TEST(ExplainReferenceParity, ShapExplainers) {
  const auto fx = fixture();
  for (const auto& c : fx["shap_cases"]) {
    const int M = c["M"];
    const ValueFunction v = game(c["table"], false);
    const Attribution ex = exact_shapley(v, M);
    expect_near_all(ex.phi, c["exact"]["phi"], 1e-9, "exact");
    EXPECT_NEAR(ex.base_value, c["exact"]["base"].get<double>(), 1e-12);
    expect_near_all(kernel_shap(v, M, c["kernel"]["samples"], 1).phi, c["kernel"]["phi"], 1e-9, "kernel");
    const Attribution part = partition_shap(v, M);
    expect_near_all(part.phi, c["partition"]["phi"], 1e-9, "partition");
    // Antithetic permutations are exact for a pairwise game whatever orders are drawn.
    expect_near_all(permutation_shap(game(c["table"], true), M, 20 * M, 1).phi, c["permutation_pairwise"]["phi"],
                    1e-9, "permutation");
  }
}

TEST(ExplainReferenceParity, LimeOnLimesSamples) {
  const auto fx = fixture();
  for (const auto& c : fx["lime_cases"]) {
    const int M = c["M"];
    std::vector<Mask> masks;
    for (const auto& row : c["samples"]) {
      Mask m;
      for (const auto& b : row) m.push_back(uint8_t(b.get<int>()));
      masks.push_back(m);
    }
    const LimeResult r = lime_fit(masks, game(c["table"], false)(masks), c["top_k"]);
    ASSERT_EQ(r.features.size(), c["weights"].size());
    for (size_t k = 0; k < r.features.size(); ++k) {
      EXPECT_EQ(r.features[k], c["weights"][k][0].get<int>()) << "rank " << k;
      EXPECT_NEAR(r.weights[k], c["weights"][k][1].get<double>(), 1e-9) << "rank " << k;
    }
    EXPECT_NEAR(r.intercept, c["intercept"].get<double>(), 1e-9);
    EXPECT_NEAR(r.score, c["score"].get<double>(), 1e-9);
    EXPECT_NEAR(r.local_pred, c["local_pred"].get<double>(), 1e-9);
    (void)M;
  }
}

// Our own sampler follows lime's scheme: sample 0 complete, at least one word removed elsewhere.
TEST(ExplainReferenceParity, LimeSamplerShape) {
  const auto a = lime_samples(7, 50, 3), b = lime_samples(7, 50, 3), c = lime_samples(7, 50, 4);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(a[0], full_mask(7));
  for (size_t r = 1; r < a.size(); ++r) EXPECT_LT(std::count(a[r].begin(), a[r].end(), uint8_t(1)), 7);
}
