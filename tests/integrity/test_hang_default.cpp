// Hang safety by default: a 4-rank job (dp 2 × tp 2) with the default [parallel]
// settings — no timeout_s in the config — has one rank SIGSTOPped mid-run. The
// job must end non-zero within the default timeout's bound and the error must
// name the stopped rank: world rank, grid coordinates and host. The default
// floor (300 s) is replaced through TESSERA_DEFAULT_TIMEOUT_S so the test is
// fast; the code path (default timeout, step scaling, progress board) is the
// default one.
#include <gtest/gtest.h>
#include <chrono>
#include "background_job.hpp"
#include "cli_fixture.hpp"
#include "src/runtime/rank_context.hpp"

namespace fs = std::filesystem;
using namespace tessera_test;

namespace {

void stop_rank_and_expect_it_named(int stopped, const std::string& coords) {
  const fs::path dir = fresh_dir("hang_default_" + std::to_string(stopped));
  const std::string cfg = (dir / "train.toml").string();
  write_file(cfg, tiny_config(prepare_ruth(dir), (dir / "run").string(),
                              {{"parallel.dp", "2"}, {"parallel.tp", "2"}, {"train.max_steps", "100000"},
                               {"train.eval_interval", "0"}, {"checkpoint.interval", "0"}}));
  ASSERT_EQ(read_file(cfg).find("timeout"), std::string::npos) << "the config must use the default timeout";
  BackgroundJob job(4, "train " + cfg, dir / "job.log", "TESSERA_DEFAULT_TIMEOUT_S=3");
  ASSERT_GT(job.pid, 0);
  ASSERT_TRUE(wait_for_logged_step(dir / "run" / "metrics.jsonl", 3, 120)) << job.output();
  const std::vector<pid_t> ranks = job.ranks();
  ASSERT_EQ(ranks.size(), 4u) << job.output();
  ASSERT_EQ(kill(ranks[stopped], SIGSTOP), 0);
  const auto t0 = std::chrono::steady_clock::now();
  const bool ended = job.wait(60);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string out = job.output();
  ASSERT_TRUE(ended) << "the job hung with rank " << stopped << " stopped\n" << out;
  EXPECT_NE(job.exit_code(), 0) << out;
  // Default floor 3 s (the tiny model's steps are far below 3 s / 20) + the 1 s
  // liveness check + abort and launcher teardown, with slack for a loaded machine.
  EXPECT_LT(secs, 25) << out;
  EXPECT_NE(out.find("hang watchdog: collectives time out after 3 s"), std::string::npos) << out;
  EXPECT_NE(out.find("timed out after"), std::string::npos) << out;
  const std::string named = "not responding (stalled rank: stopped, or stuck outside MPI): world rank " +
                            std::to_string(stopped) + " [rank " + std::to_string(stopped) + "/4 (" + coords +
                            ") on host " + tessera::host_name() + "]";
  EXPECT_NE(out.find(named), std::string::npos) << "expected: " << named << "\n" << out;
  EXPECT_EQ(out.find("the stall is elsewhere"), std::string::npos) << out;
}

}  // namespace

TEST(HangDefault, SigstoppedRankIsNamedWithCoordinatesAndHost) { stop_rank_and_expect_it_named(2, "dp 1, pp 0, tp 0"); }
