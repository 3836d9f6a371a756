// `tessera predict` end to end on a tiny randomly initialised BERT-family classifier:
// one JSON line per input with a label from the map and probabilities summing to 1,
// the same bytes on 1, 2 and 3 ranks, and clear errors (missing file, bad rows as
// file:line, tensor / pipeline parallel configs).
#include "io/task_dataset.hpp"  // first: see the kIgnoreIndex note there
#include <gtest/gtest.h>
#include <mpi.h>
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <nlohmann/json.hpp>
#include "io/checkpoint.hpp"
#include "src/config/run_config.hpp"
#include "src/model/transformer.hpp"
#include "initial_checkpoint.hpp"
#include "test_support.hpp"

using namespace tessera_test;

namespace {

std::string fixture(const std::string& name) { return source_dir() + "/tests/fixtures/tasks/" + name; }

struct PredictSetup {
  std::filesystem::path dir;
  std::string config, dataset;
  std::vector<std::string> labels;
};

std::string config_text(const std::string& data, const std::string& run_dir, const std::string& extra = "") {
  return "[model]\nfamily = \"bert\"\nhead = \"sequence_classification\"\nnum_labels = 3\nn_layer = 2\n"
         "n_head = 2\nn_embd = 16\nn_positions = 16\nvocab_size = 69\n" +
         extra + "[data]\npath = \"" + data + "\"\nseq_len = 16\n[train]\nmicro_batch_size = 2\n[run]\ndir = \"" +
         run_dir + "\"\n";
}

// A prepared classification dataset, a config and a random-init checkpoint in the run dir.
PredictSetup make_setup(const std::string& name) {
  PredictSetup s;
  s.dir = fresh_dir(name);
  s.dataset = (s.dir / "classify.h5").string();
  auto r = run_tessera("prepare --task classification --input " + fixture("classify.csv") + " --vocab " +
                       fixture("vocab.txt") + " --max-len 16 --output " + s.dataset);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  s.labels = tessera::TaskDataset(s.dataset, MPI_COMM_SELF).info().label_names;
  s.config = (s.dir / "run.toml").string();
  write_file(s.config, config_text(s.dataset, (s.dir / "run").string()));

  write_initial_checkpoint(s.config, s.dir / "run", 11);
  return s;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST(PredictCli, ClassificationOneLinePerInputSameOnAnyRankCount) {
  const PredictSetup s = make_setup("predict_cli");
  ASSERT_EQ(s.labels.size(), 3u);
  const auto input = s.dir / "in.jsonl";
  write_file(input,
             "{\"text\": \"In the beginning God created the heaven\"}\n"
             "{\"text\": \"Moses and Aaron went unto Pharaoh\"}\n"
             "\n"
             "{\"text\": \"David was king\"}\n"
             "{\"text\": \"\"}\n"
             "{\"text\": \"And God said, Let there be light: and there was light.\"}\n"
             "{\"text\": \"unknown wörds ✓\"}\n"
             "{\"text\": \"the earth\", \"extra\": 1}\n");
  const int n_inputs = 7;
  std::vector<std::string> outputs;
  for (int np : {1, 2, 3}) {
    const auto out = s.dir / ("out" + std::to_string(np) + ".jsonl");
    const std::string args = "predict " + s.config + " --input " + input.string() + " --output " + out.string();
    auto r = np == 1 ? run_tessera(args) : run_mpi(np, args);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    outputs.push_back(read_file(out));
  }
  EXPECT_EQ(outputs[0], outputs[1]);
  EXPECT_EQ(outputs[0], outputs[2]);

  const auto lines = lines_of(outputs[0]);
  ASSERT_EQ(int(lines.size()), n_inputs) << outputs[0];
  std::set<std::string> distinct;
  for (const auto& l : lines) {
    const auto j = nlohmann::json::parse(l);
    const std::string label = j.at("label");
    EXPECT_NE(std::find(s.labels.begin(), s.labels.end(), label), s.labels.end()) << l;
    double sum = 0, best = 0;
    ASSERT_EQ(j.at("probabilities").size(), 3u) << l;
    for (const auto& [name, p] : j.at("probabilities").items()) {
      const double v = p.get<double>();
      EXPECT_TRUE(v >= 0 && v <= 1) << l;
      sum += v;
      best = std::max(best, v);
    }
    EXPECT_NEAR(sum, 1.0, 1e-9) << l;
    EXPECT_DOUBLE_EQ(j.at("score").get<double>(), best) << l;
    EXPECT_DOUBLE_EQ(j.at("probabilities").at(label).get<double>(), best) << l;
    distinct.insert(l);
  }
  EXPECT_GT(distinct.size(), 1u);  // the inputs reach the model

  // CSV input, explicit checkpoint and batch size: the same predictions.
  const auto csv = s.dir / "in.csv";
  write_file(csv, "id,text\n1,In the beginning God created the heaven\n2,\"Moses and Aaron went unto Pharaoh\"\n");
  const auto ckpt = tessera::find_latest_checkpoint((s.dir / "run" / "checkpoints").string());
  auto r = run_tessera("predict " + s.config + " --input " + csv.string() + " --output " + (s.dir / "csv.jsonl").string() +
                       " --checkpoint " + ckpt + " --batch-size 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto csv_lines = lines_of(read_file(s.dir / "csv.jsonl"));
  ASSERT_EQ(csv_lines.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const auto a = nlohmann::json::parse(csv_lines[size_t(i)]);
    const auto b = nlohmann::json::parse(lines[size_t(i)]);
    EXPECT_EQ(a.at("label"), b.at("label"));
    for (const auto& name : s.labels)
      EXPECT_NEAR(a["probabilities"][name].get<double>(), b["probabilities"][name].get<double>(), 1e-5);
  }
}

TEST(PredictCli, ErrorsNameTheFileAndLine) {
  const PredictSetup s = make_setup("predict_cli_errors");
  const auto out = (s.dir / "o.jsonl").string();
  auto r = run_tessera("predict " + s.config + " --input " + (s.dir / "missing.jsonl").string() + " --output " + out);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("missing.jsonl: no such file"), std::string::npos) << r.output;

  write_file(s.dir / "bad.jsonl", "{\"text\": \"fine\"}\n{\"text\": 3}\n");
  r = run_tessera("predict " + s.config + " --input " + (s.dir / "bad.jsonl").string() + " --output " + out);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("bad.jsonl:2"), std::string::npos) << r.output;

  write_file(s.dir / "bad.csv", "text\nfine\n\"unterminated\n");
  r = run_mpi(2, "predict " + s.config + " --input " + (s.dir / "bad.csv").string() + " --output " + out);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("bad.csv:3"), std::string::npos) << r.output;

  write_file(s.dir / "cols.csv", "sentence\nfine\n");
  r = run_tessera("predict " + s.config + " --input " + (s.dir / "cols.csv").string() + " --output " + out);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("no column 'text'"), std::string::npos) << r.output;

  const auto tp = (s.dir / "tp.toml").string();
  write_file(tp, config_text(s.dataset, (s.dir / "run").string()) + "[parallel]\ntp = 2\n");
  write_file(s.dir / "ok.jsonl", "{\"text\": \"fine\"}\n");
  r = run_mpi(2, "predict " + tp + " --input " + (s.dir / "ok.jsonl").string() + " --output " + out);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("data-parallel only"), std::string::npos) << r.output;
}
