// Shared helpers for the safetensors/GGUF tests.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "test_support.hpp"

namespace formats_test {

inline std::string fixture(const std::string& name) {
  return tessera_test::source_dir() + "/tests/fixtures/formats/" + name;
}

inline nlohmann::json load_json(const std::string& path) {
  return nlohmann::json::parse(tessera_test::read_file(path));
}

// Real model files fetched by scripts/fetch_assets.sh / scripts/fetch_gguf.sh.
inline std::string asset(const std::string& rel) {
  const char* env = std::getenv("TESSERA_ASSETS");
  const std::string root = env && *env ? env : tessera_test::source_dir() + "/.cache/assets";
  return root + "/" + rel;
}

// float32 results of the same arithmetic may differ by FMA contraction: compare to a
// few ulp.
inline bool close_f32(double got, double want) {
  if (std::isnan(want)) return std::isnan(got);
  return std::fabs(got - want) <= 4 * 1.2e-7 * std::max(1.0, std::fabs(want));
}

}  // namespace formats_test
