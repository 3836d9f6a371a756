// Data-parallel gradient reduction and the grid-invariant global gradient norm.
//
// Gradients live in one contiguous slab (ParameterSet::grads()), in parameter
// registration order; a bucket is a contiguous range of whole trainable parameters
// of about bucket_bytes (frozen parameters have no gradient and are skipped). During the backward of the last micro-batch the model reports
// ranges whose gradients are final (on_grads_ready); as soon as a bucket is
// complete its averaging all-reduce over the data-parallel axis starts
// (non-blocking). finish() waits for all buckets, then sums the tied embedding's
// gradient between the first and last pipeline stage.
//
// With ZeRO-1 the synchronizer does no all-reduce: the optimizer reduce-scatters
// (see zero_adamw.hpp) after finish() has done the cross-stage embedding sum.
#pragma once
#include <memory>
#include <vector>
#include "src/parallel/process_grid.hpp"
#include "src/tensor/parameter_set.hpp"

namespace tessera {

class GradientSynchronizer {
 public:
  GradientSynchronizer(ParameterSet<float>& params, ProcessGrid& grid, bool zero1, size_t bucket_bytes = 25u << 20);

  // Call before the backward of the last micro-batch of a step.
  void begin_step();
  // Parameters [first, last) have final gradients on this rank.
  void on_grads_ready(size_t first, size_t last);
  // Waits for every bucket (launching any not yet launched), averages over dp,
  // sums the tp-partial gradients of LoRA's replicated factors over tp (one small
  // all-reduce per tensor and step) and all-reduces the tied embedding gradient
  // across first/last stage.
  void finish();

  // Σ g² over the whole model, counting every logical element exactly once:
  // TP-replicated tensors on tp rank 0 only, the last stage's copy of the tied
  // embedding not at all; summed over tp and pp (and dp when the gradients are
  // sharded, i.e. pass sharded_range for ZeRO-1 chunks).
  double global_sum_of_squares();
  // ZeRO-1 variant: squares of the elements [begin, end) of the slab (this rank's
  // reduced chunk, in the kernels' memory space), with the same ownership rules, summed over tp, pp and dp.
  double global_sum_of_squares_sharded(const float* chunk, size_t begin, size_t end);

  size_t num_buckets() const { return buckets_.size(); }

 private:
  struct Bucket {
    size_t first_param, last_param;  // [first, last) (frozen ones inside are not members)
    size_t offset, count;            // slab range
    size_t members = 0;              // trainable parameters in the bucket
    size_t ready = 0;                // parameters reported ready this step
    std::unique_ptr<PendingOp> op;
    bool launched = false;
  };
  bool counts_for_norm(const ParamInfo& info) const;
  void launch(Bucket& b);

  ParameterSet<float>& params_;
  ProcessGrid& grid_;
  bool zero1_;
  std::vector<Bucket> buckets_;
  static constexpr size_t kNoBucket = size_t(-1);
  std::vector<size_t> bucket_of_param_;  // kNoBucket for frozen parameters
};

}  // namespace tessera
