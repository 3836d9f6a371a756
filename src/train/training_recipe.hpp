// Model and recipe assembly of a training run: this rank's slice and stage of the
// model (initialised, or loaded from model.init_from), the loss options of the
// recipe (class weights, label smoothing), AdamW (replicated or ZeRO-1), the
// gradient reduction and the pipeline schedule.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>
#include "src/config/run_config.hpp"
#include "src/model/gpt2.hpp"
#include "src/parallel/process_grid.hpp"
#include "src/train/adamw_optimizer.hpp"
#include "src/train/freezing.hpp"
#include "src/train/gradient_sync.hpp"
#include "src/train/pipeline_runner.hpp"
#include "src/train/training_data.hpp"
#include "src/train/zero_adamw.hpp"

namespace tessera {

// AdamW, replicated or ZeRO-1-sharded over dp, behind one face for the loop and
// for checkpoints (which always hold full moments at full logical shape).
class Optimizer {
 public:
  Optimizer(GPT2<float>& model, ProcessGrid& grid, const OptimSection& o, bool zero1);
  ZeroAdamW* zero() { return zero_.get(); }
  void step(double lr, double scale);
  void set_steps_taken(int64_t t);
  size_t state_bytes() const;
  // Full-slab moments (collective over dp with ZeRO-1).
  std::pair<View1<float>, View1<float>> moments();
  void set_moments(const View1<float>& m, const View1<float>& v);

 private:
  GPT2<float>& model_;
  std::unique_ptr<AdamWOptimizer<float>> plain_;
  std::unique_ptr<ZeroAdamW> zero_;
};

class TrainingRecipe {
 public:
  // cfg has model.init_from already resolved (resolve_init_from).
  TrainingRecipe(const RunConfig& cfg, ProcessGrid& grid, const TrainingData& data, MPI_Comm comm);
  GPT2<float>& model() { return *model_; }
  Optimizer& optimizer() { return *opt_; }
  GradientSynchronizer& sync() { return *sync_; }
  PipelineRunner& runner() { return *runner_; }
  // Parameters not in model.init_from (e.g. a new task head), which keep their init.
  const std::vector<std::string>& fresh_parameters() const { return fresh_; }
  // Tensors of this rank set from model.adapter (0 without one).
  size_t adapter_tensors() const { return adapter_tensors_; }
  // Parameters of the whole model and the trainable part (train.freeze*, LoRA).
  const ParameterCount& counted() const { return counted_; }

 private:
  std::unique_ptr<GPT2<float>> model_;
  std::unique_ptr<Optimizer> opt_;
  std::unique_ptr<GradientSynchronizer> sync_;
  std::unique_ptr<PipelineRunner> runner_;
  std::vector<std::string> fresh_;
  size_t adapter_tensors_ = 0;
  ParameterCount counted_;
};

}  // namespace tessera
