// Grid invariance through the CLI: 10 training steps of a tiny GPT-2 (4 layers, 4
// heads, width 32, dropout 0.1) on a DP × TP × PP grid, at the same GLOBAL batch as
// the 1-rank baseline (per-rank micro_batch_size = 4 / dp), give
//   - every step's training loss within 1e-5 relative of the baseline's,
//   - every validation loss (steps 5 and 10) within 1e-5 relative,
//   - final parameters (the step-10 checkpoint's /params/* datasets, full logical
//     shapes) with max|a−b| / max|b| ≤ 2e-5 for every tensor (dp 4 with one sample
//     per rank reorders every float32 gradient sum; after 10 AdamW steps the worst
//     tensor, a 32-element attention-output bias, differs by 1.09e-5),
//   - a metrics.jsonl "config" record naming the grid (dp, tp, pp, zero1).
// Variants: every grid with (ZeRO-1 off, grad_accum 2) and (ZeRO-1 on, grad_accum 1),
// plus mixed ones. The baseline is always plain AdamW on one rank (mpirun -np 1).
#include <gtest/gtest.h>
#include <sstream>
#include "grid_fixture.hpp"

using namespace tessera_test;
namespace fs = std::filesystem;

namespace {

constexpr double kLossTol = 1e-5;
constexpr double kParamTol = 2e-5;

struct Case {
  Grid grid;
  bool zero1;
  int accum;
};

std::string case_name(const Case& c) {
  return c.grid.tag() + (c.zero1 ? "_zero1" : "_nozero") + "_accum" + std::to_string(c.accum);
}
void PrintTo(const Case& c, std::ostream* os) { *os << case_name(c); }

class GridInvariance : public ::testing::TestWithParam<Case> {};

TEST_P(GridInvariance, LossesAndParametersMatchOneRank) {
  const Case c = GetParam();
  const fs::path dir = fresh_dir("grid_inv_" + case_name(c));
  const std::string data = prepare_ruth(dir);

  GridRun base;
  base.grid = Grid{1, 1, 1};
  base.zero1 = false;
  base.accum = c.accum;
  GridRun run = base;
  run.grid = c.grid;
  run.zero1 = c.zero1;

  auto b = train_on(base.grid, write_grid_config(dir, "base", data, base));
  ASSERT_EQ(b.result.exit_code, 0) << b.result.output;
  auto g = train_on(run.grid, write_grid_config(dir, "grid", data, run));
  ASSERT_EQ(g.result.exit_code, 0) << g.result.output;
  std::printf("[timing] %s: baseline %.2f s, grid %s on %d ranks %.2f s\n", case_name(c).c_str(), b.seconds,
              c.grid.name().c_str(), c.grid.ranks(), g.seconds);

  const Metrics mb = read_metrics(dir / "base"), mg = read_metrics(dir / "grid");
  ASSERT_EQ(mb.train.size(), 10u);
  ASSERT_EQ(mb.eval.size(), 2u);  // steps 5 and 10
  ASSERT_TRUE(mb.eval.count(5) && mb.eval.count(10));
  EXPECT_GT(std::abs(mb.train.at(1) - mb.train.at(10)), 1e-3) << "the baseline did not train";
  expect_losses_close(mg.train, mb.train, kLossTol, "grid " + c.grid.name() + " training loss");
  expect_losses_close(mg.eval, mb.eval, kLossTol, "grid " + c.grid.name() + " validation loss");

  // The run's config record names its grid.
  ASSERT_EQ(mg.configs.size(), 1u);
  const auto& rec = mg.configs[0];
  EXPECT_EQ(rec.value("dp", -1), c.grid.dp);
  EXPECT_EQ(rec.value("tp", -1), c.grid.tp);
  EXPECT_EQ(rec.value("pp", -1), c.grid.pp);
  EXPECT_EQ(rec.value("zero1", !c.zero1), c.zero1);
  EXPECT_NE(rec.value("config", std::string()).find("[parallel]"), std::string::npos);
  ASSERT_EQ(mb.configs.size(), 1u);
  EXPECT_EQ(mb.configs[0].value("dp", -1), 1);
  EXPECT_EQ(mb.configs[0].value("parameters", int64_t(-1)), rec.value("parameters", int64_t(-2)));

  // Final parameters at full logical shape.
  const std::string cb = tessera::find_latest_checkpoint((dir / "base/checkpoints").string());
  const std::string cg = tessera::find_latest_checkpoint((dir / "grid/checkpoints").string());
  ASSERT_EQ(fs::path(cb).filename(), "step_00000010.h5");
  ASSERT_EQ(fs::path(cg).filename(), "step_00000010.h5");
  const auto pb = read_tensors(cb, "params"), pg = read_tensors(cg, "params");
  ASSERT_EQ(pb.size(), 4u * 12u + 4u);  // wte, wpe, ln_f.{weight,bias}, 12 per block
  const double worst = expect_tensors_close(pg, pb, kParamTol, "grid " + c.grid.name() + " final /params");
  std::printf("[grid %s] worst final-parameter max|a-b|/max|b| = %.3g\n", case_name(c).c_str(), worst);
}

const Grid kGrids[] = {{2, 1, 1}, {1, 2, 1}, {1, 1, 2}, {2, 2, 1}, {2, 1, 2}, {1, 2, 2}, {2, 2, 2}, {4, 1, 1}};

std::vector<Case> all_grids(bool zero1, int accum) {
  std::vector<Case> v;
  for (const Grid& g : kGrids) v.push_back({g, zero1, accum});
  return v;
}

std::string param_name(const ::testing::TestParamInfo<Case>& info) { return case_name(info.param); }

INSTANTIATE_TEST_SUITE_P(PlainAccum2, GridInvariance, ::testing::ValuesIn(all_grids(false, 2)), param_name);
INSTANTIATE_TEST_SUITE_P(Zero1Accum1, GridInvariance, ::testing::ValuesIn(all_grids(true, 1)), param_name);
INSTANTIATE_TEST_SUITE_P(Mixed, GridInvariance,
                         ::testing::Values(Case{{2, 2, 2}, true, 2}, Case{{2, 1, 2}, true, 2},
                                           Case{{4, 1, 1}, false, 1}, Case{{1, 2, 2}, false, 1}),
                         param_name);

}  // namespace
