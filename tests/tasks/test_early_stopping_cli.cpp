// Early stopping and best-checkpoint restore through `tessera train`, on a crafted
// validation curve: the validation split holds the training sentences with their
// labels swapped, so every step that fits the training data raises the validation
// loss. With eval every 2 steps and patience 2, the best evaluation is the first
// (step 2) and training must stop at the third (step 6), well before max_steps 40;
// the final checkpoint must hold the best (step-2) weights bit for bit, and a run
// without early stopping must go on to step 40.
#include <gtest/gtest.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include "grid_fixture.hpp"
#include "io/checkpoint.hpp"

using namespace tessera_test;
namespace fs = std::filesystem;

namespace {

std::string fixture(const std::string& name) { return source_dir() + "/tests/fixtures/tasks/" + name; }

void write_data(const fs::path& dir) {
  const char* good[] = {"god created heaven and earth", "let there be light", "god said let there be light",
                        "the king of israel", "david was king"};
  const char* bad[] = {"moses went to egypt", "aaron went to egypt", "who went to jerusalem",
                       "the children of israel went", "where was moses"};
  std::string train = "text,label\n", val = "text,label\n";
  for (int rep = 0; rep < 4; ++rep)
    for (int i = 0; i < 5; ++i) {
      train += std::string(good[i]) + ",good\n" + bad[i] + ",bad\n";
      if (rep == 0) val += std::string(good[i]) + ",bad\n" + bad[i] + ",good\n";
    }
  write_file(dir / "train.csv", train);
  write_file(dir / "val.csv", val);
}

std::string config(const fs::path& dir, const std::string& run, int patience) {
  return "[model]\nfamily = \"bert\"\nhead = \"sequence_classification\"\nnum_labels = 2\nn_layer = 2\nn_head = 2\n"
         "n_embd = 32\nn_positions = 32\nvocab_size = 69\n"
         "[data]\npath = \"" + (dir / "data.h5").string() + "\"\n"
         "[train]\nmax_steps = 40\nmicro_batch_size = 4\neval_interval = 2\neval_metric = \"loss\"\nkeep_best = true\n"
         "early_stopping_patience = " + std::to_string(patience) + "\nseed = 3\n"
         "[optim]\nlr = 3e-3\nschedule = \"constant\"\n"
         "[run]\ndir = \"" + (dir / run).string() + "\"\n";
}

std::vector<nlohmann::json> records(const fs::path& run_dir, const std::string& kind) {
  std::vector<nlohmann::json> out;
  std::ifstream f(run_dir / "metrics.jsonl");
  for (std::string line; std::getline(f, line);) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    if (j.value("kind", "") == kind) out.push_back(j);
  }
  return out;
}

}  // namespace

TEST(EarlyStoppingCli, StopsAtExpectedStepAndRestoresBestWeights) {
  const fs::path dir = fresh_dir("early_stopping_cli");
  write_data(dir);
  auto p = run_tessera("prepare --task classification --input " + (dir / "train.csv").string() +
                       " --validation-input " + (dir / "val.csv").string() + " --vocab " + fixture("vocab.txt") +
                       " --max-len 12 --output " + (dir / "data.h5").string());
  ASSERT_EQ(p.exit_code, 0) << p.output;
  write_file(dir / "stop.toml", config(dir, "stop", 2));
  auto r = run_tessera("train " + (dir / "stop.toml").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;

  // The crafted curve: validation loss rises at every evaluation.
  const auto evals = records(dir / "stop", "eval_metrics");
  ASSERT_EQ(evals.size(), 3u) << r.output;  // steps 2, 4, 6; no evaluation after the stop
  EXPECT_EQ(evals[0]["step"], 2);
  EXPECT_EQ(evals[2]["step"], 6);
  EXPECT_LT(evals[0]["loss"].get<double>(), evals[1]["loss"].get<double>());
  EXPECT_LT(evals[1]["loss"].get<double>(), evals[2]["loss"].get<double>());
  EXPECT_NE(r.output.find("early stopping after step 6"), std::string::npos) << r.output;

  // The final checkpoint (step 6) holds the best weights (step 2) bit for bit.
  const std::string best = tessera::find_latest_checkpoint((dir / "stop/best").string());
  ASSERT_EQ(fs::path(best).filename(), "step_00000002.h5");
  const std::string last = tessera::find_latest_checkpoint((dir / "stop/checkpoints").string());
  ASSERT_EQ(fs::path(last).filename(), "step_00000006.h5");
  const auto pb = read_tensors(best, "params"), pl = read_tensors(last, "params");
  ASSERT_EQ(pb.size(), pl.size());
  for (const auto& [name, t] : pb) EXPECT_EQ(t.data, pl.at(name).data) << name;

  // `tessera eval` on the final checkpoint reports the task metrics of the restored
  // best weights: the step-2 evaluation's loss.
  auto e = run_tessera("eval " + (dir / "stop.toml").string() + " --split validation");
  ASSERT_EQ(e.exit_code, 0) << e.output;
  EXPECT_NE(e.output.find("accuracy"), std::string::npos) << e.output;
  EXPECT_NE(e.output.find("confusion_matrix"), std::string::npos) << e.output;
  const size_t at = e.output.find("loss ");
  ASSERT_NE(at, std::string::npos) << e.output;
  EXPECT_NEAR(std::stod(e.output.substr(at + 5)), evals[0]["loss"].get<double>(), 1e-5) << e.output;

  // Without early stopping the same run trains all 40 steps.
  write_file(dir / "full.toml", config(dir, "full", 0));
  auto f = run_tessera("train " + (dir / "full.toml").string());
  ASSERT_EQ(f.exit_code, 0) << f.output;
  EXPECT_EQ(records(dir / "full", "eval_metrics").size(), 20u);
  EXPECT_EQ(fs::path(tessera::find_latest_checkpoint((dir / "full/checkpoints").string())).filename(),
            "step_00000040.h5");
}
