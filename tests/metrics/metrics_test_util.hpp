// Helpers for the metrics tests: loading tests/fixtures/metrics/*.json and
// comparing doubles where the reference writes NaN as null.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "test_support.hpp"

namespace metrics_test {

// Tolerances (docs/metrics.md): the F1-type metrics are ratios of small integers
// that sklearn / seqeval / the SQuAD script compute in float64 exactly as the C++
// does, so they agree to the last bit or two (averages may differ by summation
// order); 1e-12 leaves room for that and nothing else. BLEU goes through log/exp
// on a [0, 100] scale: 1e-6.
constexpr double kTol = 1e-12;
constexpr double kBleuTol = 1e-6;

inline nlohmann::json load_fixture(const std::string& name) {
  const std::string path = tessera_test::source_dir() + "/tests/fixtures/metrics/" + name;
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open fixture " + path);
  nlohmann::json j;
  f >> j;
  return j;
}

inline double ref_num(const nlohmann::json& v) {
  return v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>();
}

inline ::testing::AssertionResult near_or_nan(double expected, double actual, double tol) {
  if (std::isnan(expected) && std::isnan(actual)) return ::testing::AssertionSuccess();
  if (std::isnan(expected) != std::isnan(actual) || !(std::fabs(expected - actual) <= tol))
    return ::testing::AssertionFailure() << "expected " << expected << " got " << actual << " (diff "
                                         << std::fabs(expected - actual) << ", tol " << tol << ")";
  return ::testing::AssertionSuccess();
}

}  // namespace metrics_test
