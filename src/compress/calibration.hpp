// Calibration statistics of the inputs of every block linear layer, from a forward
// of the float32 model over a token split: per (layer, input site) the Gram matrix
// G = Σ_n x_n x_nᵀ [IC, IC] (GPTQ's Hessian is 2G/n) or only its diagonal Σ_n x_n²
// [IC] (Wanda's ‖X_j‖²). The first `tokens` tokens of the split, in windows of
// seq_len. Errors name the dataset, the split and the key (--calibration-*).
#pragma once
#include <mpi.h>
#include <map>
#include <string>
#include <utility>
#include <vector>
#include "src/model/gpt2.hpp"

namespace tessera {

struct CalibrationOptions {
  std::string data;             // token dataset (.h5, prepared with the model's tokenizer)
  std::string split = "train";
  int64_t tokens = 4096;
  int seq_len = 256;
  int batch = 4;                // windows per forward
};

struct InputStats {
  int64_t dim = 0, rows = 0;
  std::vector<double> gram;     // dim·dim (full) or dim (diagonal)
};

using InputStatsMap = std::map<std::pair<int, LinearInput>, InputStats>;

// `key` names the option in errors (e.g. "--calibration-data").
InputStatsMap collect_input_stats(GPT2<float>& model, const CalibrationOptions& opt, bool full_gram,
                                  const std::string& key);

// The linear weights (names) a block input site feeds, per family.
std::vector<std::string> linears_of_site(const TransformerConfig& cfg, int layer, LinearInput site);

}  // namespace tessera
