// train.precision = "bf16" end to end through the CLI: a tiny GPT-2 (cli_fixture.hpp, dropout
// off) trained 30 steps in fp32 and in bf16 from the same seed. Tolerance (docs/peft.md,
// "Mixed precision (bf16)"): every step's bf16 training loss within 2% relative of fp32's, and
// both runs' losses fall (mean of the last 5 steps below the first step's by > 10%).
// Bad input: a CPU without avx512_bf16 (simulated by TESSERA_ASSUME_NO_BF16=1) fails naming the
// feature, and runs fp32 with train.bf16_fallback = "fp32".
#include <gtest/gtest.h>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>
#include "cli_fixture.hpp"
#include "kernels/cpu_features.hpp"

using namespace tessera_test;
namespace fs = std::filesystem;

namespace {

std::string config(const std::string& data, const fs::path& run, const std::string& precision,
                   std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> o = {
      {"model.embd_pdrop", "0.0"}, {"model.attn_pdrop", "0.0"}, {"model.resid_pdrop", "0.0"},
      {"train.max_steps", "30"},   {"train.grad_accum_steps", "1"}, {"train.eval_interval", "0"},
      {"train.eval_batches", "1"}, {"checkpoint.interval", "0"},  {"train.precision", "\"" + precision + "\""}};
  for (auto& [k, v] : extra) o[k] = v;
  return tiny_config(data, run.string(), o);
}

std::vector<double> train_losses(const fs::path& run) {
  std::vector<double> losses;
  std::ifstream f(run / "metrics.jsonl");
  std::string line;
  while (std::getline(f, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["kind"] == "train") losses.push_back(j["loss"].get<double>());
  }
  return losses;
}

double tail_mean(const std::vector<double>& v, size_t n) {
  double s = 0;
  for (size_t i = v.size() - n; i < v.size(); ++i) s += v[i];
  return s / double(n);
}

}  // namespace

TEST(Bf16Training, LossesTrackFp32AndFall) {
  if (!tessera::cpu_has_avx512_bf16()) GTEST_SKIP() << "CPU without avx512_bf16";
  fs::path dir = fresh_dir("bf16_training");
  const std::string data = prepare_ruth(dir);
  write_file(dir / "fp32.toml", config(data, dir / "run32", "fp32"));
  write_file(dir / "bf16.toml", config(data, dir / "run16", "bf16"));
  auto r32 = run_tessera("train " + (dir / "fp32.toml").string());
  ASSERT_EQ(r32.exit_code, 0) << r32.output;
  auto r16 = run_tessera("train " + (dir / "bf16.toml").string());
  ASSERT_EQ(r16.exit_code, 0) << r16.output;
  EXPECT_NE(r16.output.find("train.precision = bf16"), std::string::npos) << r16.output;
  const auto l32 = train_losses(dir / "run32"), l16 = train_losses(dir / "run16");
  ASSERT_EQ(l32.size(), 30u);
  ASSERT_EQ(l16.size(), 30u);
  double worst = 0;
  bool identical = true;
  for (size_t i = 0; i < l32.size(); ++i) {
    const double rel = std::abs(l16[i] - l32[i]) / std::abs(l32[i]);
    worst = std::max(worst, rel);
    identical = identical && l16[i] == l32[i];
    EXPECT_LE(rel, 0.02) << "step " << i + 1 << ": fp32 " << l32[i] << ", bf16 " << l16[i];
  }
  std::printf("30 steps: fp32 %.4f -> %.4f, bf16 %.4f -> %.4f, worst per-step relative difference %.2e\n", l32[0],
              tail_mean(l32, 5), l16[0], tail_mean(l16, 5), worst);
  EXPECT_FALSE(identical) << "bf16 run gave bit-identical losses: the bf16 GEMM was not used";
  EXPECT_LT(tail_mean(l32, 5), 0.9 * l32[0]);
  EXPECT_LT(tail_mean(l16, 5), 0.9 * l16[0]);
}

TEST(Bf16Training, MissingCpuFeatureIsAnErrorNamingIt) {
  fs::path dir = fresh_dir("bf16_no_feature");
  const std::string data = prepare_ruth(dir);
  write_file(dir / "c.toml", config(data, dir / "run", "bf16", {{"train.max_steps", "2"}}));
  auto r = run_command("TESSERA_ASSUME_NO_BF16=1 " + tessera_exe() + " train " + (dir / "c.toml").string());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("avx512_bf16"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("train.bf16_fallback"), std::string::npos) << r.output;
}

TEST(Bf16Training, FallbackKeyRunsFp32) {
  fs::path dir = fresh_dir("bf16_fallback");
  const std::string data = prepare_ruth(dir);
  write_file(dir / "c.toml", config(data, dir / "run", "bf16",
                                    {{"train.max_steps", "2"}, {"train.bf16_fallback", "\"fp32\""}}));
  auto r = run_command("TESSERA_ASSUME_NO_BF16=1 " + tessera_exe() + " train " + (dir / "c.toml").string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("running fp32"), std::string::npos) << r.output;
  EXPECT_EQ(train_losses(dir / "run").size(), 2u);
}

TEST(Bf16Training, UnknownPrecisionNamesTheKey) {
  fs::path dir = fresh_dir("bf16_bad_key");
  const std::string data = prepare_ruth(dir);
  write_file(dir / "c.toml", config(data, dir / "run", "fp16"));
  auto r = run_tessera("train " + (dir / "c.toml").string());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("train.precision"), std::string::npos) << r.output;
}
