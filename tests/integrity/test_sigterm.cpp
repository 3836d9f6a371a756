// SIGTERM ends a training job like SIGUSR1: every rank checkpoints after the
// step in flight, the job exits 3, and --resume finishes with losses bitwise
// equal to an uninterrupted run's.
//   EveryRank:  SIGTERM to each rank of a plain `mpirun -np 2` (what Slurm's
//               srun, a node shutdown or `kill` of the ranks does); mpirun passes
//               the ranks' exit code 3 on.
//   Launcher:   SIGTERM to scripts/tessera-mpirun (Open MPI's own mpirun turns a
//               SIGTERM into "kill the ranks after 1 s, exit 1"; the wrapper
//               forwards it as SIGUSR1).
#include <gtest/gtest.h>
#include "background_job.hpp"
#include "cli_fixture.hpp"

namespace fs = std::filesystem;
using namespace tessera_test;

namespace {

constexpr int kSteps = 30;

struct SigtermRun {
  fs::path dir;
  std::string cfg;
  std::map<long, double> reference;
};

const SigtermRun& sigterm_run() {
  static SigtermRun s;
  if (s.cfg.empty()) {
    s.dir = fresh_dir(std::string("sigterm_") +  // one per test: ctest runs tests as concurrent processes
                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    s.cfg = (s.dir / "train.toml").string();
    write_file(s.cfg, tiny_config(prepare_ruth(s.dir), (s.dir / "run").string(),
                                  {{"parallel.dp", "2"}, {"train.max_steps", std::to_string(kSteps)},
                                   {"checkpoint.interval", "0"}, {"train.eval_interval", "10"}}));
    auto r = run_mpi(2, "train " + s.cfg + " --run-dir " + (s.dir / "reference").string());
    if (r.exit_code != 0) throw std::runtime_error(r.output);
    s.reference = train_losses(s.dir / "reference" / "metrics.jsonl");
  }
  return s;
}

void expect_stopped_with_3_and_resumed_bitwise(BackgroundJob& job, const fs::path& run, const std::string& first) {
  EXPECT_EQ(job.exit_code(), 3) << first;
  EXPECT_NE(first.find("signal 15 received: checkpointing after step"), std::string::npos) << first;
  const long stopped = last_logged_step(run / "metrics.jsonl");
  EXPECT_LT(stopped, kSteps) << "the signal came too late to test anything";
  ASSERT_TRUE(has_checkpoint(run)) << first;
  auto r = run_mpi(2, "train " + sigterm_run().cfg + " --run-dir " + run.string() + " --resume");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("resumed from"), std::string::npos) << r.output;
  EXPECT_EQ(train_losses(run / "metrics.jsonl"), sigterm_run().reference);  // bitwise
}

}  // namespace

TEST(Sigterm, EveryRankCheckpointsExitsThreeAndResumesBitwise) {
  const SigtermRun& s = sigterm_run();
  ASSERT_EQ(s.reference.size(), size_t(kSteps));
  const fs::path run = s.dir / "every_rank";
  BackgroundJob job(2, "train " + s.cfg + " --run-dir " + run.string(), s.dir / "every_rank.log");
  ASSERT_GT(job.pid, 0);
  ASSERT_TRUE(wait_for_logged_step(run / "metrics.jsonl", 3, 60)) << job.output();
  const std::vector<pid_t> ranks = job.ranks();
  ASSERT_EQ(ranks.size(), 2u) << job.output();
  for (pid_t p : ranks) kill(p, SIGTERM);
  ASSERT_TRUE(job.wait(60)) << job.output();
  expect_stopped_with_3_and_resumed_bitwise(job, run, job.output());
}

TEST(Sigterm, ToTheLauncherCheckpointsExitsThreeAndResumesBitwise) {
  const SigtermRun& s = sigterm_run();
  ASSERT_EQ(s.reference.size(), size_t(kSteps));
  const fs::path run = s.dir / "launcher";
  BackgroundJob job(2, "train " + s.cfg + " --run-dir " + run.string(), s.dir / "launcher.log",
                    "MPIRUN=" + mpiexec(), source_dir() + "/scripts/tessera-mpirun");
  ASSERT_GT(job.pid, 0);
  ASSERT_TRUE(wait_for_logged_step(run / "metrics.jsonl", 3, 60)) << job.output();
  kill(job.pid, SIGTERM);
  ASSERT_TRUE(job.wait(60)) << job.output();
  const std::string first = job.output();
  EXPECT_NE(first.find("tessera-mpirun: got TERM: forwarding SIGUSR1"), std::string::npos) << first;
  EXPECT_EQ(job.exit_code(), 3) << first;
  EXPECT_NE(first.find("signal 10 received: checkpointing after step"), std::string::npos) << first;
  const long stopped = last_logged_step(run / "metrics.jsonl");
  EXPECT_LT(stopped, kSteps);
  auto r = run_mpi(2, "train " + s.cfg + " --run-dir " + run.string() + " --resume");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(train_losses(run / "metrics.jsonl"), s.reference);  // bitwise
}
