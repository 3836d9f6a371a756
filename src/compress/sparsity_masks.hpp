// Pruning masks during training: a float slab aligned with the model's parameter slab
// (1 = trainable, 0 = pruned) applied after every optimizer step (θ ← θ ⊙ mask), so
// pruned weights stay exactly zero through fine-tuning (AdamW's moments and weight
// decay cannot move them). Sources:
//   * a sparse checkpoint (tessera prune) given as model.init_from: its /masks/<name>
//     datasets, each rank reading its tensor-parallel slice; a resumed run reads them
//     again from init_from, so masks survive preemption;
//   * gradual magnitude pruning ([prune] config section), Zhu & Gupta 2017 ("To prune,
//     or not to prune"): every `frequency` steps in [start_step, end_step] each block
//     linear weight is pruned to
//       s_t = s_f + (s_i − s_f)·(1 − (t − start)/(end − start))³
//     by magnitude within the tensor (this rank's slice), masked entries staying masked.
// The mask is generic over parameters (any tensor can be masked, e.g. attention heads
// by the architecture search's head pruning writing zeros into a head's q/k/v rows and
// o_proj columns of a /masks tensor).
#pragma once
#include <mpi.h>
#include <cstdint>
#include <map>
#include <string>
#include <vector>
#include "src/config/run_config.hpp"
#include "src/model/gpt2.hpp"

namespace tessera {

class SparsityMasks {
 public:
  // Masks of `file`'s /masks group for this model's slices (inactive when it has none).
  void load(const GPT2<float>& model, const std::string& file, MPI_Comm comm);
  // Gradual pruning per cfg.prune (no-op when final_sparsity is 0). On a resumed run
  // the mask restarts from the zeros of the targeted tensors.
  void configure_gradual(const GPT2<float>& model, const PruneSection& p, bool resumed);
  // Adds full-tensor masks (1 = kept; e.g. head_masks()) by parameter name, each rank
  // taking its tensor-parallel slice; combined with the masks already held (logical and).
  // A name the model lacks is an error naming `what`. Zeroes the masked weights now.
  void add(GPT2<float>& model, const std::map<std::string, std::vector<uint8_t>>& full, const std::string& what);
  bool active() const { return active_; }
  // After the optimizer step that made `step` steps: update the schedule's masks (if
  // due) and zero every masked weight.
  void after_step(GPT2<float>& model, int64_t step);
  // Current target sparsity of the schedule at `step`.
  static double scheduled_sparsity(const PruneSection& p, int64_t step);

 private:
  void ensure(const GPT2<float>& model);
  void prune_to(GPT2<float>& model, double sparsity);
  bool active_ = false;
  PruneSection gradual_;
  View1<float> mask_;
};

}  // namespace tessera
