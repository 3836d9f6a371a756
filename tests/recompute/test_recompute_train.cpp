// train.recompute end to end and its memory accounting:
//  * `tessera train` of the tiny GPT-2 grid config (4 blocks, dropout 0.1, 2 micro-batches per step)
//    with recompute = full and = selective logs bit for bit the training and validation losses of
//    recompute = none and saves bitwise the same final parameters; the config record names the mode
//    and each train record's activation_mb is smaller than none's (the buffers are really not kept);
//  * the model's measured activation bytes (GPT-2, 6 blocks) fall: full < selective < none, full
//    below half of none; the memory estimate (estimate_training_memory, `tessera inspect`) follows
//    the same order, and for GPT-2 124M at T = 1024 equals its formula: full keeps B·T·C per block
//    plus one block's intermediates, selective one block's probabilities;
//  * bad input: train.recompute = "partial" is an error naming the file, the key and the allowed
//    values (the parser, and `tessera train` exits non-zero with it).
#include <gtest/gtest.h>
#include <fstream>
#include <string>
#include <vector>
#include "grid_fixture.hpp"
#include "src/config/run_config.hpp"
#include "src/model/transformer.hpp"
#include "src/runtime/error.hpp"
#include "src/train/memory_estimate.hpp"

using namespace tessera_test;
namespace fs = std::filesystem;

namespace {

std::vector<double> train_activation_mb(const fs::path& run_dir) {
  std::vector<double> out;
  std::ifstream f(run_dir / "metrics.jsonl");
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    if (j.value("kind", "") == "train" && j.contains("activation_mb")) out.push_back(j["activation_mb"].get<double>());
  }
  return out;
}

size_t measured_activation_bytes(tessera::RecomputeKind mode) {
  using namespace tessera;
  TransformerConfig c;
  c.n_layer = 6;
  c.n_head = 4;
  c.n_embd = 32;
  c.n_positions = 64;
  c.vocab_size = 50;
  c.embd_pdrop = c.attn_pdrop = c.resid_pdrop = 0.1;
  c.recompute = mode;
  Transformer<float> m(c);
  m.init_weights(1);
  const int B = 2, T = 64;
  std::vector<int32_t> tok(size_t(B) * T), tgt(size_t(B) * T);
  for (size_t i = 0; i < tok.size(); ++i) {
    tok[i] = int32_t(i * 7 % 50);
    tgt[i] = int32_t(i * 3 % 50);
  }
  m.forward(tok.data(), tgt.data(), B, T, ForwardOptions{true, 1, 0});
  m.backward(1.0f);
  return m.activation_bytes();
}

tessera::RunConfig gpt2_small(const std::string& recompute) {
  return tessera::parse_run_config(
      "[model]\nn_layer = 12\nn_head = 12\nn_embd = 768\nn_positions = 1024\nvocab_size = 50257\n"
      "[data]\npath = \"x.h5\"\nseq_len = 1024\n[train]\nmicro_batch_size = 1\nrecompute = \"" + recompute + "\"\n",
      "gpt2.toml");
}

}  // namespace

TEST(RecomputeTrain, CliLossesAndParametersEqualNoRecomputeBitwise) {
  const fs::path dir = fresh_dir("recompute_train_cli");
  const std::string data = prepare_ruth(dir);
  std::map<std::string, Metrics> metrics;
  std::map<std::string, std::vector<double>> act;
  for (const std::string mode : {"none", "full", "selective"}) {
    GridRun run;
    run.overrides = {{"train.recompute", "\"" + mode + "\""}};
    auto r = train_on(run.grid, write_grid_config(dir, mode, data, run));
    ASSERT_EQ(r.result.exit_code, 0) << mode << ": " << r.result.output;
    metrics[mode] = read_metrics(dir / mode);
    act[mode] = train_activation_mb(dir / mode);
    ASSERT_FALSE(metrics[mode].configs.empty()) << mode;
    EXPECT_EQ(metrics[mode].configs.front().value("recompute", ""), mode);
    ASSERT_FALSE(act[mode].empty()) << mode << ": train records carry activation_mb";
  }
  ASSERT_EQ(metrics["none"].train.size(), 10u);
  const auto pn = read_tensors(tessera::find_latest_checkpoint((dir / "none/checkpoints").string()), "params");
  for (const std::string mode : {"full", "selective"}) {
    EXPECT_EQ(metrics[mode].train_text, metrics["none"].train_text) << mode << ": training losses";
    EXPECT_EQ(metrics[mode].eval_text, metrics["none"].eval_text) << mode << ": validation losses";
    const auto pm = read_tensors(tessera::find_latest_checkpoint((dir / mode / "checkpoints").string()), "params");
    expect_tensors_bitwise(pm, pn, mode + " final parameters");
    EXPECT_LT(act[mode].back(), act["none"].back()) << mode << ": activation_mb";
  }
  EXPECT_LT(act["full"].back(), act["selective"].back());
}

TEST(RecomputeTrain, MeasuredAndEstimatedActivationBytesFall) {
  using tessera::RecomputeKind;
  const double none = double(measured_activation_bytes(RecomputeKind::None));
  const double sel = double(measured_activation_bytes(RecomputeKind::Selective));
  const double full = double(measured_activation_bytes(RecomputeKind::Full));
  std::printf("[recompute] measured activation bytes: none %.0f, selective %.0f (%.2f), full %.0f (%.2f)\n", none, sel,
              sel / none, full, full / none);
  EXPECT_LT(sel, none);
  EXPECT_LT(full, sel);
  EXPECT_LT(full, 0.5 * none);

  const auto en = tessera::estimate_training_memory(gpt2_small("none"));
  const auto es = tessera::estimate_training_memory(gpt2_small("selective"));
  const auto ef = tessera::estimate_training_memory(gpt2_small("full"));
  EXPECT_EQ(ef.recompute, RecomputeKind::Full);
  EXPECT_NE(tessera::describe(ef).find("with recompute full"), std::string::npos) << tessera::describe(ef);
  EXPECT_LT(es.activation_bytes, en.activation_bytes);
  EXPECT_LT(ef.activation_bytes, es.activation_bytes);
  // GPT-2 124M, B = 1, T = 1024 (floats): per block B·T·(16·C + 2·F) + probabilities 2·B·H·T², logits 2·B·T·V.
  const double B = 1, T = 1024, C = 768, F = 3072, H = 12, L = 12, V = 50257;
  const double per_block = B * T * (16 * C + 2 * F) + 2 * B * H * T * T, logits = 2 * B * T * V;
  EXPECT_DOUBLE_EQ(en.activation_bytes, 4 * (L * per_block + logits));
  EXPECT_DOUBLE_EQ(ef.activation_bytes, 4 * (L * B * T * C + per_block + logits));
  EXPECT_DOUBLE_EQ(es.activation_bytes, 4 * (L * B * T * (16 * C + 2 * F) + 2 * B * H * T * T + logits));
  // Other parts of the estimate are untouched.
  EXPECT_DOUBLE_EQ(ef.params_bytes, en.params_bytes);
  EXPECT_DOUBLE_EQ(ef.optimizer_bytes, en.optimizer_bytes);
}

TEST(RecomputeTrain, UnknownValueIsAnErrorNamingTheKeyAndTheChoices) {
  std::string msg;
  try {
    gpt2_small("partial");
  } catch (const tessera::Error& e) {
    msg = e.what();
  }
  ASSERT_FALSE(msg.empty()) << "train.recompute = \"partial\" must be rejected";
  for (const char* part : {"gpt2.toml", "train.recompute", "partial", "\"none\"", "\"full\"", "\"selective\""})
    EXPECT_NE(msg.find(part), std::string::npos) << "missing '" << part << "' in: " << msg;

  const fs::path dir = fresh_dir("recompute_bad_cli");
  GridRun run;
  run.overrides = {{"train.recompute", "\"blocks\""}};
  const std::string cfg = write_grid_config(dir, "bad", (dir / "none.h5").string(), run);
  const auto r = run_tessera("train " + cfg);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("train.recompute"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\"selective\""), std::string::npos) << r.output;
}
