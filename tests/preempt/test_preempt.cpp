// Preemption: a running training job gets SIGUSR1, every rank checkpoints after
// the step in flight, tessera exits 3; the resumed (or requeued) run finishes
// with losses bitwise equal to an uninterrupted run's.
//   MpirunSignal: USR1 to mpirun (which forwards it to the ranks), no Slurm.
//   SlurmRequeue: `scancel --signal=USR1 --batch` on jobs/train.sbatch; the batch
//                 script forwards it, sees exit 3 and requeues itself.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <chrono>
#include <filesystem>
#include <thread>
#include "cli_fixture.hpp"
#include "slurm/slurm_support.hpp"

namespace fs = std::filesystem;
using namespace tessera_test;

namespace {

constexpr int kSteps = 30;

std::string config_for(const fs::path& dir, const std::string& data) {
  const std::string cfg = (dir / "train.toml").string();
  write_file(cfg, tiny_config(data, (dir / "run").string(),
                              {{"parallel.dp", "2"}, {"train.max_steps", std::to_string(kSteps)},
                               {"checkpoint.interval", "0"}, {"train.eval_interval", "10"}}));
  return cfg;
}

// The uninterrupted reference (2 ranks, mpirun).
std::map<long, double> reference_losses(const fs::path& dir, const std::string& cfg) {
  auto r = run_mpi(2, "train " + cfg + " --run-dir " + (dir / "reference").string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return train_losses(dir / "reference" / "metrics.jsonl");
}

// Largest train step logged so far.
long last_step(const fs::path& metrics) {
  auto l = train_losses(metrics);
  return l.empty() ? 0 : l.rbegin()->first;
}

bool wait_for_step(const fs::path& metrics, long step, double timeout_s) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < end) {
    if (last_step(metrics) >= step) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace

TEST(Preempt, MpirunSignalCheckpointsExitsThreeAndResumesBitwise) {
  const fs::path dir = fresh_dir("preempt_mpirun");
  const std::string cfg = config_for(dir, prepare_ruth(dir));
  const auto ref = reference_losses(dir, cfg);
  ASSERT_EQ(ref.size(), size_t(kSteps));

  const fs::path run = dir / "run";
  const std::string cmd = "exec " + clean_env() + mpiexec() + " -np 2 --oversubscribe " + tessera_exe() + " train " + cfg +
                          " --run-dir " + run.string() + " > " + (dir / "first.log").string() + " 2>&1";
  pid_t pid = 0;
  const char* argv[] = {"/bin/sh", "-c", cmd.c_str(), nullptr};
  ASSERT_EQ(posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ), 0);
  const bool reached = wait_for_step(run / "metrics.jsonl", 3, 60);
  kill(pid, SIGUSR1);  // mpirun forwards SIGUSR1 to every rank
  int status = 0;
  waitpid(pid, &status, 0);
  const std::string first = read_file(dir / "first.log");
  ASSERT_TRUE(reached) << first;
  ASSERT_TRUE(WIFEXITED(status)) << first;
  EXPECT_EQ(WEXITSTATUS(status), 3) << first;
  EXPECT_NE(first.find("received: checkpointing after step"), std::string::npos) << first;
  const long stopped = last_step(run / "metrics.jsonl");
  EXPECT_LT(stopped, kSteps) << "the signal came too late to test anything";
  ASSERT_TRUE(has_checkpoint(run));

  auto r = run_mpi(2, "train " + cfg + " --run-dir " + run.string() + " --resume");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("resumed from"), std::string::npos) << r.output;
  EXPECT_EQ(train_losses(run / "metrics.jsonl"), ref);  // bitwise: the logged doubles compare equal
}

TEST(Preempt, SlurmUsr1RequeuesAndResumesBitwise) {
  std::string why;
  if (!slurm_available(&why)) GTEST_SKIP() << "Slurm not available: " << why;
  const fs::path dir = fresh_dir("preempt_slurm");
  const fs::path submit = dir / "submit";
  fs::create_directories(submit);
  const std::string cfg = config_for(dir, prepare_ruth(dir));
  LocalSlurm slurm(16817, 5000);
  ASSERT_TRUE(slurm.up) << slurm.start_output;
  const std::string env = "TESSERA_ROOT=" + source_dir() + " TESSERA_BUILD=" +
                          fs::path(tessera_exe()).parent_path().string() + " TESSERA_RUNS=" + (dir / "runs").string() +
                          " TESSERA_CONFIG=" + cfg + " ";
  std::string out;
  // The uninterrupted reference runs the same way (srun in a job): BLAS thread
  // counts — and so float summation orders — can differ between launchers.
  const std::string ref_id = slurm.submit(submit.string(), env, "-n 2 " + source_dir() + "/jobs/train.sbatch", &out);
  ASSERT_FALSE(ref_id.empty()) << out;
  auto rw = slurm.wait(ref_id, 240);
  ASSERT_EQ(rw.exit_code, 0) << rw.output << read_file(submit / ("tessera-train-" + ref_id + ".out"));
  const auto ref = train_losses(dir / "runs" / ("train-" + ref_id) / "metrics.jsonl");
  ASSERT_EQ(ref.size(), size_t(kSteps));
  const std::string id = slurm.submit(submit.string(), env, "-n 2 " + source_dir() + "/jobs/train.sbatch", &out);
  ASSERT_FALSE(id.empty()) << out;
  const fs::path run = dir / "runs" / ("train-" + id);
  const bool reached = wait_for_step(run / "metrics.jsonl", 3, 120);
  auto s = slurm.run(submit.string(), "", "scancel --signal=USR1 --batch " + id);
  auto w = slurm.wait(id, 240);
  const std::string log = read_file(submit / ("tessera-train-" + id + ".out"));
  ASSERT_TRUE(reached) << log;
  EXPECT_EQ(s.exit_code, 0) << s.output;
  EXPECT_EQ(w.exit_code, 0) << w.output << log;
  EXPECT_NE(log.find("forwarding USR1"), std::string::npos) << log;
  EXPECT_NE(log.find("requeueing job " + id), std::string::npos) << log;
  EXPECT_NE(log.find("(restart 1)"), std::string::npos) << log;
  EXPECT_NE(log.find("resumed from"), std::string::npos) << log;
  EXPECT_EQ(train_losses(run / "metrics.jsonl"), ref) << log;
}
