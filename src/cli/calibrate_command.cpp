#include "src/parallel/root_call.hpp"
#include "io/task_dataset.hpp"  // first: see the kIgnoreIndex note there
#include "src/cli/calibrate_command.hpp"

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "io/checkpoint.hpp"
#include "src/cli/predictive.hpp"
#include "src/cli/task_inputs.hpp"
#include "src/config/run_config.hpp"
#include "src/explain/calibration.hpp"
#include "src/runtime/error.hpp"
#include "src/train/trainer.hpp"

namespace tessera {

namespace {

using namespace explain;

struct CalibrateOptions {
  CLI::App* cmd = nullptr;
  std::string config, split = "validation", output, checkpoint, ensemble, run_dir, laplace_fit_split = "train", laplace_structure = "diag";
  int bins = 15, batch_size = 0, mc_dropout = 0, laplace_samples = 0;
  uint64_t seed = 1;
  bool fit = false, laplace = false;
};

CalibrateOptions& options() {
  static CalibrateOptions o;
  return o;
}

nlohmann::json metrics_json(const CalibrationMetrics& m) {
  nlohmann::json bins = nlohmann::json::array(), cov = nlohmann::json::array();
  for (const auto& b : m.bins)
    bins.push_back({{"lo", b.lo}, {"hi", b.hi}, {"count", b.count}, {"confidence", b.confidence},
                    {"accuracy", b.accuracy}});
  for (const auto& c : m.coverage)
    cov.push_back({{"coverage", c.coverage}, {"kept", c.kept}, {"accuracy", c.accuracy}, {"threshold", c.threshold}});
  return {{"n", m.n}, {"accuracy", m.accuracy}, {"ece", m.ece}, {"mce", m.mce}, {"brier", m.brier},
          {"nll", m.nll}, {"mean_confidence", m.mean_confidence}, {"coverage_auc", m.coverage_auc},
          {"bins", bins}, {"accuracy_vs_coverage", cov}};
}

// Mean over samples of softmax(z_s / T_s): [n, K].
std::vector<double> mean_probabilities(const PredictiveSamples& s, bool calibrated) {
  std::vector<double> mean(size_t(s.n * s.K), 0.0);
  for (size_t i = 0; i < s.logits.size(); ++i) {
    const double T = calibrated ? s.temperatures[size_t(s.checkpoint_of[i])] : 1.0;
    const std::vector<double> p = softmax_rows(s.logits[i], s.K, T);
    for (size_t j = 0; j < p.size(); ++j) mean[j] += p[j] / double(s.logits.size());
  }
  return mean;
}

int run(const CalibrateOptions& o, MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  RunConfig cfg = load_run_config(o.config);
  resolve_init_from(cfg, comm);
  if (!o.run_dir.empty()) cfg.run.dir = o.run_dir;
  require(cfg.parallel.tp == 1 && cfg.parallel.pp == 1,
          "calibrate runs data-parallel only, but " + o.config + " sets parallel.tp = " +
              std::to_string(cfg.parallel.tp) + " and parallel.pp = " + std::to_string(cfg.parallel.pp) +
              "; set both to 1");
  TransformerConfig mc = cfg.model.transformer;
  apply_family_defaults(mc);
  validate_transformer_config(mc, o.config + ": [model]");
  require(mc.head == HeadKind::SequenceClassification,
          o.config + ": model.head = " + std::string(head_name(mc.head)) +
              "; calibrate serves sequence_classification heads");
  require(!cfg.data.path.empty() && is_task_dataset(cfg.data.path),
          o.config + ": data.path must name the task dataset (tessera prepare --task)");
  TaskDataset data(cfg.data.path, comm);
  require(data.has_split(o.split), "dataset '" + cfg.data.path + "' has no split '" + o.split + "'");
  const TaskDatasetInfo info = data.info();
  const int64_t K = int64_t(info.label_names.size());
  require(mc.num_labels == K, "dataset '" + cfg.data.path + "' has " + std::to_string(K) +
                                  " labels but model.num_labels = " + std::to_string(mc.num_labels));
  const TaskFeatures f = data.read_split(o.split);
  require(f.size() > 0, "dataset '" + cfg.data.path + "': split '" + o.split + "' is empty");
  const Encoded enc = encoded_rows(f);  // with the split's auxiliary features
  const std::vector<int> labels(f.labels.begin(), f.labels.end());

  if (o.mc_dropout > 0) require_dropout(mc, o.config);
  std::vector<std::string> ckpts =
      o.ensemble.empty() ? std::vector<std::string>{checkpoint_for(o.checkpoint, cfg)} : split_checkpoint_list(o.ensemble);
  require(o.ensemble.empty() || o.checkpoint.empty(), "calibrate: pass --checkpoint or --ensemble, not both");
  require(!o.laplace || (ckpts.size() == 1 && o.mc_dropout == 0),
          "calibrate: --laplace works on one checkpoint's deterministic logits; drop --ensemble / --mc-dropout");
  require(!o.fit || (ckpts.size() == 1 && o.mc_dropout == 0),
          "calibrate: --fit-temperature fits one checkpoint's deterministic logits; drop --ensemble / --mc-dropout");
  const int B = o.batch_size > 0 ? o.batch_size : std::max(1, cfg.train.micro_batch_size);
  PredictiveSamples s = predictive_samples(mc, ckpts, enc, B, K, info.pad_id, o.mc_dropout, o.seed, comm);

  // Temperature: fitted here (rank 0, broadcast, stored in the checkpoint) or stored.
  double fitted = 0;
  if (o.fit) {
    if (rank == 0) fitted = fit_temperature(s.logits[0], K, labels);
    MPI_Bcast(&fitted, 1, MPI_DOUBLE, 0, comm);
    write_checkpoint_scalar(ckpts[0], kTemperatureScalar, fitted, comm);
    s.temperatures[0] = fitted;
  }
  LaplaceResult lap;
  if (o.laplace) lap = run_laplace(mc, data, o.laplace_fit_split, ckpts[0], enc, B, info.pad_id, o.laplace_samples, o.seed, comm, o.laplace_structure);
  bool calibrated = false;
  for (double T : s.temperatures) calibrated = calibrated || T != 1.0;

  const std::string out = o.output.empty() ? (std::filesystem::path(cfg.run.dir) / "calibration").string() : o.output;
  on_root(comm, [&] {
    std::filesystem::create_directories(out);
    const CalibrationMetrics raw = calibration_metrics(mean_probabilities(s, false), K, labels, o.bins);
    nlohmann::json j;
    j["config"] = o.config;
    j["checkpoints"] = ckpts;
    j["split"] = o.split;
    j["bins"] = o.bins;
    j["samples_per_input"] = s.logits.size();
    j["mc_dropout"] = o.mc_dropout;
    if (o.mc_dropout > 0) j["seed"] = o.seed;
    j["brier_convention"] = "mean over samples of sum over classes (p_k - y_k)^2";
    j["temperatures"] = s.temperatures;
    j["uncalibrated"] = metrics_json(raw);
    auto write_png = [&](const std::string& name, const CalibrationMetrics& m) {
      std::ofstream p(out + "/" + name, std::ios::binary);
      p << reliability_png(m, 400, 400);
      require(bool(p), out + "/" + name + ": write failed");
    };
    write_png(calibrated ? "reliability_uncalibrated.png" : "reliability.png", raw);
    {
      std::ofstream p(out + "/coverage.png", std::ios::binary);
      p << coverage_png(mean_probabilities(s, calibrated), K, labels, 400, 300);
      require(bool(p), out + "/coverage.png: write failed");
    }
    std::printf("tessera calibrate: %s | %s n %lld | accuracy %.6f | ece %.6f | mce %.6f | brier %.6f | nll %.6f\n",
                ckpts.size() == 1 ? ckpts[0].c_str() : "ensemble", o.split.c_str(), (long long)raw.n, raw.accuracy,
                raw.ece, raw.mce, raw.brier, raw.nll);
    if (calibrated) {
      const CalibrationMetrics cal = calibration_metrics(mean_probabilities(s, true), K, labels, o.bins);
      j["calibrated"] = metrics_json(cal);
      if (o.fit) j["fitted_temperature"] = fitted;
      write_png("reliability.png", cal);
      std::printf("tessera calibrate: temperature %.6f%s | ece %.6f | mce %.6f | brier %.6f | nll %.6f\n",
                  s.temperatures[0], o.fit ? " (fitted, stored in the checkpoint)" : "", cal.ece, cal.mce, cal.brier,
                  cal.nll);
    }
    if (o.laplace) {
      const CalibrationMetrics lm = calibration_metrics(lap.probs, K, labels, o.bins);
      nlohmann::json lj = metrics_json(lm);
      lj["prior_precision"] = lap.la.prior_precision;
      lj["log_marginal_likelihood"] = lap.la.log_marginal_likelihood;
      lj["fit_split"] = o.laplace_fit_split;
      lj["structure"] = o.laplace_structure;
      lj["fit_n"] = lap.la.n;
      lj["predictive"] = o.laplace_samples > 0 ? "mc " + std::to_string(o.laplace_samples) : std::string("probit");
      lj["max_logit_gap"] = lap.max_logit_gap;
      j["laplace"] = lj;
      write_png("reliability_laplace.png", lm);
      std::printf("tessera calibrate: last-layer Laplace (%s, prior precision %.6g, %s) | ece %.6f | mce %.6f | brier %.6f | "
                  "nll %.6f\n", o.laplace_structure.c_str(), lap.la.prior_precision, lj["predictive"].get<std::string>().c_str(), lm.ece, lm.mce,
                  lm.brier, lm.nll);
    }
    std::ofstream jf(out + "/calibration.json");
    jf << j.dump(2) << "\n";
    require(bool(jf), out + "/calibration.json: write failed");
    std::printf("tessera calibrate: report -> %s/calibration.json\n", out.c_str());
  });
  return 0;
}

}  // namespace

void register_calibrate(CLI::App& app) {
  CalibrateOptions& o = options();
  auto* c = app.add_subcommand("calibrate", "Calibration of a classifier (ECE, MCE, Brier, NLL, reliability diagram)");
  c->add_option("config", o.config, "run config (TOML): [model] and data.path (the task dataset)")->required();
  c->add_option("--split", o.split, "dataset split (default validation)");
  c->add_option("--bins", o.bins, "equal-width confidence bins (default 15)")->check(CLI::Range(1, 10000));
  c->add_option("--output", o.output, "report directory (default <run.dir>/calibration)");
  c->add_option("--checkpoint", o.checkpoint, "checkpoint file (default: newest in the run's checkpoint dir)");
  c->add_option("--ensemble", o.ensemble, "comma-separated checkpoints: the mean of their probabilities");
  c->add_option("--mc-dropout", o.mc_dropout, "T stochastic passes with the model's dropout on")
      ->check(CLI::Range(1, 100000));
  c->add_option("--seed", o.seed, "dropout seed for --mc-dropout (default 1)");
  c->add_flag("--fit-temperature", o.fit, "fit the softmax temperature on the split and store it in the checkpoint");
  c->add_flag("--laplace", o.laplace,
              "last-layer Laplace of the classifier head (any family; diag or kron Hessian, prior by marginal likelihood)");
  c->add_option("--laplace-fit-split", o.laplace_fit_split, "split the Laplace Hessian is fitted on (default train)");
  c->add_option("--laplace-structure", o.laplace_structure, "Laplace Hessian: diag or kron (KFAC)")
      ->check(CLI::IsMember({"diag", "kron"}));
  c->add_option("--laplace-samples", o.laplace_samples, "Monte-Carlo samples of the Laplace predictive (0 = probit)")
      ->check(CLI::Range(0, 100000));
  c->add_option("--batch-size", o.batch_size, "rows per forward (default: train.micro_batch_size)")
      ->check(CLI::Range(1, 1 << 16));
  c->add_option("--run-dir", o.run_dir, "override run.dir (where checkpoints are looked up)");
  o.cmd = c;
}

int run_calibrate(MPI_Comm comm) {
  const CalibrateOptions& o = options();
  if (!o.cmd || !o.cmd->parsed()) return -1;
  return run(o, comm);
}

}  // namespace tessera
