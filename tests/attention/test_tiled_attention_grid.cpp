// model.attention = "tiled" through the CLI on a dp 2 × tp 2 grid (and pp 2): a tiny Llama (GQA 4 query / 2 kv
// heads, one kv head per tp rank, dropout 0.1 everywhere, grid_fixture.hpp) trains 10 steps with the losses and
// final parameters of the one-rank materialized run within 1e-5. Checks the dropout masks' global (b, h) indices
// (batch_offset on dp, head_offset on tp) and the lse slots of a pipeline stage.
#include <gtest/gtest.h>
#include "grid_fixture.hpp"

using namespace tessera_test;
namespace fs = std::filesystem;

namespace {

class TiledAttentionGrid : public ::testing::TestWithParam<Grid> {};

TEST_P(TiledAttentionGrid, TiledOnGridMatchesMaterializedOneRank) {
  const Grid grid = GetParam();
  const fs::path dir = fresh_dir("tiled_attention_grid_" + grid.tag());
  const std::string data = prepare_ruth(dir);
  GridRun base;
  base.grid = Grid{1, 1, 1};
  base.accum = 2;
  base.overrides = {{"model.family", "\"llama\""},
                    {"model.n_kv_head", "2"},
                    {"model.n_inner", "48"},
                    {"model.tie_word_embeddings", "false"},
                    {"model.attention", "\"materialized\""}};
  GridRun run = base;
  run.grid = grid;
  run.overrides["model.attention"] = "\"tiled\"";
  auto b = train_on(base.grid, write_grid_config(dir, "base", data, base));
  ASSERT_EQ(b.result.exit_code, 0) << b.result.output;
  auto g = train_on(run.grid, write_grid_config(dir, "grid", data, run));
  ASSERT_EQ(g.result.exit_code, 0) << g.result.output;
  const Metrics mb = read_metrics(dir / "base"), mg = read_metrics(dir / "grid");
  ASSERT_EQ(mb.train.size(), 10u);
  EXPECT_GT(std::abs(mb.train.at(1) - mb.train.at(10)), 1e-3) << "the baseline did not train";
  expect_losses_close(mg.train, mb.train, 1e-5, "tiled grid " + grid.name() + " training loss");
  expect_losses_close(mg.eval, mb.eval, 1e-5, "tiled grid " + grid.name() + " validation loss");
  const auto pb = read_tensors(tessera::find_latest_checkpoint((dir / "base/checkpoints").string()), "params");
  const auto pg = read_tensors(tessera::find_latest_checkpoint((dir / "grid/checkpoints").string()), "params");
  const double worst = expect_tensors_close(pg, pb, 1e-5, "tiled grid " + grid.name() + " final /params");
  std::printf("[tiled attention grid %s] worst final-parameter max|a-b|/max|b| = %.3g\n", grid.name().c_str(), worst);
}

std::string grid_name(const ::testing::TestParamInfo<Grid>& info) { return info.param.tag(); }

INSTANTIATE_TEST_SUITE_P(Grids, TiledAttentionGrid, ::testing::Values(Grid{2, 2, 1}, Grid{1, 1, 2}), grid_name);

}  // namespace
