// `tessera explain` and `predict --laplace` on a trained feature-head classifier (the
// XOR dataset of xor_dataset.hpp: label = ("light" in the text) XOR (amount > 50)):
//   - explain reads the `amount` column from its input (as predict) and lists its
//     attribution next to the words' in explanations.jsonl and report.html
//   - SHAP: efficiency Σφ = f(x) − f(baseline) (baseline: every word [MASK], amount at the
//     training mean), KernelSHAP with every coalition enumerated equals exact SHAP, and
//     amount is one of the deciding players (mean |φ_amount| ≥ 10 × mean |φ| of the filler words)
//   - IG attributes gradient × (x − baseline) to amount; completeness holds
//   - LIME lists the column; 2 ranks write the same bytes as 1
//   - a file without the column is refused naming the column and the file
//   - predict --laplace (last-layer Laplace over the feature head's output) serves the model
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <nlohmann/json.hpp>

#include "test_support.hpp"
#include "xor_dataset.hpp"

using namespace tessera_test;
using namespace features_test;
namespace fs = std::filesystem;

namespace {

struct Trained {
  fs::path dir;
  std::string config, input;
  std::vector<Row> val;
};

// Prepared with --numeric-features amount, trained 300 steps (validation accuracy ~0.99; < 1 s).
// One directory per test: ctest runs the tests of this file as parallel processes.
Trained trained(const std::string& name) {
  return [&] {
    Trained p;
    p.dir = fresh_dir(name);
    p.val = generate(200, 2);
    write_file(p.dir / "train.csv", csv(generate(400, 1)));
    write_file(p.dir / "val.csv", csv(p.val));
    const std::string data = (p.dir / "features.h5").string();
    auto r = run_tessera("prepare --task classification --input " + (p.dir / "train.csv").string() +
                         " --validation-input " + (p.dir / "val.csv").string() + " --vocab " + vocab() +
                         " --max-len 12 --numeric-features amount --output " + data);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    p.config = (p.dir / "features.toml").string();
    write_file(p.config, config(data, (p.dir / "run").string()));
    r = run_tessera("train " + p.config);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    // The first 12 validation rows as explain's input.
    std::vector<Row> head(p.val.begin(), p.val.begin() + 12);
    p.input = (p.dir / "input.csv").string();
    write_file(p.input, csv(head));
    return p;
  }();
}

std::vector<nlohmann::json> explanations(const fs::path& out) {
  std::vector<nlohmann::json> v;
  std::istringstream in(read_file(out / "explanations.jsonl"));
  for (std::string l; std::getline(in, l);) v.push_back(nlohmann::json::parse(l));
  return v;
}

double column_attribution(const nlohmann::json& j, const std::string& column) {
  for (const auto& c : j.at("columns"))
    if (c.at("column") == column) return c.at("attribution").get<double>();
  ADD_FAILURE() << "no column " << column << " in " << j.dump();
  return NAN;
}

}  // namespace

TEST(FeatureHeadExplainCli, ShapAttributesTheNumericColumn) {
  const Trained t = trained("fh_explain_shap");
  const fs::path out = t.dir / "shap";
  auto r = run_tessera("explain " + t.config + " --input " + t.input + " --output " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto ex = explanations(out);
  ASSERT_EQ(ex.size(), 12u);
  double amount = 0, filler = 0;
  int n_filler = 0, amount_top = 0;
  for (size_t i = 0; i < ex.size(); ++i) {
    const auto& j = ex[i];
    EXPECT_EQ(j.at("method"), "shap-exact");  // ≤ 10 players: words + amount
    ASSERT_EQ(j.at("columns").size(), 1u);
    EXPECT_EQ(j["columns"][0].at("column"), "amount");
    EXPECT_EQ(j["columns"][0].at("kind"), "numeric");
    EXPECT_NEAR(std::stod(j["columns"][0].at("value").get<std::string>()), t.val[i].amount, 1e-9 * t.val[i].amount);
    // Efficiency over words and the column.
    double sum = column_attribution(j, "amount");
    double top = std::fabs(sum);
    std::string top_player = "amount";
    for (const auto& f : j.at("features")) {
      const double a = f.at("attribution").get<double>();
      sum += a;
      if (std::fabs(a) > top) top = std::fabs(a), top_player = f.at("text");
      if (f.at("text") != "light" && f.at("text") != "darkness") filler += std::fabs(a), ++n_filler;
    }
    EXPECT_NEAR(sum, j.at("full_value").get<double>() - j.at("base_value").get<double>(), 1e-9) << i;
    EXPECT_LT(std::fabs(j.at("efficiency_gap").get<double>()), 1e-9);
    // The deciding players: the keyword or amount holds the largest attribution.
    EXPECT_TRUE(top_player == "amount" || top_player == "light" || top_player == "darkness") << j.dump();
    amount_top += top_player == "amount" ? 1 : 0;
    amount += std::fabs(column_attribution(j, "amount"));
  }
  amount /= double(ex.size());
  filler /= double(n_filler);
  std::printf("[feature head explain] mean |phi|: amount %.4f, filler words %.5f; amount largest in %d of %zu rows\n",
              amount, filler, amount_top, ex.size());
  EXPECT_GE(amount, 10 * filler);
  EXPECT_GE(amount_top, 3);
  // The HTML report lists the column.
  const std::string html = read_file(out / "report.html");
  EXPECT_NE(html.find("\"column\":\"amount\""), std::string::npos);

  // KernelSHAP with a budget covering every coalition = exact.
  const fs::path kout = t.dir / "kernel";
  r = run_tessera("explain " + t.config + " --input " + t.input + " --output " + kout.string() +
                  " --shap kernel --samples 4096");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto kx = explanations(kout);
  ASSERT_EQ(kx.size(), ex.size());
  for (size_t i = 0; i < ex.size(); ++i) {
    EXPECT_EQ(kx[i].at("method"), "shap-kernel");
    EXPECT_NEAR(column_attribution(kx[i], "amount"), column_attribution(ex[i], "amount"), 1e-7) << i;
    for (size_t f = 0; f < ex[i]["features"].size(); ++f)
      EXPECT_NEAR(kx[i]["features"][f]["attribution"].get<double>(), ex[i]["features"][f]["attribution"].get<double>(),
                  1e-7);
  }

  // Two ranks: the same bytes.
  r = run_mpi(2, "explain " + t.config + " --input " + t.input + " --output " + (t.dir / "shap2").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(t.dir / "shap2" / "explanations.jsonl"), read_file(out / "explanations.jsonl"));
}

TEST(FeatureHeadExplainCli, IntegratedGradientsAndLimeListTheColumn) {
  const Trained t = trained("fh_explain_ig");
  const fs::path out = t.dir / "ig";
  auto r = run_tessera("explain " + t.config + " --input " + t.input + " --output " + out.string() +
                       " --method ig --steps 2048 --batch-size 64");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  double amount = 0;
  for (const auto& j : explanations(out)) {
    const double a = column_attribution(j, "amount");
    double sum = a;
    for (const auto& f : j.at("features")) sum += f.at("attribution").get<double>();
    // Completeness over words and amount, up to the quadrature error of 2048 Gauss–Legendre
    // points (the trained keyword is a sharp step along the path: 512 points leave gaps of 0.05).
    EXPECT_NEAR(sum, j.at("full_value").get<double>() - j.at("base_value").get<double>(), 0.03) << j.dump();
    amount = std::max(amount, std::fabs(a));
  }
  EXPECT_GT(amount, 0.1);  // log-probability units: amount moves some prediction clearly

  r = run_tessera("explain " + t.config + " --input " + t.input + " --output " + (t.dir / "lime").string() +
                  " --method lime --samples 300");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const auto& j : explanations(t.dir / "lime")) {
    EXPECT_EQ(j.at("columns")[0].at("column"), "amount");
    EXPECT_TRUE(std::isfinite(column_attribution(j, "amount")));
  }
}

TEST(FeatureHeadExplainCli, MissingColumnIsRefused) {
  const Trained t = trained("fh_explain_missing");
  write_file(t.dir / "no_amount.csv", csv(t.val, false));
  auto r = run_tessera("explain " + t.config + " --input " + (t.dir / "no_amount.csv").string() + " --output " +
                       (t.dir / "none").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("'amount'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("no_amount.csv"), std::string::npos) << r.output;
  write_file(t.dir / "no_amount.jsonl", "{\"text\": \"the light\", \"amount\": 3}\n{\"text\": \"the earth\"}\n");
  r = run_tessera("explain " + t.config + " --input " + (t.dir / "no_amount.jsonl").string() + " --output " +
                  (t.dir / "none").string() + " --method lime");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("no_amount.jsonl:2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("'amount'"), std::string::npos) << r.output;
  write_file(t.dir / "bad.csv", "text,amount\nthe light,3\nthe earth,lots\n");
  r = run_tessera("explain " + t.config + " --input " + (t.dir / "bad.csv").string() + " --output " +
                  (t.dir / "none").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("bad.csv:3"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("lots"), std::string::npos) << r.output;
}

TEST(FeatureHeadExplainCli, PredictLaplaceOverTheFeatureHead) {
  const Trained t = trained("fh_explain_laplace");
  const std::string val = (t.dir / "val.csv").string();
  auto r = run_tessera("predict " + t.config + " --input " + val + " --output " + (t.dir / "plain.jsonl").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const std::string structure : {"diag", "kron"}) {
    const fs::path out = t.dir / ("laplace_" + structure + ".jsonl");
    r = run_tessera("predict " + t.config + " --input " + val + " --output " + out.string() +
                    " --laplace --laplace-structure " + structure);
    ASSERT_EQ(r.exit_code, 0) << r.output;  // (run_laplace checks logits = W φ + b over the feature head's φ)
    std::istringstream a(read_file(t.dir / "plain.jsonl")), b(read_file(out));
    int n = 0, same = 0;
    double softer = 0;
    for (std::string la, lb; std::getline(a, la) && std::getline(b, lb); ++n) {
      const auto ja = nlohmann::json::parse(la), jb = nlohmann::json::parse(lb);
      EXPECT_EQ(jb.at("laplace").at("structure"), structure);
      EXPECT_GT(jb.at("laplace").at("prior_precision").get<double>(), 0.0);
      same += ja.at("label") == jb.at("label") ? 1 : 0;
      // The probit predictive pulls the winning probability towards 1/2.
      softer += ja.at("score").get<double>() - jb.at("score").get<double>();
    }
    EXPECT_EQ(n, int(t.val.size()));
    EXPECT_GE(same, n - 2) << structure;
    EXPECT_GT(softer, 0.0) << structure;
  }
}
