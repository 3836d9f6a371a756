// Fail fast on impossible sizes: the per-rank memory estimate (parameters,
// gradients, AdamW moments, checkpoint staging, activations) is computed from
// the config and grid before anything is allocated; a model that cannot fit is
// refused at once with the estimate and the available memory, and
// `tessera inspect CONFIG.toml` prints the estimate.
#include <gtest/gtest.h>
#include <chrono>
#include "cli_fixture.hpp"
#include "src/config/run_config.hpp"
#include "src/train/memory_estimate.hpp"

namespace fs = std::filesystem;
using namespace tessera_test;

namespace {

tessera::RunConfig gpt2_small(int tp = 1, int pp = 1, int dp = 1, bool zero1 = false) {
  std::string text =
      "[model]\nn_layer = 12\nn_head = 12\nn_embd = 768\nn_positions = 1024\nvocab_size = 50257\n"
      "[data]\npath = \"x.h5\"\nseq_len = 1024\n[train]\nmicro_batch_size = 4\n[parallel]\ntp = " +
      std::to_string(tp) + "\npp = " + std::to_string(pp) + "\ndp = " + std::to_string(dp) +
      "\nzero1 = " + (zero1 ? "true" : "false") + "\n";
  return tessera::parse_run_config(text, "gpt2.toml");
}

}  // namespace

TEST(FailFast, EstimateCountsTheModelsParametersAndSplitsThemOverTheGrid) {
  const tessera::RunConfig one = gpt2_small();
  const auto e = tessera::estimate_training_memory(one);
  const double n = double(one.model.transformer.num_parameters());  // 124439808, HF's GPT-2 count
  EXPECT_NEAR(e.parameters / n, 1.0, 1e-4);
  EXPECT_DOUBLE_EQ(e.params_bytes, 4 * e.parameters);
  EXPECT_DOUBLE_EQ(e.optimizer_bytes, 8 * e.parameters);
  // B·T·(16·C + 2·F)·L + 2·B·H·T²·L + 2·B·T·V floats: 10.1 GB for B=4, T=1024.
  const double acts = 4.0 * (4 * 1024.0 * (16 * 768 + 2 * 3072) * 12 + 2 * 4 * 12 * 1024.0 * 1024 * 12 + 2 * 4 * 1024.0 * 50257);
  EXPECT_DOUBLE_EQ(e.activation_bytes, acts);
  const auto tp2 = tessera::estimate_training_memory(gpt2_small(2));
  EXPECT_NEAR(tp2.parameters / e.parameters, 0.5, 1e-6);
  const auto pp2 = tessera::estimate_training_memory(gpt2_small(1, 2));
  EXPECT_LT(pp2.parameters, 0.75 * e.parameters);  // half the blocks + the tied LM head copy
  const auto z = tessera::estimate_training_memory(gpt2_small(1, 1, 4, true));
  EXPECT_DOUBLE_EQ(z.optimizer_bytes, e.optimizer_bytes / 4);
  EXPECT_GT(tessera::available_memory_bytes(), 0);
}

TEST(FailFast, HundredMillionLayersIsRefusedInUnderFiveSeconds) {
  const fs::path dir = fresh_dir("fail_fast_layers");
  const std::string cfg = (dir / "train.toml").string();
  write_file(cfg, tiny_config(prepare_ruth(dir), (dir / "run").string(), {{"model.n_layer", "100000000"}}));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run_tessera("train " + cfg);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_LT(secs, 5.0) << r.output;
  EXPECT_NE(r.output.find(cfg + ": the model cannot fit: memory estimate per rank: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("TiB"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("is available per rank"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("MemAvailable"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "run" / "checkpoints")) << "refused before any work";

  auto i = run_tessera("inspect " + cfg);
  EXPECT_EQ(i.exit_code, 0) << i.output;
  EXPECT_NE(i.output.find("100000000 layers"), std::string::npos) << i.output;
  EXPECT_NE(i.output.find("memory estimate per rank: "), std::string::npos) << i.output;
  EXPECT_NE(i.output.find("does NOT fit"), std::string::npos) << i.output;
}

TEST(FailFast, LimitIsSharedByTheRanksOfANodeAndTheTinyModelFits) {
  const fs::path dir = fresh_dir("fail_fast_limit");
  const std::string cfg = (dir / "train.toml").string();
  write_file(cfg, tiny_config(prepare_ruth(dir), (dir / "run").string(), {{"parallel.dp", "2"}, {"train.max_steps", "2"}}));
  auto i = run_tessera("inspect " + cfg);
  EXPECT_EQ(i.exit_code, 0) << i.output;
  EXPECT_NE(i.output.find("fits"), std::string::npos) << i.output;
  EXPECT_EQ(i.output.find("does NOT fit"), std::string::npos) << i.output;
  // 3 MB "available": the tiny model (~2.1 MiB estimated per rank) fits one rank, not two.
  auto r = run_mpi(2, "train " + cfg, {{"TESSERA_MEMORY_LIMIT_BYTES", "3000000"}});
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("shared by 2 ranks on this node"), std::string::npos) << r.output;
  auto ok = run_mpi(2, "train " + cfg, {{"TESSERA_MEMORY_LIMIT_BYTES", "1000000000"}});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
}
