// `tessera calibrate` and predict's calibrated / uncertain outputs end to end on the
// tiny random-init classifier of explain_cli_fixture.hpp (split "train": the fixture
// dataset has no other): the report, the temperature stored in the checkpoint and
// applied by predict and eval, MC dropout and ensembles (mean / entropy / mutual
// information from the individual samples, 1 rank = 2 ranks), and clear errors.
#include "explain_cli_fixture.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "io/checkpoint_verify.hpp"
#include "src/explain/calibration.hpp"

using namespace tessera_test;
using namespace explain_test;

namespace {

std::vector<nlohmann::json> jsonl(const std::filesystem::path& p) {
  std::vector<nlohmann::json> out;
  for (const auto& l : lines_of(read_file(p))) out.push_back(nlohmann::json::parse(l));
  return out;
}

std::vector<double> probabilities(const nlohmann::json& j, const std::vector<std::string>& labels) {
  std::vector<double> p;
  for (const auto& l : labels) p.push_back(j["probabilities"][l].get<double>());
  return p;
}

// A config like s.config with dropout on.
std::string dropout_config(const ExplainSetup& s) {
  std::string text = read_file(s.config);
  const auto at = text.find("[data]");
  text.insert(at, "classifier_pdrop = 0.3\nresid_pdrop = 0.2\n");
  const std::string path = (s.dir / "dropout.toml").string();
  write_file(path, text);
  return path;
}

const char* kInputs =
    "{\"text\": \"In the beginning God created the heaven\"}\n{\"text\": \"Moses and Aaron went\"}\n"
    "{\"text\": \"David was king of Israel\"}\n";

}  // namespace

TEST(CalibrateCli, ReportTemperatureStoredAndApplied) {
  const ExplainSetup s = make_explain_setup("calibrate_cli");
  const auto in = s.dir / "in.jsonl";
  write_file(in, kInputs);
  auto r = run_tessera("predict " + s.config + " --input " + in.string() + " --output " + (s.dir / "p0.jsonl").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto before = jsonl(s.dir / "p0.jsonl");

  r = run_tessera("calibrate " + s.config + " --split train --bins 5 --output " + (s.dir / "cal").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(read_file(s.dir / "cal" / "calibration.json"));
  const auto& u = j["uncalibrated"];
  EXPECT_EQ(u["bins"].size(), 5u);
  const int64_t n = u["n"].get<int64_t>();
  EXPECT_GE(n, 4);
  int64_t in_bins = 0;
  double ece = 0;
  for (const auto& b : u["bins"]) {
    in_bins += b["count"].get<int64_t>();
    ece += b["count"].get<double>() / double(n) * std::fabs(b["accuracy"].get<double>() - b["confidence"].get<double>());
  }
  EXPECT_EQ(in_bins, n);
  EXPECT_NEAR(u["ece"].get<double>(), ece, 1e-12);
  EXPECT_EQ(u["accuracy_vs_coverage"].size(), 10u);
  EXPECT_FALSE(j.contains("calibrated"));
  EXPECT_EQ(read_file(s.dir / "cal" / "reliability.png").substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(read_file(s.dir / "cal" / "coverage.png").substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));

  // Fit: T is stored in the checkpoint and lowers the NLL on the split it was fitted on.
  r = run_tessera("calibrate " + s.config + " --split train --fit-temperature --output " + (s.dir / "fit").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  j = nlohmann::json::parse(read_file(s.dir / "fit" / "calibration.json"));
  const double T = j["fitted_temperature"].get<double>();
  EXPECT_GT(T, 0.0);
  EXPECT_NE(T, 1.0);
  EXPECT_LE(j["calibrated"]["nll"].get<double>(), j["uncalibrated"]["nll"].get<double>() + 1e-12);
  const std::string ckpt = tessera::find_latest_checkpoint((s.dir / "run" / "checkpoints").string());
  const auto st = tessera::read_checkpoint_state(ckpt, MPI_COMM_SELF);
  ASSERT_TRUE(st.scalars.count("temperature"));
  EXPECT_DOUBLE_EQ(st.scalars.at("temperature"), T);
  EXPECT_TRUE(tessera::verify_file_data(ckpt).problems.empty());  // every chunk still verifies

  // A later calibrate (no fit) reports the stored temperature's metrics.
  r = run_tessera("calibrate " + s.config + " --split train --output " + (s.dir / "again").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto again = nlohmann::json::parse(read_file(s.dir / "again" / "calibration.json"));
  EXPECT_NEAR(again["calibrated"]["nll"].get<double>(), j["calibrated"]["nll"].get<double>(), 1e-12);

  // predict applies it: p_T = softmax(log p_1 / T).
  r = run_tessera("predict " + s.config + " --input " + in.string() + " --output " + (s.dir / "p1.jsonl").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto after = jsonl(s.dir / "p1.jsonl");
  ASSERT_EQ(after.size(), 3u);
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_DOUBLE_EQ(after[i]["temperature"].get<double>(), T);
    const auto p1 = probabilities(before[i], s.labels), pT = probabilities(after[i], s.labels);
    double z = 0;
    for (double v : p1) z += std::pow(v, 1.0 / T);
    for (size_t k = 0; k < p1.size(); ++k) EXPECT_NEAR(pT[k], std::pow(p1[k], 1.0 / T) / z, 1e-5) << i << " " << k;
    EXPECT_EQ(after[i]["label"], before[i]["label"]);
  }
  // eval reports the calibrated NLL, equal to calibrate's.
  r = run_tessera("eval " + s.config + " --split train");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto at = r.output.find("calibrated_nll ");
  ASSERT_NE(at, std::string::npos) << r.output;
  EXPECT_NEAR(std::stod(r.output.substr(at + 15)), j["calibrated"]["nll"].get<double>(), 1e-4) << r.output;
}

TEST(CalibrateCli, McDropoutAndEnsembleUncertainty) {
  const ExplainSetup s = make_explain_setup("calibrate_cli_mc");
  const auto in = s.dir / "in.jsonl";
  write_file(in, kInputs);
  // No dropout in the config: a clear error.
  auto r = run_tessera("predict " + s.config + " --input " + in.string() + " --output " + (s.dir / "x.jsonl").string() +
                       " --mc-dropout 4");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("has no dropout"), std::string::npos) << r.output;
  r = run_tessera("calibrate " + s.config + " --split train --mc-dropout 4");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("has no dropout"), std::string::npos) << r.output;

  const std::string cfg = dropout_config(s);
  std::string outs[2];
  for (int np : {1, 2}) {
    const std::string args = "predict " + cfg + " --input " + in.string() + " --output " +
                             (s.dir / ("mc" + std::to_string(np) + ".jsonl")).string() +
                             " --mc-dropout 6 --seed 3 --samples --batch-size 2";
    r = np == 1 ? run_tessera(args) : run_mpi(2, args);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    outs[np - 1] = read_file(s.dir / ("mc" + std::to_string(np) + ".jsonl"));
  }
  EXPECT_EQ(outs[0], outs[1]) << "MC dropout: 1 rank and 2 ranks differ";
  const auto mc = jsonl(s.dir / "mc1.jsonl");
  ASSERT_EQ(mc.size(), 3u);
  auto H = [](const std::vector<double>& p) {
    double h = 0;
    for (double v : p)
      if (v > 0) h -= v * std::log(v);
    return h;
  };
  for (const auto& j : mc) {
    const auto samples = j["samples"].get<std::vector<std::vector<double>>>();
    ASSERT_EQ(samples.size(), 6u);
    EXPECT_NE(samples[0], samples[1]) << "dropout passes are identical";
    std::vector<double> mean(s.labels.size(), 0.0);
    double eh = 0;
    for (const auto& p : samples) {
      for (size_t k = 0; k < p.size(); ++k) mean[k] += p[k] / 6;
      eh += H(p) / 6;
    }
    const auto pm = probabilities(j, s.labels);
    for (size_t k = 0; k < mean.size(); ++k) EXPECT_NEAR(pm[k], mean[k], 1e-6);
    EXPECT_NEAR(j["uncertainty"]["entropy"].get<double>(), H(mean), 1e-12);
    EXPECT_NEAR(j["uncertainty"]["expected_entropy"].get<double>(), eh, 1e-12);
    EXPECT_NEAR(j["uncertainty"]["mutual_information"].get<double>(), H(mean) - eh, 1e-12);
    EXPECT_GT(j["uncertainty"]["mutual_information"].get<double>(), 0.0);
  }
  // A different seed gives different samples.
  r = run_tessera("predict " + cfg + " --input " + in.string() + " --output " + (s.dir / "mc9.jsonl").string() +
                  " --mc-dropout 6 --seed 9 --samples");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(read_file(s.dir / "mc9.jsonl"), outs[0]);
  // calibrate over the MC mean
  r = run_tessera("calibrate " + cfg + " --split train --mc-dropout 4 --batch-size 2 --output " + (s.dir / "mccal").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(read_file(s.dir / "mccal" / "calibration.json"))["samples_per_input"], 4);
  r = run_mpi(2, "calibrate " + cfg + " --split train --mc-dropout 4 --batch-size 2 --output " + (s.dir / "mccal2").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(s.dir / "mccal" / "calibration.json"), read_file(s.dir / "mccal2" / "calibration.json"))
      << "calibrate --mc-dropout: 1 rank and 2 ranks differ";

  // Ensemble of two checkpoints: the mean of their single-checkpoint predictions.
  const tessera::RunConfig rc = tessera::load_run_config(s.config);
  tessera::Transformer<float> model(rc.model.transformer);
  model.init_weights(11);
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.params().values());
  tessera::TrainingState st;
  st.step = 1;
  st.tokens_seen = 64;
  st.config_toml = rc.source_text;
  st.model_family = "bert";
  const std::string ck2 = tessera::write_checkpoint<float>((s.dir / "second").string(), model.params().infos(),
                                                           {{"params", host.data()}}, st, 0, MPI_COMM_SELF);
  const std::string ck1 = tessera::find_latest_checkpoint((s.dir / "run" / "checkpoints").string());
  std::vector<std::vector<nlohmann::json>> single;
  for (const std::string& ck : {ck1, ck2}) {
    const auto out = s.dir / ("single" + std::to_string(single.size()) + ".jsonl");
    r = run_tessera("predict " + s.config + " --input " + in.string() + " --output " + out.string() + " --checkpoint " + ck);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    single.push_back(jsonl(out));
  }
  r = run_tessera("predict " + s.config + " --input " + in.string() + " --output " + (s.dir / "ens.jsonl").string() +
                  " --ensemble " + ck1 + "," + ck2);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto ens = jsonl(s.dir / "ens.jsonl");
  ASSERT_EQ(ens.size(), 3u);
  for (size_t i = 0; i < ens.size(); ++i) {
    const auto a = probabilities(single[0][i], s.labels), b = probabilities(single[1][i], s.labels);
    const auto m = probabilities(ens[i], s.labels);
    std::vector<double> mean(a.size());
    for (size_t k = 0; k < a.size(); ++k) {
      mean[k] = (a[k] + b[k]) / 2;
      EXPECT_NEAR(m[k], mean[k], 1e-6);
    }
    EXPECT_EQ(ens[i]["uncertainty"]["samples"], 2);
    EXPECT_NEAR(ens[i]["uncertainty"]["mutual_information"].get<double>(), H(mean) - (H(a) + H(b)) / 2, 1e-5);
  }
  r = run_tessera("predict " + s.config + " --input " + in.string() + " --output " + (s.dir / "e.jsonl").string() +
                  " --ensemble " + ck1 + ",/nonexistent.h5");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("/nonexistent.h5: no such checkpoint file"), std::string::npos) << r.output;
}

TEST(CalibrateCli, LastLayerLaplace) {
  const ExplainSetup s = make_explain_setup("calibrate_cli_laplace");
  for (const std::string pred : {"", " --laplace-samples 200", " --laplace-structure kron",
                                 " --laplace-structure kron --laplace-samples 200"}) {
    auto r = run_tessera("calibrate " + s.config + " --split train --laplace --output " + (s.dir / "lap").string() + pred);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto j = nlohmann::json::parse(read_file(s.dir / "lap" / "calibration.json"));
    const auto& l = j["laplace"];
    EXPECT_LT(l["max_logit_gap"].get<double>(), 1e-4);  // logits = classifier(pooler output)
    EXPECT_GT(l["prior_precision"].get<double>(), 0.0);
    EXPECT_EQ(l["n"], j["uncalibrated"]["n"]);
    EXPECT_EQ(l["predictive"], pred.find("samples") == std::string::npos ? "probit" : "mc 200");
    EXPECT_EQ(l["structure"], pred.find("kron") == std::string::npos ? "diag" : "kron");
    // the posterior predictive is less confident than the MAP on average
    EXPECT_LE(l["mean_confidence"].get<double>(), j["uncalibrated"]["mean_confidence"].get<double>() + 1e-9);
    EXPECT_TRUE(std::filesystem::exists(s.dir / "lap" / "reliability_laplace.png"));
  }
  // predict --laplace: the MC samples average to the written probabilities.
  const auto in = s.dir / "in.jsonl";
  write_file(in, kInputs);
  auto r = run_tessera("predict " + s.config + " --input " + in.string() + " --output " + (s.dir / "l.jsonl").string() +
                       " --laplace --laplace-samples 50 --samples");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const auto& j : jsonl(s.dir / "l.jsonl")) {
    EXPECT_EQ(j["laplace"]["predictive"], "mc");
    const auto smp = j["samples"].get<std::vector<std::vector<double>>>();
    ASSERT_EQ(smp.size(), 50u);
    const auto p = probabilities(j, s.labels);
    for (size_t k = 0; k < p.size(); ++k) {
      double m = 0;
      for (const auto& v : smp) m += v[k] / 50;
      EXPECT_NEAR(p[k], m, 1e-6);
    }
    EXPECT_GE(j["uncertainty"]["mutual_information"].get<double>(), 0.0);
  }
  r = run_tessera("calibrate " + s.config + " --split train --laplace --laplace-fit-split nope");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("no split 'nope'"), std::string::npos) << r.output;
}

// Last-layer Laplace for every classification family: RoBERTa (classifier.out_proj over
// tanh(classifier.dense(h[<s>]))), GPT-2 and Llama (score [K, C] without bias over the
// last non-pad token's final hidden state). The logits are the features times the head
// (max gap < 1e-4 over the split), the predictive is a distribution and softer than the MAP.
TEST(CalibrateCli, LastLayerLaplaceEveryFamily) {
  const ExplainSetup s = make_explain_setup("calibrate_cli_laplace_families");
  const auto in = s.dir / "in.jsonl";
  write_file(in, kInputs);
  for (const std::string family : {"roberta", "gpt2", "llama"}) {
    std::string text = read_file(s.config);
    text.replace(text.find("family = \"bert\""), 15, "family = \"" + family + "\"");
    const std::string dir = (s.dir / family).string();
    text.replace(text.find((s.dir / "run").string()), (s.dir / "run").string().size(), dir + "/run");
    const std::string config = (s.dir / (family + ".toml")).string();
    write_file(config, text);
    write_initial_checkpoint(config, std::filesystem::path(dir) / "run", 5, family);
    for (const std::string structure : {"diag", "kron"}) {
      auto r = run_tessera("calibrate " + config + " --split train --laplace --laplace-structure " + structure +
                           " --output " + dir + "/lap");
      ASSERT_EQ(r.exit_code, 0) << family << " " << structure << "\n" << r.output;
      const auto j = nlohmann::json::parse(read_file(std::filesystem::path(dir) / "lap" / "calibration.json"));
      const auto& l = j["laplace"];
      EXPECT_LT(l["max_logit_gap"].get<double>(), 1e-4) << family;  // logits = head(features)
      EXPECT_GT(l["prior_precision"].get<double>(), 0.0) << family;
      EXPECT_LT(l["mean_confidence"].get<double>(), j["uncalibrated"]["mean_confidence"].get<double>()) << family;
      std::printf("%s %s: max_logit_gap %.3g, prior %.4g, mean confidence %.4f (MAP %.4f), nll %.4f (MAP %.4f)\n",
                  family.c_str(), structure.c_str(), l["max_logit_gap"].get<double>(), l["prior_precision"].get<double>(),
                  l["mean_confidence"].get<double>(), j["uncalibrated"]["mean_confidence"].get<double>(),
                  l["nll"].get<double>(), j["uncalibrated"]["nll"].get<double>());
    }
    // predict --laplace: each row a distribution, less confident than predict's MAP
    auto r = run_tessera("predict " + config + " --input " + in.string() + " --output " + dir + "/map.jsonl");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    r = run_tessera("predict " + config + " --input " + in.string() + " --output " + dir + "/lap.jsonl --laplace");
    ASSERT_EQ(r.exit_code, 0) << family << "\n" << r.output;
    const auto map = jsonl(std::filesystem::path(dir) / "map.jsonl"), lap = jsonl(std::filesystem::path(dir) / "lap.jsonl");
    ASSERT_EQ(lap.size(), 3u);
    for (size_t i = 0; i < lap.size(); ++i) {
      const auto p = probabilities(lap[i], s.labels), p0 = probabilities(map[i], s.labels);
      double sum = 0;
      for (double v : p) sum += v;
      EXPECT_NEAR(sum, 1.0, 1e-6) << family << " row " << i;
      EXPECT_LE(*std::max_element(p.begin(), p.end()), *std::max_element(p0.begin(), p0.end()) + 1e-6) << family;
      EXPECT_EQ(lap[i]["label"], map[i]["label"]) << family;  // probit keeps the argmax
    }
  }
}

TEST(CalibrateCli, BadInput) {
  const ExplainSetup s = make_explain_setup("calibrate_cli_bad");
  auto r = run_tessera("calibrate " + s.config + " --split validation");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("has no split 'validation'"), std::string::npos) << r.output;
  r = run_tessera("calibrate " + s.config + " --split train --bins 0");
  EXPECT_NE(r.exit_code, 0);
  // A corrupt stored temperature is caught by the checkpoint validation, naming it.
  const std::string ckpt = tessera::find_latest_checkpoint((s.dir / "run" / "checkpoints").string());
  tessera::write_checkpoint_scalar(ckpt, "temperature", -2.0, MPI_COMM_SELF);
  try {
    tessera::read_checkpoint_state(ckpt, MPI_COMM_SELF);
    ADD_FAILURE() << "a negative temperature was accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("/run/scalars@temperature"), std::string::npos) << e.what();
  }
  const auto in = s.dir / "in.jsonl";
  write_file(in, kInputs);
  r = run_tessera("predict " + s.config + " --input " + in.string() + " --output " + (s.dir / "x.jsonl").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("must be > 0"), std::string::npos) << r.output;
}
