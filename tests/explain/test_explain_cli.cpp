// `tessera explain` end to end on a tiny classifier: JSON per input with efficiency /
// completeness, identical files on 1 and 2 ranks, PDP/ICE consistent with predict, and
// clear messages for bad input.
#include "explain_cli_fixture.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

using namespace tessera_test;
using namespace explain_test;

namespace {

std::string explain_args(const ExplainSetup& s, const std::filesystem::path& in, const std::string& out,
                         const std::string& extra) {
  return "explain " + s.config + " --input " + in.string() + " --output " + (s.dir / out).string() + " " + extra;
}

}  // namespace

TEST(ExplainCli, ShapLimeIgJsonAndRankIndependence) {
  const ExplainSetup s = make_explain_setup("explain_cli");
  const auto in = s.dir / "in.jsonl";
  write_file(in, "{\"text\": \"In the beginning God created the heaven\"}\n{\"text\": \"Moses and Aaron went\"}\n");
  for (const std::string method : {"--method shap --shap exact", "--method shap --shap kernel --samples 64",
                                   "--method shap --shap permutation --samples 80", "--method shap --shap partition",
                                   "--method lime --samples 60", "--method ig --steps 32"}) {
    std::string outs[2];
    for (int np : {1, 2}) {
      const std::string out = "out" + std::to_string(np);
      auto r = np == 1 ? run_tessera(explain_args(s, in, out, method)) : run_mpi(2, explain_args(s, in, out, method));
      ASSERT_EQ(r.exit_code, 0) << method << "\n" << r.output;
      outs[np - 1] = read_file(s.dir / out / "explanations.jsonl");
      EXPECT_TRUE(std::filesystem::exists(s.dir / out / "report.html"));
    }
    EXPECT_EQ(outs[0], outs[1]) << method << ": 1 rank and 2 ranks differ";
    const auto lines = lines_of(outs[0]);
    ASSERT_EQ(lines.size(), 2u) << method;
    for (const auto& l : lines) {
      const auto j = nlohmann::json::parse(l);
      ASSERT_GE(j["features"].size(), 4u) << l;
      double sum = 0;
      for (const auto& f : j["features"]) sum += f["attribution"].get<double>();
      const double delta = j["full_value"].get<double>() - j["base_value"].get<double>();
      if (j.contains("efficiency_gap")) EXPECT_NEAR(sum, delta, 1e-9) << method;
      if (j.contains("completeness_gap")) EXPECT_LT(j["relative_completeness_gap"].get<double>(), 0.02) << l;
      EXPECT_NE(std::find(s.labels.begin(), s.labels.end(), j["target"]["label"].get<std::string>()), s.labels.end());
      EXPECT_EQ(j["features"][0]["text"], j["row"] == 0 ? "In" : "Moses");
    }
  }
}

TEST(ExplainCli, PartialDependenceAndIceAgreeWithPredict) {
  const ExplainSetup s = make_explain_setup("explain_cli_pdp");
  const auto in = s.dir / "in.csv";
  write_file(in, "text\n\"the light and the earth\"\n\"God said let there be light\"\n");
  auto r = run_tessera(explain_args(s, in, "pdp", "--method pdp --feature count:light --feature length --grid 4 --target 0"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto pdps = nlohmann::json::parse(read_file(s.dir / "pdp" / "pdp.json"));
  ASSERT_EQ(pdps.size(), 2u);
  const auto& c = pdps[0];
  EXPECT_EQ(c["feature"], "count:light");
  EXPECT_EQ(c["grid"], nlohmann::json({0.0, 1.0, 2.0, 3.0}));
  for (size_t k = 0; k < c["grid"].size(); ++k) {
    const double mean = (c["ice"][0][k].get<double>() + c["ice"][1][k].get<double>()) / 2;
    EXPECT_NEAR(c["pdp"][k].get<double>(), mean, 1e-12);
  }
  // ICE at count 1 of "light" for row 1 is the model on the text rewritten by the feature:
  // "God said let there be" + " light" (the word removed, then appended) — ask predict.
  const auto pin = s.dir / "p.jsonl";
  write_file(pin, "{\"text\": \"God said let there be light\"}\n");
  r = run_tessera("predict " + s.config + " --input " + pin.string() + " --output " + (s.dir / "p.out").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto p = nlohmann::json::parse(read_file(s.dir / "p.out"));
  EXPECT_NEAR(c["ice"][1][1].get<double>(), p["probabilities"][s.labels[0]].get<double>(), 1e-6);
  const std::string png = read_file(s.dir / "pdp" / "pdp_count_light.png");
  ASSERT_GT(png.size(), 100u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

TEST(ExplainCli, BadInputMessages) {
  const ExplainSetup s = make_explain_setup("explain_cli_bad");
  auto fails = [&](const std::string& text, const std::string& extra, const std::string& message) {
    const auto in = s.dir / "bad.jsonl";
    write_file(in, text);
    auto r = run_tessera(explain_args(s, in, "bad", extra));
    EXPECT_NE(r.exit_code, 0) << extra << "\n" << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << "expected '" << message << "' in:\n" << r.output;
  };
  fails("{\"text\": \"a b\"}\n{\"text\": \"  \"}\n", "--method shap", "row 2: empty text");
  fails("{\"text\": \"In the beginning God created the heaven\"}\n", "--method shap --shap kernel --samples 5",
        "KernelSHAP needs at least 2·M = 14 coalitions");
  fails("{\"text\": \"a b\"}\n", "--method pdp", "give --feature");
  fails("{\"text\": \"a b\"}\n", "--method pdp --feature size", "unknown --feature 'size'");
  fails("{\"text\": \"a b\"}\n", "--method shap --target nosuch", "--target 'nosuch' is not a label");
  // Longer than max_len (16 tokens): explained truncated, with a warning naming the row.
  const auto in = s.dir / "long.jsonl";
  write_file(in, "{\"text\": \"a\"}\n{\"text\": \"And God said Let there be light and there was light and God saw the "
                 "light that it was good and God divided the light from the darkness\"}\n");
  auto r = run_tessera(explain_args(s, in, "long", "--method shap --shap partition"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("long.jsonl row 2 has more than max_len = 16 tokens"), std::string::npos) << r.output;
  const auto lines = lines_of(read_file(s.dir / "long" / "explanations.jsonl"));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(nlohmann::json::parse(lines[1])["truncated"].get<bool>());
}

// Token classification: one explanation per predicted entity span; IG is refused by name.
TEST(ExplainCli, TokenClassificationPerEntitySpan) {
  const auto dir = fresh_dir("explain_cli_ner");
  const std::string fx = source_dir() + "/tests/fixtures/tasks/";
  const std::string data = (dir / "ner.h5").string();
  auto r = run_tessera("prepare --task ner --input " + fx + "ner.conll --vocab " + fx + "vocab.txt --max-len 16 --output " + data);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto labels = tessera::TaskDataset(data, MPI_COMM_SELF).info().label_names;
  const std::string config = (dir / "run.toml").string();
  write_file(config, "[model]\nfamily = \"bert\"\nhead = \"token_classification\"\nnum_labels = " +
                         std::to_string(labels.size()) +
                         "\nn_layer = 2\nn_head = 2\nn_embd = 16\nn_positions = 16\nvocab_size = 69\n"
                         "initializer_range = 0.5\n[data]\npath = \"" + data + "\"\nseq_len = 16\n[train]\n"
                         "micro_batch_size = 4\n[run]\ndir = \"" + (dir / "run").string() + "\"\n");
  write_initial_checkpoint(config, dir / "run", 3);
  const auto in = dir / "in.jsonl";
  write_file(in, "{\"text\": \"Moses and Aaron went unto Pharaoh in Egypt\"}\n{\"text\": \"David was king over Israel\"}\n");
  r = run_tessera("explain " + config + " --input " + in.string() + " --output " + (dir / "out").string() +
                  " --method shap --shap exact");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto lines = lines_of(read_file(dir / "out" / "explanations.jsonl"));
  ASSERT_GE(lines.size(), 1u) << "the random model predicted no entity";
  for (const auto& l : lines) {
    const auto j = nlohmann::json::parse(l);
    EXPECT_FALSE(j["target"]["entity"].get<std::string>().empty()) << l;
    EXPECT_LT(std::fabs(j["efficiency_gap"].get<double>()), 1e-9) << l;
    EXPECT_LT(j["full_value"].get<double>(), 0) << l;  // a mean log-probability
  }
  r = run_tessera("explain " + config + " --input " + in.string() + " --output " + (dir / "ig").string() + " --method ig");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--method ig needs a sequence_classification or question_answering head (model.head = token_classification)"),
            std::string::npos) << r.output;
}
