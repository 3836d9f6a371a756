// eval (and predict --laplace, which fits on a split) read a split's stored feature
// vectors, standardised with data.path's feature schema when it was prepared: when that
// schema is not the one the feature-head checkpoint was trained with (data.path prepared
// again from other rows), they refuse, naming the dataset, the checkpoint and the first
// differing column, and exit non-zero. The same dataset passes.
#include <gtest/gtest.h>

#include "features/xor_dataset.hpp"
#include "test_support.hpp"

using namespace tessera_test;
using namespace features_test;

TEST(FeatureSchemaBadInput, EvalRefusesADatasetOfAnotherSchema) {
  const auto dir = fresh_dir("feature_schema_badinput");
  std::vector<Row> train = generate(120, 1);
  auto with_city = [](const std::vector<Row>& rows, const char* a, const char* b) {
    std::string s = csv(rows), out;
    std::istringstream in(s);
    std::string line;
    std::getline(in, line);
    out = line + ",city\n";
    for (size_t i = 0; std::getline(in, line); ++i) out += line + "," + (i % 2 ? a : b) + "\n";
    return out;
  };
  write_file(dir / "train.csv", with_city(train, "oslo", "rome"));
  const std::string data = (dir / "features.h5").string();
  const std::string prep = "prepare --task classification --vocab " + vocab() +
                           " --max-len 12 --numeric-features amount --categorical-features city --output " + data +
                           " --input ";
  auto r = run_tessera(prep + (dir / "train.csv").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string cfg = (dir / "features.toml").string();
  write_file(cfg, config(data, (dir / "run").string(), "", "", 10, 8));
  r = run_tessera("train " + cfg);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_tessera("eval " + cfg + " --split train");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string ckpt = (dir / "run" / "checkpoints" / "step_00000010.h5").string();

  // Other training amounts: other statistics of 'amount'.
  std::vector<Row> shifted = train;
  for (auto& row : shifted) row.amount = row.amount * 2 + 10;
  write_file(dir / "shifted.csv", with_city(shifted, "oslo", "rome"));
  r = run_tessera(prep + (dir / "shifted.csv").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const std::string cmd : {"eval " + cfg + " --split train",
                                "predict " + cfg + " --laplace --input " + (dir / "train.csv").string() +
                                    " --output " + (dir / "p.jsonl").string()}) {
    r = run_tessera(cmd);
    EXPECT_NE(r.exit_code, 0) << cmd;
    EXPECT_NE(r.output.find(data), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(ckpt), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("numeric column 'amount': mean"), std::string::npos) << r.output;
  }

  // The same amounts, another category index.
  write_file(dir / "cities.csv", with_city(train, "oslo", "paris"));
  r = run_tessera(prep + (dir / "cities.csv").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_tessera("eval " + cfg + " --split train");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("categorical column 'city'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("'paris'"), std::string::npos) << r.output;
}
