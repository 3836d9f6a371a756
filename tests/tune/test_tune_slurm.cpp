// On the bundled local Slurm cluster (scripts/local_slurm.sh): jobs/tune.sbatch
// as a 2-task array on one study directory; both tasks take trials, the budget is
// met exactly and no trial is run twice (one start and one finish per trial).
#include <gtest/gtest.h>
#include <fstream>
#include <set>
#include "cli_fixture.hpp"
#include "slurm/slurm_support.hpp"

namespace fs = std::filesystem;
using namespace tessera_test;

TEST(TuneSlurm, TwoArrayTasksShareOneStudy) {
  std::string why;
  if (!slurm_available(&why)) GTEST_SKIP() << "Slurm not available: " << why;
  const fs::path base = fresh_dir("tune_slurm");
  const std::string data = prepare_ruth(base);
  write_file(base / "base.toml", tiny_config(data, (base / "unused").string(),
                                             {{"train.max_steps", "48"}, {"train.eval_interval", "12"},
                                              {"train.peak_gflops", "10"}, {"checkpoint.interval", "0"}}));
  const int budget = 6;
  write_file(base / "study.toml", "[study]\nbase_config = \"" + (base / "base.toml").string() + "\"\ndir = \"" +
                                      (base / "st").string() + "\"\nobjective = \"loss\"\ntrials = " +
                                      std::to_string(budget) + "\nsampler = \"random\"\nlease_s = 30\n"
                                      "[space.\"optim.lr\"]\ntype = \"float\"\nlow = 1e-4\nhigh = 1e-2\nlog = true\n");
  LocalSlurm slurm(27817, 8000);
  ASSERT_TRUE(slurm.up) << slurm.start_output;
  const std::string build = fs::path(tessera_exe()).parent_path().string();
  const std::string env = "TESSERA_ROOT=" + source_dir() + " TESSERA_BUILD=" + build + " TESSERA_STUDY=" +
                          (base / "study.toml").string() + " OPENBLAS_NUM_THREADS=1 ";
  std::string out;
  const std::string id = slurm.submit(base.string(), env, "--array=0-1 -n 1 " + source_dir() + "/jobs/tune.sbatch", &out);
  ASSERT_FALSE(id.empty()) << out;
  const auto w = slurm.wait(id, 240);
  std::string logs;
  for (const auto& e : fs::directory_iterator(base))
    if (e.path().extension() == ".out") logs += read_file(e.path());
  ASSERT_EQ(w.exit_code, 0) << w.output << logs;
  std::map<int64_t, int> starts, finishes;
  std::set<std::string> owners;
  std::ifstream f(base / "st" / "journal.jsonl");
  for (std::string line; std::getline(f, line);) {
    const auto r = nlohmann::json::parse(line);
    if (r.value("op", "") == "start") ++starts[r["trial"].get<int64_t>()], owners.insert(r["owner"].get<std::string>());
    if (r.value("op", "") == "finish") ++finishes[r["trial"].get<int64_t>()];
  }
  EXPECT_EQ(starts.size(), size_t(budget)) << logs;
  for (int64_t t = 0; t < budget; ++t) {
    EXPECT_EQ(starts[t], 1) << "trial " << t << " started twice";
    EXPECT_EQ(finishes[t], 1) << "trial " << t;
  }
  EXPECT_EQ(owners.size(), 2u) << "both array tasks should have run trials" << logs;
}
