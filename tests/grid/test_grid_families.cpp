// Grid invariance of the other architectures, through the CLI like
// test_grid_invariance.cpp: 10 steps of a tiny Llama (RMSNorm, RoPE, SwiGLU, GQA
// with 4 query / 2 key-value heads, untied head, dropout 0.1) on the Ruth text on a
// DP × TP × PP grid give the 1-rank run's training and validation losses within
// 1e-5 and its final parameters within 1e-5 (max|a−b| / max|b| per tensor). tp = 2
// splits the two kv heads one per rank.
#include <gtest/gtest.h>
#include "grid_fixture.hpp"

using namespace tessera_test;
namespace fs = std::filesystem;

namespace {

class LlamaGridInvariance : public ::testing::TestWithParam<Grid> {};

TEST_P(LlamaGridInvariance, LossesAndParametersMatchOneRank) {
  const Grid grid = GetParam();
  const fs::path dir = fresh_dir("grid_llama_" + grid.tag());
  const std::string data = prepare_ruth(dir);
  GridRun base;
  base.grid = Grid{1, 1, 1};
  base.accum = 2;
  base.overrides = {{"model.family", "\"llama\""},
                    {"model.n_kv_head", "2"},
                    {"model.n_inner", "48"},
                    {"model.tie_word_embeddings", "false"}};
  GridRun run = base;
  run.grid = grid;
  auto b = train_on(base.grid, write_grid_config(dir, "base", data, base));
  ASSERT_EQ(b.result.exit_code, 0) << b.result.output;
  auto g = train_on(run.grid, write_grid_config(dir, "grid", data, run));
  ASSERT_EQ(g.result.exit_code, 0) << g.result.output;
  const Metrics mb = read_metrics(dir / "base"), mg = read_metrics(dir / "grid");
  ASSERT_EQ(mb.train.size(), 10u);
  EXPECT_GT(std::abs(mb.train.at(1) - mb.train.at(10)), 1e-3) << "the baseline did not train";
  expect_losses_close(mg.train, mb.train, 1e-5, "llama grid " + grid.name() + " training loss");
  expect_losses_close(mg.eval, mb.eval, 1e-5, "llama grid " + grid.name() + " validation loss");
  const auto pb = read_tensors(tessera::find_latest_checkpoint((dir / "base/checkpoints").string()), "params");
  const auto pg = read_tensors(tessera::find_latest_checkpoint((dir / "grid/checkpoints").string()), "params");
  ASSERT_EQ(pb.size(), 4u * 9u + 3u);  // embed_tokens, norm, lm_head + 9 per block
  const double worst = expect_tensors_close(pg, pb, 1e-5, "llama grid " + grid.name() + " final /params");
  std::printf("[llama grid %s] worst final-parameter max|a-b|/max|b| = %.3g\n", grid.name().c_str(), worst);
}

// BERT (post-norm, token types, padding masks, pooler) with a sequence-classification
// head on a task dataset: the same checks on the 1-rank run's losses and parameters.
class BertTaskGridInvariance : public ::testing::TestWithParam<Grid> {};

TEST_P(BertTaskGridInvariance, LossesAndParametersMatchOneRank) {
  const Grid grid = GetParam();
  const fs::path dir = fresh_dir("grid_bert_" + grid.tag());
  const char* good[] = {"god created heaven and earth", "let there be light", "god said let there be light",
                        "the king of israel", "david was king"};
  const char* bad[] = {"moses went to egypt", "aaron went to egypt", "who went to jerusalem",
                       "the children of israel went", "where was moses"};
  std::string train = "text,label\n";
  for (int rep = 0; rep < 4; ++rep)
    for (int i = 0; i < 5; ++i) train += std::string(good[(i + rep) % 5]) + ",good\n" + bad[i] + ",bad\n";
  write_file(dir / "train.csv", train);
  const std::string data = (dir / "data.h5").string();
  auto p = run_mpi(1, "prepare --task classification --input " + (dir / "train.csv").string() +
                          " --validation-input " + (dir / "train.csv").string() + " --vocab " + source_dir() +
                          "/tests/fixtures/tasks/vocab.txt --max-len 12 --output " + data);
  ASSERT_EQ(p.exit_code, 0) << p.output;
  GridRun base;
  base.grid = Grid{1, 1, 1};
  base.accum = 2;
  base.overrides = {{"model.family", "\"bert\""}, {"model.head", "\"sequence_classification\""},
                    {"model.num_labels", "2"}, {"model.vocab_size", "69"}};
  GridRun run = base;
  run.grid = grid;
  auto b = train_on(base.grid, write_grid_config(dir, "base", data, base));
  ASSERT_EQ(b.result.exit_code, 0) << b.result.output;
  auto g = train_on(run.grid, write_grid_config(dir, "grid", data, run));
  ASSERT_EQ(g.result.exit_code, 0) << g.result.output;
  const Metrics mb = read_metrics(dir / "base"), mg = read_metrics(dir / "grid");
  ASSERT_EQ(mb.train.size(), 10u);
  ASSERT_EQ(mb.eval.size(), 2u);
  EXPECT_GT(std::abs(mb.train.at(1) - mb.train.at(10)), 1e-3) << "the baseline did not train";
  expect_losses_close(mg.train, mb.train, 1e-5, "bert grid " + grid.name() + " training loss");
  expect_losses_close(mg.eval, mb.eval, 1e-5, "bert grid " + grid.name() + " validation loss");
  const auto pb = read_tensors(tessera::find_latest_checkpoint((dir / "base/checkpoints").string()), "params");
  const auto pg = read_tensors(tessera::find_latest_checkpoint((dir / "grid/checkpoints").string()), "params");
  ASSERT_EQ(pb.size(), 5u + 4u * 16u + 4u);  // 5 embedding tensors, 16 per block, pooler + classifier
  const double worst = expect_tensors_close(pg, pb, 1e-5, "bert grid " + grid.name() + " final /params");
  std::printf("[bert grid %s] worst final-parameter max|a-b|/max|b| = %.3g\n", grid.name().c_str(), worst);
}

std::string grid_name(const ::testing::TestParamInfo<Grid>& info) { return info.param.tag(); }

INSTANTIATE_TEST_SUITE_P(Grids, BertTaskGridInvariance,
                         ::testing::Values(Grid{2, 1, 1}, Grid{1, 2, 1}, Grid{1, 1, 2}, Grid{2, 2, 2}), grid_name);

INSTANTIATE_TEST_SUITE_P(Grids, LlamaGridInvariance,
                         ::testing::Values(Grid{2, 1, 1}, Grid{1, 2, 1}, Grid{1, 1, 2}, Grid{2, 2, 2}), grid_name);

}  // namespace
