#include "src/train/freezing.hpp"
#include <fnmatch.h>
#include <vector>
#include "src/model/transformer.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

bool matches_glob(const std::string& pattern, const std::string& name) {
  return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

FrozenFilter frozen_filter(const TrainSection& train, const TransformerConfig& model) {
  require(train.freeze_blocks <= model.n_layer, "train.freeze_blocks = " + std::to_string(train.freeze_blocks) +
                                                    " is out of range (the model has " +
                                                    std::to_string(model.n_layer) + " blocks)");
  if (train.freeze.empty() && !train.freeze_embeddings && train.freeze_blocks == 0) return {};
  return [train, model](const std::string& name) {
    if (train.freeze_embeddings && is_embedding_parameter(model, name)) return true;
    const int block = parameter_block(model, name);
    if (block >= 0 && block < train.freeze_blocks) return true;
    for (const std::string& p : train.freeze)
      if (matches_glob(p, name)) return true;
    return false;
  };
}

void check_freeze_patterns(const TrainSection& train, const ParameterSet<float>& params, ProcessGrid& grid) {
  if (train.freeze.empty()) return;
  std::vector<int64_t> hits(train.freeze.size(), 0);
  for (size_t k = 0; k < train.freeze.size(); ++k)
    for (const ParamInfo& info : params.infos()) hits[k] += matches_glob(train.freeze[k], info.name) ? 1 : 0;
  if (grid.pp_size() > 1) grid.pp().all_reduce(hits.data(), hits.size(), DType::I64, ReduceOp::Sum);
  for (size_t k = 0; k < hits.size(); ++k) {
    if (hits[k] > 0) continue;
    std::string examples;
    for (size_t i = 0; i < params.infos().size() && i < 4; ++i)
      examples += (examples.empty() ? "" : ", ") + params.info(i).name;
    throw Error("train.freeze: pattern '" + train.freeze[k] +
                "' matches no parameter of the model (names look like " + examples + ", …)");
  }
}

ParameterCount count_parameters(const ParameterSet<float>& params, ProcessGrid& grid, bool has_tied_copy,
                                const std::string& tied_name) {
  int64_t n[2] = {0, 0};
  for (const ParamInfo& info : params.infos()) {
    if (info.shard_dim < 0 && grid.tp_rank() != 0) continue;
    if (has_tied_copy && info.name == tied_name) continue;
    if (info.trainable) n[0] += int64_t(info.numel);
    n[1] += int64_t(info.numel);
  }
  if (grid.tp_size() > 1) grid.tp().all_reduce(n, 2, DType::I64, ReduceOp::Sum);
  if (grid.pp_size() > 1) grid.pp().all_reduce(n, 2, DType::I64, ReduceOp::Sum);
  return {n[0], n[1]};
}

}  // namespace tessera
