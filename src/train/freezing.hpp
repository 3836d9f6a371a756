// Freezing for fine-tuning (train.freeze, train.freeze_embeddings,
// train.freeze_blocks; docs/peft.md): which parameters are frozen, decided by
// name before the model allocates its slabs, so frozen tensors never get a
// gradient buffer or optimizer state (ParameterSet keeps them after the
// trainable part of the slab).
#pragma once
#include <string>
#include "src/config/run_config.hpp"
#include "src/parallel/process_grid.hpp"
#include "src/tensor/parameter_set.hpp"

namespace tessera {

// Shell-style glob (* any run of characters, ? one character) on a whole parameter name.
bool matches_glob(const std::string& pattern, const std::string& name);

// The frozen-parameter filter of [train] for a model (empty filter when nothing is frozen).
// Checks train.freeze_blocks ≤ n_layer.
FrozenFilter frozen_filter(const TrainSection& train, const TransformerConfig& model);

// Every train.freeze pattern matches at least one parameter of the whole model
// (counted over the pipeline stages, collective over the grid), else an error
// naming the pattern and a few parameter names.
void check_freeze_patterns(const TrainSection& train, const ParameterSet<float>& params, ProcessGrid& grid);

// Elements of the whole model's parameters, trainable and all (each logical element once:
// TP shards summed, TP-replicated tensors once, a tied head's second copy not at all).
struct ParameterCount {
  int64_t trainable = 0, total = 0;
};
ParameterCount count_parameters(const ParameterSet<float>& params, ProcessGrid& grid, bool has_tied_copy,
                                const std::string& tied_name);

}  // namespace tessera
