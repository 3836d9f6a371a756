// Evaluation during training, on any grid: data-parallel ranks take interleaved
// global batches of data.validation_split; the last stage's loss (and, for task
// datasets, every metric of the head) is combined over dp and sent along the
// pipeline, so every rank returns the same numbers. Keys: "loss", "perplexity"
// (token streams) or the task metrics (accuracy, macro_f1, entity_f1, f1, …).
#pragma once
#include <map>
#include <string>
#include "src/config/run_config.hpp"
#include "src/model/gpt2.hpp"
#include "src/parallel/process_grid.hpp"
#include "src/train/pipeline_runner.hpp"
#include "src/train/training_data.hpp"

namespace tessera {

// Empty when the run has no validation split.
std::map<std::string, double> validate_split(const RunConfig& cfg, const TrainingData& data, GPT2<float>& model,
                                             PipelineRunner& runner, ProcessGrid& grid);

}  // namespace tessera
