// ZeRO-1: AdamW with its moments sharded over the data-parallel axis.
// The gradient slab (padded to dp·chunk) is reduce-scattered (summed, then ÷dp),
// so rank r holds the averaged gradients of slab elements [r·chunk, (r+1)·chunk);
// it updates those parameters with its shard of m and v (weight decay per the
// tensor each element belongs to), then the parameters are all-gathered.
// Optimizer memory per rank is 2·chunk ≈ 2·params/dp. Only the trainable part of
// the slab is sharded (frozen tensors are replicated values without state).
#pragma once
#include <vector>
#include "src/parallel/process_grid.hpp"
#include "src/tensor/parameter_set.hpp"
#include "src/train/adamw_optimizer.hpp"

namespace tessera {

class ZeroAdamW {
 public:
  ZeroAdamW(ParameterSet<float>& params, ProcessGrid& grid, const AdamWSettings& s);

  // Reduce-scatter of the gradient slab over dp (call after GradientSynchronizer::finish()).
  void reduce_gradients();
  // This rank's averaged gradient chunk and its slab range.
  const float* grad_chunk() const { return params_.grads().data() + begin_; }
  size_t chunk_begin() const { return begin_; }
  size_t chunk_end() const { return end_; }

  // AdamW on this rank's chunk, then all-gather of the parameters.
  void step(double lr, double grad_scale);

  int64_t steps_taken() const { return t_; }
  void set_steps_taken(int64_t t) { t_ = t; }
  // Moments of the whole trainable slab for checkpoints (all-gathered over dp) and back.
  void gather_moments(View1<float> m_full, View1<float> v_full);
  void scatter_moments(const View1<float>& m_full, const View1<float>& v_full);
  size_t state_bytes() const { return 2 * m_.extent(0) * sizeof(float); }

 private:
  struct Run {
    size_t offset, numel;  // within the chunk
    bool decay;
  };
  ParameterSet<float>& params_;
  ProcessGrid& grid_;
  AdamWSettings settings_;
  size_t chunk_ = 0, begin_ = 0, end_ = 0;
  View1<float> m_, v_;
  std::vector<Run> runs_;
  int64_t t_ = 0;
};

}  // namespace tessera
