// Exact resume on a multi-rank grid: a run stopped mid-epoch at step 3
// (--stop-at-step) and resumed (--resume) on the same grid logs bitwise the same
// training and validation losses (JSON text) as the uninterrupted run, ends with
// bitwise-identical parameters and AdamW moments, and continues the data order
// exactly (the stop checkpoint's loader position is the mid-epoch global sample
// count; the losses of steps 4-8 depend on which samples they read).
#include <gtest/gtest.h>
#include "grid_fixture.hpp"

using namespace tessera_test;
namespace fs = std::filesystem;

namespace {

struct Case {
  Grid grid;
  bool zero1;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.grid.tag() << (c.zero1 ? "_zero1" : ""); }

class GridResume : public ::testing::TestWithParam<Case> {};

TEST_P(GridResume, StoppedAndResumedRunMatchesUninterruptedBitwise) {
  const Case c = GetParam();
  const fs::path dir = fresh_dir("grid_resume_" + c.grid.tag() + (c.zero1 ? "_zero1" : ""));
  const std::string data = prepare_ruth(dir);
  GridRun run;
  run.grid = c.grid;
  run.zero1 = c.zero1;
  run.accum = 2;
  run.max_steps = 8;
  run.overrides["train.eval_interval"] = "2";  // validations before and after the stop

  auto full = train_on(c.grid, write_grid_config(dir, "full", data, run));
  ASSERT_EQ(full.result.exit_code, 0) << full.result.output;
  const std::string split_cfg = write_grid_config(dir, "split", data, run);
  auto first = train_on(c.grid, split_cfg, "--stop-at-step 3");
  ASSERT_EQ(first.result.exit_code, 0) << first.result.output;
  EXPECT_NE(first.result.output.find("stopping at step 3"), std::string::npos) << first.result.output;
  auto second = train_on(c.grid, split_cfg, "--resume");
  ASSERT_EQ(second.result.exit_code, 0) << second.result.output;
  EXPECT_NE(second.result.output.find("resumed from"), std::string::npos) << second.result.output;
  EXPECT_NE(second.result.output.find("at step 3"), std::string::npos) << second.result.output;
  std::printf("[timing] %s: full %.2f s, first part %.2f s, resumed part %.2f s\n", c.grid.name().c_str(),
              full.seconds, first.seconds, second.seconds);

  // The stop checkpoint sits mid-epoch at global sample 3 steps × 2 micro-steps × 4.
  const std::string stop = tessera::checkpoint_path((dir / "split/checkpoints").string(), 3);
  ASSERT_TRUE(fs::exists(stop));
  const tessera::TrainingState st = tessera::read_checkpoint_state(stop, MPI_COMM_NULL);
  EXPECT_EQ(st.step, 3);
  EXPECT_EQ(st.data_epoch, 0);
  EXPECT_EQ(st.data_cursor, 3 * 2 * kGlobalMicroBatch);

  const Metrics a = read_metrics(dir / "full"), b = read_metrics(dir / "split");
  ASSERT_EQ(a.train_text.size(), 8u);
  ASSERT_EQ(b.train_text.size(), 8u);  // steps 1-3 from the first part, 4-8 after resuming
  for (int64_t s = 1; s <= 8; ++s) EXPECT_EQ(b.train_text.at(s), a.train_text.at(s)) << "training loss, step " << s;
  EXPECT_NE(a.train_text.at(4), a.train_text.at(8));  // it trained
  ASSERT_EQ(a.eval_text.size(), 4u);                  // steps 2, 4, 6, 8
  EXPECT_EQ(b.eval_text, a.eval_text);

  const std::string ca = tessera::find_latest_checkpoint((dir / "full/checkpoints").string());
  const std::string cb = tessera::find_latest_checkpoint((dir / "split/checkpoints").string());
  ASSERT_EQ(fs::path(ca).filename(), "step_00000008.h5");
  ASSERT_EQ(fs::path(cb).filename(), "step_00000008.h5");
  for (const auto& g : checkpoint_groups())
    expect_tensors_bitwise(read_tensors(cb, g), read_tensors(ca, g), c.grid.name() + " final /" + g);
  const tessera::TrainingState sa = tessera::read_checkpoint_state(ca, MPI_COMM_NULL);
  const tessera::TrainingState sb = tessera::read_checkpoint_state(cb, MPI_COMM_NULL);
  EXPECT_EQ(sb.data_epoch, sa.data_epoch);
  EXPECT_EQ(sb.data_cursor, sa.data_cursor);
  EXPECT_EQ(sb.tokens_seen, sa.tokens_seen);
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.grid.tag() + (info.param.zero1 ? "_zero1" : "");
}

INSTANTIATE_TEST_SUITE_P(Grids, GridResume,
                         ::testing::Values(Case{{2, 2, 1}, false}, Case{{2, 2, 1}, true}, Case{{1, 1, 2}, false}),
                         case_name);

}  // namespace
