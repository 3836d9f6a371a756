// Failure modes of a multi-rank run (TESSERA_FAULT, src/runtime/fault_injection.hpp):
//   - an exception on one rank of a 2/2/1 job ends the whole job with a non-zero exit
//     within 30 s, and the output names the failing rank with its grid coordinates;
//   - a job killed (SIGKILL on rank 0) while writing the step-4 checkpoint leaves the
//     step-2 checkpoint as the newest complete one: find_latest_checkpoint returns it,
//     no step_00000004.h5 exists (a .tmp may), `tessera eval` reads it, and resuming
//     from it on the same grid reproduces the uninterrupted run's losses bitwise.
#include <gtest/gtest.h>
#include "grid_fixture.hpp"

using namespace tessera_test;
namespace fs = std::filesystem;

namespace {

constexpr double kMaxSeconds = 30;

TEST(GridFault, ThrowOnOneRankEndsTheJobAndNamesTheRank) {
  const fs::path dir = fresh_dir("grid_fault_throw");
  const std::string data = prepare_ruth(dir);
  GridRun run;
  run.grid = Grid{2, 2, 1};
  run.max_steps = 6;
  // The other ranks' collective watchdog (45 s) bounds a hang, so a job that does not
  // end by itself fails this test in under a minute instead of hanging ctest.
  run.overrides["parallel.timeout_s"] = "45";
  auto r = train_on(run.grid, write_grid_config(dir, "run", data, run), "",
                    {{"TESSERA_FAULT", "throw:rank=2:step=3"}});
  std::printf("[timing] 2/2/1 job with a throw on rank 2 at step 3 ended after %.2f s (exit %d)\n", r.seconds,
              r.result.exit_code);
  EXPECT_NE(r.result.exit_code, 0) << r.result.output;
  EXPECT_LT(r.seconds, kMaxSeconds) << r.result.output;
  EXPECT_NE(r.result.output.find("injected fault"), std::string::npos) << r.result.output;
  // World rank 2 of a 2/2/1 grid: tp innermost, then pp, then dp → (dp 1, pp 0, tp 0).
  EXPECT_NE(r.result.output.find("tessera: error [rank 2/4 (dp 1, pp 0, tp 0)"), std::string::npos)
      << r.result.output;
  // Steps 1-2 ran, step 3 did not complete.
  const Metrics m = read_metrics(dir / "run");
  EXPECT_EQ(m.train.size(), 2u);
  EXPECT_EQ(m.train.count(3), 0u);
}

TEST(GridFault, KilledCheckpointWriteLeavesPreviousCheckpointLoadable) {
  const fs::path dir = fresh_dir("grid_fault_kill");
  const std::string data = prepare_ruth(dir);
  GridRun run;
  run.grid = Grid{2, 2, 1};
  run.max_steps = 6;
  run.checkpoint_interval = 2;
  const std::string cfg = write_grid_config(dir, "run", data, run);
  auto r = train_on(run.grid, cfg, "", {{"TESSERA_FAULT", "kill:rank=0:point=checkpoint_write:step=4"}});
  std::printf("[timing] 2/2/1 job killed in the step-4 checkpoint write ended after %.2f s (exit %d)\n", r.seconds,
              r.result.exit_code);
  EXPECT_NE(r.result.exit_code, 0) << r.result.output;
  EXPECT_LT(r.seconds, kMaxSeconds) << r.result.output;
  EXPECT_NE(r.result.output.find("SIGKILL"), std::string::npos) << r.result.output;

  const fs::path ckpts = dir / "run/checkpoints";
  std::string listing;
  for (auto& e : fs::directory_iterator(ckpts)) listing += " " + e.path().filename().string();
  const std::string latest = tessera::find_latest_checkpoint(ckpts.string());
  EXPECT_EQ(fs::path(latest).filename(), "step_00000002.h5") << "files:" << listing;
  EXPECT_FALSE(fs::exists(ckpts / "step_00000004.h5")) << "files:" << listing;
  std::printf("[fault] checkpoint dir after the kill:%s\n", listing.c_str());
  ASSERT_FALSE(latest.empty());
  const tessera::TrainingState st = tessera::read_checkpoint_state(latest, MPI_COMM_NULL);
  EXPECT_EQ(st.step, 2);

  // `tessera eval` (one rank) reads it.
  auto ev = run_mpi(1, "eval " + cfg + " --checkpoint " + latest);
  EXPECT_EQ(ev.exit_code, 0) << ev.output;
  EXPECT_NE(ev.output.find("validation loss"), std::string::npos) << ev.output;

  // Resuming on the same grid continues from step 2 exactly like an uninterrupted run.
  GridRun clean = run;
  auto c = train_on(clean.grid, write_grid_config(dir, "clean", data, clean));
  ASSERT_EQ(c.result.exit_code, 0) << c.result.output;
  auto res = train_on(run.grid, cfg, "--resume");
  ASSERT_EQ(res.result.exit_code, 0) << res.result.output;
  EXPECT_NE(res.result.output.find("resumed from " + latest + " at step 2"), std::string::npos) << res.result.output;
  const Metrics a = read_metrics(dir / "clean"), b = read_metrics(dir / "run");  // later records win
  ASSERT_EQ(a.train_text.size(), 6u);
  ASSERT_EQ(b.train_text.size(), 6u);
  for (int64_t s = 3; s <= 6; ++s) EXPECT_EQ(b.train_text.at(s), a.train_text.at(s)) << "training loss, step " << s;
  EXPECT_EQ(fs::path(tessera::find_latest_checkpoint(ckpts.string())).filename(), "step_00000006.h5");
  EXPECT_FALSE(fs::exists(ckpts / "step_00000004.h5.tmp")) << "the stale temporary file was not cleaned up";
}

}  // namespace
