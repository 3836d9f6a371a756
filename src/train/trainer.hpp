// The training loop: data → forward/backward with gradient accumulation → global
// gradient norm and clipping → AdamW with the LR schedule; periodic validation
// (loss, perplexity), checkpoints (atomic, keep last K), exact resume, NaN guard.
#pragma once
#include <cmath>
#include <mpi.h>
#include <functional>
#include <map>
#include <string>
#include <vector>
#include "src/config/run_config.hpp"
#include "src/model/gpt2.hpp"

namespace tessera {

struct TrainSummary {
  int64_t steps_done = 0;
  double last_train_loss = NAN;  // NaN = no step run (e.g. resumed at max_steps)
  double last_val_loss = -1;  // -1 = no validation
  std::string last_checkpoint;
  bool stopped_early = false;  // max_time reached
  bool preempted = false;
  bool early_stopping = false; // train.early_stopping_patience ended the run (a finished run, not exit 3)
  int64_t best_step = -1;      // evaluation with the best train.eval_metric (-1 = none)
  double best_metric = 0;      // stopped by SIGUSR1/SIGTERM (src/runtime/stop_signal.hpp)
  std::map<std::string, double> last_metrics;  // the last evaluation's metrics (empty = none)
  bool stopped_by_hook = false;  // TrainingHooks::on_evaluation asked to stop (e.g. a pruned tune trial)
};

// Optional callbacks into the loop (e.g. `tessera tune`'s pruners).
struct TrainingHooks {
  // Called on every rank after each evaluation with the same metrics everywhere;
  // returning true (on every rank alike) ends the run after this evaluation.
  std::function<bool(int64_t step, const std::map<std::string, double>& metrics)> on_evaluation;
  // "" = the per-step lines on stdout; else appended to this file (a tune trial's train.log).
  std::string console_path;
};

// stop_at_step > 0: train the configured schedule only up to that step, checkpoint
// and return (as a preempted job would); a later --resume continues exactly.
// The library entry point of `train` and `tune`: config and communicator in,
// summary (with the last evaluation's metrics) out; comm may be any communicator
// (a tune trial's group of ranks).
TrainSummary run_training(const RunConfig& cfg, MPI_Comm comm, int64_t stop_at_step = 0,
                          const TrainingHooks& hooks = {});

// Mean loss over up to max_batches (0 = all) sequential micro-batches of a split.
class TokenDataset;
double evaluate_loss(GPT2<float>& model, const TokenDataset& data, const std::string& split, int seq_len,
                     int micro_batch, int64_t max_batches);

// Model FLOPs per trained token (forward + backward): 6·params + 12·layers·C·T.
double flops_per_token(const GPT2Config& cfg, int seq_len);

// Builds the model described by cfg.model and loads weights from a checkpoint file.
// With model.init_from: the architecture from the checkpoint's stored config
// (adopt_init_from_architecture); every command that builds the model calls it.
// Also resolves the feature head (resolve_feature_head).
void resolve_init_from(RunConfig& cfg, MPI_Comm comm);
// Sequence classification on a task dataset (data.path) with a feature schema: sets
// model.transformer.features' dense_dim and categorical cardinalities from the schema
// (docs/datasets.md, "Auxiliary features"); clears them otherwise.
void resolve_feature_head(RunConfig& cfg, MPI_Comm comm);

// Parameters absent from the file (e.g. a new task head on a pre-trained backbone)
// keep their current values and are returned; shapes must match.
// kept_blocks (model.init_blocks, resolved): block j of the model reads the file's block kept_blocks[j].
std::vector<std::string> load_model_weights(GPT2<float>& model, const std::string& checkpoint_file, MPI_Comm comm,
                                            const std::vector<int>& kept_blocks = {});

}  // namespace tessera
