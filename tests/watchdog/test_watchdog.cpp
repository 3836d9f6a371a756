// Hang watchdog: rank 1 stalls (TESSERA_FAULT=stall:rank=1:step=3:seconds=600)
// with [parallel] timeout_s = 5; the job must end non-zero within the timeout
// plus a few seconds, and the message must name the stalled rank (the progress
// board, src/runtime/progress_board.hpp).
#include <gtest/gtest.h>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include "cli_fixture.hpp"

namespace fs = std::filesystem;
using namespace tessera_test;

TEST(Watchdog, StalledRankIsNamedAndTheJobEndsSoon) {
  const fs::path dir = fresh_dir("watchdog_stall");
  const std::string cfg = (dir / "train.toml").string();
  write_file(cfg, tiny_config(prepare_ruth(dir), (dir / "run").string(),
                              {{"parallel.dp", "2"}, {"parallel.timeout_s", "5"}, {"train.max_steps", "8"}}));
  setenv("TESSERA_FAULT", "stall:rank=1:step=3:seconds=600", 1);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run_mpi(2, "train " + cfg);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  unsetenv("TESSERA_FAULT");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_LT(secs, 5 + 15) << r.output;  // timeout + report + exit + launcher teardown (+ startup)
  EXPECT_NE(r.output.find("timed out"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("behind (likely stalled): world rank 1 at step 2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("this rank is at step 3"), std::string::npos) << r.output;
}
