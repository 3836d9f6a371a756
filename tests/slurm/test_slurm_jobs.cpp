// End-to-end: a real single-node Slurm (scripts/local_slurm.sh, installed when
// missing) runs every script in jobs/: training via srun and via mpirun, eval,
// generate, the scaling array; and bad inputs fail fast with a clear log line.
// One TEST so a ctest -j run starts one cluster; the daemons stop at the end even
// on failure (LocalSlurm's destructor).
#include <gtest/gtest.h>
#include <algorithm>
#include <filesystem>
#include "cli_fixture.hpp"
#include "slurm/slurm_support.hpp"

namespace fs = std::filesystem;
using namespace tessera_test;

namespace {
std::string log_of(const fs::path& submit, const std::string& name, const std::string& id) {
  return read_file(submit / (name + "-" + id + ".out"));
}
}  // namespace

TEST(SlurmJobs, EveryJobScriptRunsAndBadInputsFailFast) {
  std::string why;
  if (!slurm_available(&why)) GTEST_SKIP() << "Slurm not available: " << why;
  const fs::path base = fresh_dir("slurm_jobs");
  const fs::path submit = base / "submit", work = base / "work";
  fs::create_directories(submit);
  fs::create_directories(work);
  const std::string data = prepare_ruth(work);
  const std::string cfg = (work / "train.toml").string();
  write_file(cfg, tiny_config(data, (work / "unused").string(), {{"parallel.dp", "2"}, {"train.max_steps", "6"},
                                                                 {"checkpoint.interval", "3"}}));
  const std::string build = fs::path(tessera_exe()).parent_path().string();
  const std::string env = "TESSERA_ROOT=" + source_dir() + " TESSERA_BUILD=" + build + " TESSERA_RUNS=" +
                          (base / "runs").string() + " TESSERA_CONFIG=" + cfg +
                          " OPENBLAS_NUM_THREADS=1 ";  // same BLAS summation order under srun and mpirun
  const std::string jobs = source_dir() + "/jobs/";

  LocalSlurm slurm(26817, 7000);
  ASSERT_TRUE(slurm.up) << slurm.start_output;

  // ---- training, srun --mpi=pmix and mpirun inside the allocation
  std::string out;
  const std::string j_srun = slurm.submit(submit.string(), env + "TESSERA_LAUNCHER=srun", "-n 2 " + jobs + "train.sbatch", &out);
  ASSERT_FALSE(j_srun.empty()) << out;
  const std::string j_mpirun =
      slurm.submit(submit.string(), env + "TESSERA_LAUNCHER=mpirun", "-n 2 " + jobs + "train.sbatch", &out);
  ASSERT_FALSE(j_mpirun.empty()) << out;
  for (const auto& [id, how] : {std::pair{j_srun, "srun"}, std::pair{j_mpirun, "mpirun"}}) {
    SCOPED_TRACE(std::string("train via ") + how);
    auto w = slurm.wait(id);
    const std::string log = log_of(submit, "tessera-train", id);
    EXPECT_EQ(w.exit_code, 0) << w.output << log;
    const fs::path run = base / "runs" / ("train-" + id);
    EXPECT_TRUE(fs::exists(run / "metrics.jsonl")) << log;
    EXPECT_TRUE(has_checkpoint(run)) << log;
    EXPECT_EQ(train_losses(run / "metrics.jsonl").size(), 6u) << log;
    EXPECT_NE(log.find("done: 6 steps"), std::string::npos) << log;
  }
  // Same grid, same config: srun and mpirun give the same numbers.
  EXPECT_EQ(train_losses(base / "runs" / ("train-" + j_srun) / "metrics.jsonl"),
            train_losses(base / "runs" / ("train-" + j_mpirun) / "metrics.jsonl"));

  // ---- eval and generate on the srun run's checkpoint
  const std::string run_env = env + "TESSERA_RUN_DIR=" + (base / "runs" / ("train-" + j_srun)).string() + " ";
  const std::string j_eval = slurm.submit(submit.string(), run_env, jobs + "eval.sbatch", &out);
  ASSERT_FALSE(j_eval.empty()) << out;
  const std::string j_gen =
      slurm.submit(submit.string(), run_env + "TESSERA_LAUNCHER=mpirun TESSERA_MAX_NEW_TOKENS=40", jobs + "generate.sbatch", &out);
  ASSERT_FALSE(j_gen.empty()) << out;
  {
    auto w = slurm.wait(j_eval);
    const std::string log = log_of(submit, "tessera-eval", j_eval);
    EXPECT_EQ(w.exit_code, 0) << w.output << log;
    EXPECT_NE(log.find("perplexity"), std::string::npos) << log;
  }
  {
    auto w = slurm.wait(j_gen);
    const std::string log = log_of(submit, "tessera-generate", j_gen);
    EXPECT_EQ(w.exit_code, 0) << w.output << log;
    EXPECT_NE(log.find("In the beginning"), std::string::npos) << log;
  }

  // ---- the scaling study as a 3-task array (strong scaling on 1, 2, 4 ranks)
  {
    const std::string j = slurm.submit(submit.string(), env + "SCALING_STEPS=4 SCALING_RANKS='1 2 4'",
                                       "--array=0-2 " + jobs + "scaling.sbatch", &out);
    ASSERT_FALSE(j.empty()) << out;
    auto w = slurm.wait(j, 300);
    EXPECT_EQ(w.exit_code, 0) << w.output << read_file(submit / ("tessera-scaling-" + j + "_1.out"));
    for (int r : {1, 2, 4}) {
      const fs::path m = base / "runs" / ("scaling-" + j) / ("strong-dp-" + std::to_string(r)) / "metrics.jsonl";
      EXPECT_EQ(train_losses(m).size(), 4u) << m;
    }
    EXPECT_EQ(std::count(w.output.begin(), w.output.end(), '\n'), 3) << w.output;
  }

  // ---- bad inputs: the job fails (never pends or hangs) with a clear line in its log
  struct Bad {
    const char* what;
    std::string env, args, expect;
  };
  const std::vector<Bad> bad = {
      {"missing config", env + "TESSERA_CONFIG=" + (work / "nope.toml").string(), "-n 2 " + jobs + "train.sbatch",
       "config '" + (work / "nope.toml").string() + "' not found"},
      {"grid does not match the task count", env, "-n 3 " + jobs + "train.sbatch", "parallel grid dp×tp×pp = 2×1×1"},
      {"unwritable run dir", env + "TESSERA_RUNS=/proc/tessera-cannot-write", "-n 2 " + jobs + "train.sbatch",
       "cannot be created or is not writable"},
      {"eval without a run dir", env, jobs + "eval.sbatch", "set TESSERA_RUN_DIR"},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.what);
    const std::string id = slurm.submit(submit.string(), b.env, b.args, &out);
    ASSERT_FALSE(id.empty()) << out;
    auto w = slurm.wait(id, 120);
    const std::string name = b.args.find("eval") != std::string::npos ? "tessera-eval" : "tessera-train";
    const std::string log = log_of(submit, name, id);
    EXPECT_NE(w.exit_code, 0) << w.output;
    EXPECT_NE(w.exit_code, 124) << "timed out: " << w.output;
    EXPECT_NE(w.output.find("FAILED"), std::string::npos) << w.output;
    EXPECT_NE(log.find(b.expect), std::string::npos) << log;
  }

  // Nothing but job logs in the submit directory.
  for (auto& e : fs::directory_iterator(submit))
    EXPECT_EQ(e.path().extension(), ".out") << "unexpected file in the submit directory: " << e.path();
}
