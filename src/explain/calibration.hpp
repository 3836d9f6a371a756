// Calibration and predictive uncertainty of a classifier (docs/explain.md
// "Calibration and uncertainty"). Probabilities are row-major [n, K] doubles.
//   confidence  c_i = max_k p_ik, prediction ŷ_i = argmax_k p_ik (first maximum)
//   bins        B equal-width confidence bins (b/B, (b+1)/B], bin = ceil(c·B) − 1
//               clamped to [0, B−1] (c = 0 goes to bin 0)
//   ECE         Σ_b (n_b/n) |acc_b − conf_b|;  MCE = max over non-empty bins
//   Brier       (1/n) Σ_i Σ_k (p_ik − y_ik)²   (multi-class, summed over classes: in [0, 2])
//   NLL         −(1/n) Σ_i log max(p_i,y_i, 1e-300)
//   coverage    samples sorted by confidence, descending (ties: input order); the
//               accuracy of the k most confident for k = 1..n; reported at coverage
//               levels q (k = ceil(q·n)) and the area under accuracy-vs-coverage
//               (1/n) Σ_k acc(top k)
// Temperature scaling (Guo et al. 2017): p = softmax(z / T), T > 0 fitted by
// minimising the NLL over log T (golden-section search on [log 0.01, log 100] to
// |Δ log T| < 1e-10; the NLL is convex in 1/T, so unimodal in log T). Uncertainty over S probability vectors per input (MC dropout,
// ensembles): the mean p̄, the predictive entropy H[p̄], the expected entropy
// E_s H[p_s] and the mutual information (BALD) H[p̄] − E_s H[p_s] (natural log).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tessera::explain {

struct ReliabilityBin {
  double lo = 0, hi = 0;
  int64_t count = 0;
  double confidence = 0, accuracy = 0;  // means over the bin (0 when empty)
};

struct CoveragePoint {
  double coverage = 0;   // requested level q
  int64_t kept = 0;      // ceil(q·n)
  double accuracy = 0;   // of the kept most confident
  double threshold = 0;  // the lowest kept confidence
};

struct CalibrationMetrics {
  int64_t n = 0, K = 0;
  double accuracy = 0, ece = 0, mce = 0, brier = 0, nll = 0, mean_confidence = 0;
  double coverage_auc = 0;  // (1/n) Σ_k accuracy of the k most confident
  std::vector<ReliabilityBin> bins;
  std::vector<CoveragePoint> coverage;
};

// The default coverage levels 0.1, 0.2, …, 1.0.
std::vector<double> default_coverage_levels();

// Error when labels are out of range, a row is not a distribution (|Σ−1| > 1e-6 or a
// negative entry), n = 0 or bins < 1.
CalibrationMetrics calibration_metrics(const std::vector<double>& probs, int64_t K, const std::vector<int>& labels,
                                       int bins, const std::vector<double>& coverage_levels = default_coverage_levels());

// softmax(z / T) per row (in double).
std::vector<double> softmax_rows(const std::vector<float>& logits, int64_t K, double temperature);
// Mean NLL of softmax(z / T) (log-sum-exp in double).
double temperature_nll(const std::vector<float>& logits, int64_t K, const std::vector<int>& labels, double temperature);
// The T minimising temperature_nll.
double fit_temperature(const std::vector<float>& logits, int64_t K, const std::vector<int>& labels);

struct PredictiveUncertainty {
  std::vector<double> mean;  // [K]
  double entropy = 0, expected_entropy = 0, mutual_information = 0;
};
// samples: S rows of K probabilities (one input). S >= 1.
PredictiveUncertainty predictive_uncertainty(const std::vector<std::vector<double>>& samples);

// A reliability diagram as PNG bytes: per bin a bar of its accuracy (blue; grey
// where empty), the gap to the bin's mean confidence (red), and the diagonal.
std::string reliability_png(const CalibrationMetrics& m, int width, int height);
// Accuracy vs coverage as PNG bytes (the top-k accuracy for k = 1..n in blue, the overall
// accuracy as a grey line; x = coverage k/n, y from the data).
std::string coverage_png(const std::vector<double>& probs, int64_t K, const std::vector<int>& labels, int width,
                         int height);

}  // namespace tessera::explain
