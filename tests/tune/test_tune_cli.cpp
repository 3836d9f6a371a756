// `tessera tune` end to end on a tiny GPT-2 (the bundled Book of Ruth, byte
// tokens): 2 groups of 1 rank under mpirun -np 2 train at the same time; kill -9
// of every rank mid-study and a restart end with exactly the budgeted trials, the
// interrupted ones re-run; an invalid combination of sampled values is recorded as
// a failed trial and the study goes on; the best trial's TOML trains as is.
#include <gtest/gtest.h>
#include <signal.h>
#include <chrono>
#include <fstream>
#include <set>
#include <thread>
#include <nlohmann/json.hpp>
#include "cli_fixture.hpp"

namespace fs = std::filesystem;
using namespace tessera_test;

namespace {

std::vector<nlohmann::json> read_jsonl(const fs::path& p) {
  std::vector<nlohmann::json> out;
  std::ifstream f(p);
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

std::string write_study(const fs::path& dir, int trials, int steps, const std::string& extra, const std::string& space,
                        const std::string& seq_len = "32") {
  const std::string data = prepare_ruth(dir);
  write_file(dir / "base.toml",
             tiny_config(data, (dir / "unused_run").string(),
                         {{"train.max_steps", std::to_string(steps)}, {"train.eval_interval", std::to_string(steps / 4)},
                          {"train.peak_gflops", "10"}, {"checkpoint.interval", "0"}, {"data.seq_len", seq_len}}));
  write_file(dir / "study.toml", "[study]\nbase_config = \"" + (dir / "base.toml").string() + "\"\ndir = \"" +
                                     (dir / "st").string() + "\"\nobjective = \"loss\"\ntrials = " +
                                     std::to_string(trials) + "\nseed = 3\n" + extra + "\n" + space);
  return (dir / "study.toml").string();
}

const std::string kSpace =
    "[space.\"optim.lr\"]\ntype = \"float\"\nlow = 1e-4\nhigh = 1e-2\nlog = true\n"
    "[space.\"optim.warmup_steps\"]\ntype = \"int\"\nlow = 0\nhigh = 4\n";

}  // namespace

TEST(TuneCli, TwoGroupsTrainConcurrentlyAndTheBestConfigTrains) {
  const fs::path dir = fresh_dir("tune_cli_groups");
  const std::string s = write_study(dir, 4, 24, "sampler = \"bo\"\npruner = \"none\"\n[sampler]\nn_startup_trials = 2\nliar = \"kriging\"", kSpace);
  const auto r = run_mpi(2, "tune " + s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto trials = read_jsonl(dir / "st" / "trials.jsonl");
  ASSERT_EQ(trials.size(), 4u) << r.output;
  std::set<int> groups;
  bool overlap = false;
  for (const auto& a : trials) {
    EXPECT_EQ(a["state"], "complete") << a.dump();
    EXPECT_EQ(a["intermediate"].size(), 4u) << a.dump();  // every evaluation recorded
    groups.insert(a["group"].get<int>());
    for (const auto& b : trials)
      if (a["group"] != b["group"] && a["start"].get<double>() < b["end"].get<double>() &&
          b["start"].get<double>() < a["end"].get<double>())
        overlap = true;
  }
  EXPECT_EQ(groups, (std::set<int>{0, 1}));
  EXPECT_TRUE(overlap) << "no two trials of different groups ran at the same time";
  // One console line per finished trial.
  size_t lines = 0;
  for (size_t p = r.output.find("\ntrial "); p != std::string::npos; p = r.output.find("\ntrial ", p + 1)) ++lines;
  EXPECT_EQ(lines, 4u) << r.output;
  // The best trial's config runs as is with `tessera train`.
  ASSERT_TRUE(fs::exists(dir / "st" / "best.toml"));
  const auto t = run_tessera("train " + (dir / "st" / "best.toml").string());
  EXPECT_EQ(t.exit_code, 0) << t.output;
}

TEST(TuneCli, KillNineAndRestartEndWithExactlyTheBudget) {
  const fs::path dir = fresh_dir("tune_cli_kill");
  const int budget = 6;
  const std::string s = write_study(dir, budget, 80, "sampler = \"random\"\nlease_s = 1.5", kSpace);
  const fs::path journal = dir / "st" / "journal.jsonl";
  CommandResult first;
  std::thread job([&] { first = run_mpi(2, "tune " + s); });
  // Wait until two trials finished and two are running, then kill -9 every rank.
  bool killed = false;
  for (int i = 0; i < 1200 && !killed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!fs::exists(journal)) continue;
    int finished = 0, started = 0;
    for (const auto& rec : read_jsonl(journal)) {
      finished += rec.value("op", "") == "finish";
      started += rec.value("op", "") == "start";
    }
    if (finished >= 2 && started >= finished + 2) {
      for (const auto& w : fs::directory_iterator(dir / "st" / "workers")) {
        const std::string name = w.path().filename().string();  // host:pid:group
        const auto a = name.find(':'), b = name.rfind(':');
        ::kill(std::stoi(name.substr(a + 1, b - a - 1)), SIGKILL);
      }
      killed = true;
    }
  }
  job.join();
  ASSERT_TRUE(killed) << first.output;
  EXPECT_NE(first.exit_code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1600));  // the dead workers' lease runs out
  const auto second = run_mpi(2, "tune " + s);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  const auto trials = read_jsonl(dir / "st" / "trials.jsonl");
  ASSERT_EQ(trials.size(), size_t(budget)) << second.output;
  int rerun = 0;
  for (size_t i = 0; i < trials.size(); ++i) {
    EXPECT_EQ(trials[i]["number"].get<int>(), int(i));
    EXPECT_EQ(trials[i]["state"], "complete") << trials[i].dump();
    rerun += trials[i]["attempts"].get<int>() == 2;
    EXPECT_LE(trials[i]["attempts"].get<int>(), 2);
  }
  EXPECT_GE(rerun, 1) << "the trials running at the kill were not re-run";
  int finishes = 0, releases = 0;
  for (const auto& rec : read_jsonl(journal)) {
    finishes += rec.value("op", "") == "finish";
    releases += rec.value("op", "") == "release";
  }
  EXPECT_EQ(finishes, budget);  // no trial finished twice, none lost
  EXPECT_EQ(releases, rerun);
}

TEST(TuneCli, InvalidCombinationIsAFailedTrialAndTheStudyGoesOn) {
  const fs::path dir = fresh_dir("tune_cli_failed");
  const std::string s = write_study(
      dir, 4, 4, "sampler = \"grid\"",
      "[space.\"data.seq_len\"]\ntype = \"categorical\"\nchoices = [16, 32]\n"
      "[space.\"model.n_positions\"]\ntype = \"categorical\"\nchoices = [16, 32]\n", "16");
  const auto r = run_tessera("tune " + s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto trials = read_jsonl(dir / "st" / "trials.jsonl");
  ASSERT_EQ(trials.size(), 4u);
  int failed = 0;
  for (const auto& t : trials) {
    const bool bad = t["params"]["data.seq_len"] == 32 && t["params"]["model.n_positions"] == 16;
    EXPECT_EQ(t["state"], bad ? "failed" : "complete") << t.dump();
    if (bad) {
      ++failed;
      EXPECT_NE(t["message"].get<std::string>().find("seq_len"), std::string::npos) << t.dump();
    }
  }
  EXPECT_EQ(failed, 1);
  EXPECT_NE(r.output.find("failed"), std::string::npos);
}
