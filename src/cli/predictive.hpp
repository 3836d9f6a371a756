// Probability samples of a sequence classifier for calibration and uncertainty
// (tessera calibrate / predict): one deterministic pass per checkpoint, or T passes
// with dropout on (MC dropout), over one or several checkpoints (an ensemble).
#pragma once
#include <mpi.h>
#include <string>
#include <vector>

#include "src/cli/forward_rows.hpp"
#include "src/explain/laplace.hpp"
#include "src/model/transformer_config.hpp"

namespace tessera {

class TaskDataset;
struct TaskFeatures;

struct PredictiveSamples {
  int64_t n = 0, K = 0;
  std::vector<std::vector<float>> logits;  // per sample: [n, K] raw logits (rank 0 only)
  std::vector<int> checkpoint_of;          // per sample: index into checkpoints
  std::vector<std::string> checkpoints;
  std::vector<double> temperatures;        // per checkpoint: /run/scalars@temperature, 1 when absent
};

// True when the model runs any dropout (embeddings, attention, residual, classifier, LoRA).
bool has_dropout(const TransformerConfig& mc);
// Error naming config when --mc-dropout asks for samples from a model without dropout.
void require_dropout(const TransformerConfig& mc, const std::string& config);

// The stored temperature of a checkpoint (1 when absent).
double checkpoint_temperature(const std::string& checkpoint, MPI_Comm comm);

// mc_dropout = 0: one deterministic pass per checkpoint; > 0: that many dropout passes
// per checkpoint (dropout key seed + checkpoint index, pass p).
// adapter: model.adapter ("" = none), loaded on a base checkpoint (src/train/adapter_loading.hpp).
PredictiveSamples predictive_samples(const TransformerConfig& mc, const std::vector<std::string>& checkpoints,
                                     const Encoded& enc, int B, int64_t K, int32_t pad, int mc_dropout,
                                     uint64_t seed, MPI_Comm comm, const std::string& adapter = "");

// Last-layer Laplace of a sequence classifier of any family (explain/laplace.hpp;
// features = ClassifierFeatures, the input of classifier / classifier.out_proj / score;
// no bias for GPT-2 / Llama), fitted on fit_split of data, predictive over rows: probit (samples = 0) or
// `samples` Monte-Carlo samples. Rank 0 holds the result (empty elsewhere).
struct LaplaceResult {
  explain::LastLayerLaplace la;
  std::vector<double> probs;                 // [n, K] predictive mean
  std::vector<std::vector<double>> samples;  // MC samples, each [n, K]
  double max_logit_gap = 0;                  // |logits − (W φ (+ b))| over rows
};
LaplaceResult run_laplace(const TransformerConfig& mc, const TaskDataset& data, const std::string& fit_split,
                          const std::string& ckpt, const Encoded& rows, int B, int32_t pad, int samples,
                          uint64_t seed, MPI_Comm comm, const std::string& structure = "diag");

// The encoded rows of a task-dataset split.
Encoded split_rows(const TaskFeatures& f);

// Splits "a.h5,b.h5" (empty entries are an error).
std::vector<std::string> split_checkpoint_list(const std::string& list);

}  // namespace tessera
