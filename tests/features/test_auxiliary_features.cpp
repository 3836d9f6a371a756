// Auxiliary features in `tessera prepare --task classification` (io/auxiliary_features.hpp):
// numeric columns standardised with TRAIN-only mean/std (recomputed here independently),
// a missing value → 0 plus its indicator, categorical values indexed on train with the
// unknown bucket 0, text-derived features; bad input names the column / row / feature.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <random>
#include <sstream>

#include "io/auxiliary_features.hpp"
#include "io/task_dataset.hpp"
#include "test_support.hpp"

using namespace tessera_test;

namespace {

std::string vocab() { return source_dir() + "/tests/fixtures/tasks/vocab.txt"; }

struct Row {
  std::string text, label, price, country;
};

std::string csv(const std::vector<Row>& rows) {
  std::string s = "text,label,price,country\n";
  for (const auto& r : rows) s += r.text + "," + r.label + "," + r.price + "," + r.country + "\n";
  return s;
}

std::vector<Row> generated(int n, uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<double> price(0, 100);
  const char* countries[] = {"fr", "de", "it"};
  std::vector<Row> rows;
  for (int i = 0; i < n; ++i) {
    std::ostringstream p;
    p << price(g);
    rows.push_back({i % 2 ? "the light is good" : "and the earth was dark 3", i % 3 ? "a" : "b", p.str(),
                    countries[i % 3]});
  }
  return rows;
}

}  // namespace

TEST(AuxiliaryFeatures, StandardisedWithTrainOnlyStatistics) {
  const auto dir = fresh_dir("features_stats");
  std::vector<Row> train = generated(40, 1), val = generated(12, 2);
  train[5].price = "";          // missing in train: left out of the statistics
  val[3].price = "";            // missing in validation: 0 and indicator 1
  val[4].country = "es";        // unseen category: unknown bucket
  for (auto& r : val) if (!r.price.empty()) r.price = std::to_string(std::stod(r.price) * 3 + 500);  // shifted
  write_file(dir / "train.csv", csv(train));
  write_file(dir / "val.csv", csv(val));
  const std::string out = (dir / "d.h5").string();
  auto r = run_tessera("prepare --task classification --input " + (dir / "train.csv").string() +
                       " --validation-input " + (dir / "val.csv").string() + " --vocab " + vocab() + " --output " +
                       out + " --max-len 16 --numeric-features price --categorical-features country"
                       " --text-features words,has_number");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  // Independent train-only statistics (population std), missing rows left out.
  double sum = 0, sq = 0;
  int n = 0;
  for (const auto& t : train)
    if (!t.price.empty()) sum += std::stod(t.price), ++n;
  const double mean = sum / n;
  for (const auto& t : train)
    if (!t.price.empty()) sq += (std::stod(t.price) - mean) * (std::stod(t.price) - mean);
  const double sd = std::sqrt(sq / n);

  tessera::TaskDataset d(out, MPI_COMM_SELF);
  ASSERT_FALSE(d.info().feature_schema.empty());
  const auto schema = tessera::FeatureSchema::from_json(d.info().feature_schema, "test");
  ASSERT_EQ(schema.numeric.size(), 1u);
  EXPECT_NEAR(schema.numeric[0].mean, mean, 1e-9 * std::abs(mean));
  EXPECT_NEAR(schema.numeric[0].std, sd, 1e-9 * sd);
  EXPECT_EQ(schema.dense_names(), (std::vector<std::string>{"price", "price:missing", "text:words", "text:has_number"}));
  ASSERT_EQ(schema.categorical.size(), 1u);
  EXPECT_EQ(schema.categorical[0].values, (std::vector<std::string>{"de", "fr", "it"}));

  const auto v = d.read_split("validation");
  ASSERT_EQ(v.dense_feature_dim, 4);
  ASSERT_EQ(v.categorical_feature_dim, 1);
  for (size_t i = 0; i < val.size(); ++i) {
    const float* row = &v.dense_features[i * 4];
    if (val[i].price.empty()) {
      EXPECT_EQ(row[0], 0.0f);
      EXPECT_EQ(row[1], 1.0f);
    } else {
      EXPECT_NEAR(row[0], (std::stod(val[i].price) - mean) / sd, 1e-4) << "row " << i;
      EXPECT_EQ(row[1], 0.0f);
    }
    const int32_t want = val[i].country == "de" ? 1 : val[i].country == "fr" ? 2 : val[i].country == "it" ? 3 : 0;
    EXPECT_EQ(v.categorical_features[i], want) << "row " << i;
  }
  // Text features standardised with the train statistics too: words is 4 or 6, has_number 0 or 1.
  const auto t = d.read_split("train");
  double wsum = 0;
  for (size_t i = 0; i < train.size(); ++i) wsum += t.dense_features[i * 4 + 2];
  EXPECT_NEAR(wsum / double(train.size()), 0.0, 1e-5);  // train mean of a standardised feature is 0
  EXPECT_GT(t.dense_features[0 * 4 + 3], t.dense_features[1 * 4 + 3]);  // row 0 has "3", row 1 none
}

TEST(AuxiliaryFeatures, TextFeatureValues) {
  tessera::StandardisedFeature f;
  auto value = [&](const std::string& name, const std::string& text) {
    f.name = name;
    return tessera::text_feature_value(f, text, [](const std::string& s) { return int64_t(s.size()); });
  };
  EXPECT_EQ(value("words", "Hello, big  world!"), 3.0);
  EXPECT_EQ(value("tokens", "abcd"), 4.0);
  EXPECT_NEAR(value("punct_ratio", "ab,!"), 0.5, 1e-12);
  EXPECT_NEAR(value("upper_ratio", "AbC d"), 0.5, 1e-12);
  EXPECT_EQ(value("has_number", "no digits"), 0.0);
  EXPECT_EQ(value("has_number", "room 101"), 1.0);
  f.words = {"bad", "good"};
  EXPECT_EQ(value("wordlist:x", "Good good BAD ugly"), 3.0);
  EXPECT_THROW(value("sentiment", "x"), std::exception);
}

TEST(AuxiliaryFeatures, BadInputNamesColumnRowAndFeature) {
  const auto dir = fresh_dir("features_bad");
  write_file(dir / "train.csv", csv(generated(6, 3)));
  auto prep = [&](const std::string& file, const std::string& flags) {
    return run_tessera("prepare --task classification --input " + file + " --vocab " + vocab() + " --output " +
                       (dir / "o.h5").string() + " --max-len 16 " + flags);
  };
  // A feature column the file lacks: the column and the file are named.
  auto r = prep((dir / "train.csv").string(), "--numeric-features weight");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("weight"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("train.csv"), std::string::npos) << r.output;
  // A validation file that lacks it.
  write_file(dir / "val.csv", "text,label,country\nthe light,a,fr\n");
  r = prep((dir / "train.csv").string(), "--numeric-features price --validation-input " + (dir / "val.csv").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("'price'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("val.csv"), std::string::npos) << r.output;
  // A non-numeric value: file:line (row) and column named.
  auto rows = generated(6, 4);
  rows[2].price = "cheap";
  write_file(dir / "bad.csv", csv(rows));
  r = prep((dir / "bad.csv").string(), "--numeric-features price");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("bad.csv:4"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("'price'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cheap"), std::string::npos) << r.output;
  // Unknown text feature, and an unreadable word list.
  r = prep((dir / "train.csv").string(), "--text-features words,sentiment");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("sentiment"), std::string::npos) << r.output;
  r = prep((dir / "train.csv").string(), "--text-features wordlist:" + (dir / "nope.txt").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("nope.txt"), std::string::npos) << r.output;
  // JSONL: a value that is not a number names the line and key.
  write_file(dir / "t.jsonl", "{\"text\":\"the light\",\"label\":\"a\",\"price\":3}\n"
                              "{\"text\":\"the dark\",\"label\":\"b\",\"price\":\"n/a\"}\n");
  r = prep((dir / "t.jsonl").string(), "--numeric-features price");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("t.jsonl:2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("'price'"), std::string::npos) << r.output;
  // Features without --task classification.
  r = run_tessera("prepare --task ner --input x.conll --vocab " + vocab() + " --output o.h5 --numeric-features a");
  EXPECT_NE(r.exit_code, 0);
}

// prepare on 2 ranks (rows encoded in per-rank ranges, gathered to rank 0) writes the same
// feature schema and vectors as one rank.
TEST(AuxiliaryFeatures, TwoRanksPrepareEqualsOneRank) {
  const auto dir = fresh_dir("features_np2");
  auto rows = generated(21, 5);
  rows[7].price = "";
  write_file(dir / "train.csv", csv(rows));
  const std::string args = "prepare --task classification --input " + (dir / "train.csv").string() + " --vocab " +
                           vocab() + " --max-len 16 --numeric-features price --categorical-features country"
                           " --text-features tokens,upper_ratio --output ";
  auto one = run_tessera(args + (dir / "one.h5").string());
  ASSERT_EQ(one.exit_code, 0) << one.output;
  auto two = run_mpi(2, args + (dir / "two.h5").string());
  ASSERT_EQ(two.exit_code, 0) << two.output;
  tessera::TaskDataset a((dir / "one.h5").string(), MPI_COMM_SELF), b((dir / "two.h5").string(), MPI_COMM_SELF);
  EXPECT_EQ(a.info().feature_schema, b.info().feature_schema);
  const auto fa = a.read_split("train"), fb = b.read_split("train");
  EXPECT_EQ(fa.dense_features, fb.dense_features);
  EXPECT_EQ(fa.categorical_features, fb.categorical_features);
  EXPECT_EQ(fa.input_ids, fb.input_ids);
}
