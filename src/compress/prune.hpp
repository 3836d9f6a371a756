// Post-training pruning of a float32 checkpoint's block linear weights (tessera prune),
// after PyTorch's torch.nn.utils.prune and Wanda (Sun et al. 2023, "A Simple and
// Effective Pruning Approach for Large Language Models"):
//   importance  magnitude |W_oi|   or   wanda |W_oi|·‖X_i‖₂ (‖X_i‖ over the calibration
//               rows feeding the layer, src/compress/calibration.hpp)
//   pattern     unstructured: the `sparsity` fraction of least important weights,
//               compared within scope global (all pruned tensors), layer (each tensor)
//               or row (each output row, Wanda's comparison group);
//               N:M: in every group of M consecutive weights along the reduction
//               (input) dimension keep the N most important (2:4 → 50%)
// Output: a sparse checkpoint (zeros written into /params, /masks/<name> uint8 with
// 1 = kept), which fine-tuning with model.init_from keeps sparse (sparsity_masks.hpp).
#pragma once
#include <mpi.h>
#include <cstdint>
#include <string>
#include <vector>
#include "src/compress/calibration.hpp"

namespace tessera {

struct PruneOptions {
  std::string method = "magnitude";  // magnitude | wanda | heads (attention heads, head_pruning.hpp)
  double sparsity = 0.5;             // unstructured fraction in [0, 1)
  std::string scope;                 // global | layer | row ("" = layer for magnitude, row for wanda)
  int n = 0, m = 0;                  // N:M pattern (0 = unstructured)
  std::vector<std::string> keep_dense;  // name substrings left unpruned
  CalibrationOptions calibration;       // wanda, heads
  int heads_per_layer = 0;              // heads: keep this many per layer, or
  double head_fraction = -1;            // heads: prune floor(fraction·n_head) per layer (< 0 = unset)
};

struct PruneSummary {
  int64_t tensors = 0, weights = 0, zeros = 0;
  double seconds = 0;
  std::string heads;  // method heads: the pruned heads, "layer:head,…;…"
};

// Parses "N:M" (e.g. "2:4") into opt.n, opt.m; errors name `key`.
void parse_nm_pattern(const std::string& text, PruneOptions& opt, const std::string& key);

// Mask (1 = kept) of one [rows, cols] tensor with importance `score`; errors name `what`.
std::vector<uint8_t> nm_mask(const std::vector<float>& score, int64_t rows, int64_t cols, int n, int m,
                             const std::string& what);
// Keeps the (1 − sparsity) most important entries of each group of `group` consecutive
// scores (group = the whole tensor for layer scope, cols for row scope).
std::vector<uint8_t> unstructured_mask(const std::vector<float>& score, int64_t group, double sparsity);

PruneSummary prune_checkpoint(const std::string& in, const std::string& out, const PruneOptions& opt, MPI_Comm comm);

}  // namespace tessera
