// Runs the micro-batches of one optimizer step through this rank's pipeline stage
// in 1F1B order, exchanging activations (forward) and their gradients (backward)
// with the neighbouring stages by non-blocking point-to-point messages. With one
// stage it is plain gradient accumulation. The model's parallel layers hide the
// tensor-parallel collectives; the data-parallel reduction is started from the
// last micro-batch's backward through the gradients-ready hook.
#pragma once
#include <functional>
#include <memory>
#include <vector>
#include "src/model/gpt2.hpp"
#include "src/train/batch_source.hpp"
#include "src/parallel/process_grid.hpp"

namespace tessera {

class PipelineRunner {
 public:
  PipelineRunner(GPT2<float>& model, ProcessGrid& grid, int micro_batch, int seq_len, int micro_batches);

  // fetch(m, batch) fills micro-batch m; it is called on every rank, in
  // increasing m, so data-loader positions stay identical.
  using Fetch = std::function<void(int micro, MicroBatch& batch)>;

  // Forward + backward of all micro-batches; gradients accumulate in the model.
  // on_last_backward runs just before the backward of the last micro-batch
  // (to arm gradient-bucket reductions). Returns the mean loss over micro-batches
  // on the last stage (0 elsewhere).
  double train_step(const Fetch& fetch, uint64_t seed, uint64_t first_dropout_step,
                    const std::function<void()>& on_last_backward);

  // Seconds spent in the last train_step: reading data, forward and backward passes
  // (pipeline receives included: they are waits for the neighbouring stage).
  struct Times {
    double data = 0, forward = 0, backward = 0;
  };
  const Times& last_times() const { return times_; }

  // Forward only (no dropout), one micro-batch: the last stage's loss (0 elsewhere).
  double eval_batch(const MicroBatch& batch);
  double eval_batch(const int32_t* tokens, const int32_t* targets);

 private:
  View1<float> recv_buffer(std::vector<View1<float>>& pool, int slot);
  void wait_sends(int slot);

  GPT2<float>& model_;
  ProcessGrid& grid_;
  int B_, T_, M_, slots_;
  size_t hidden_;  // B·T·C
  std::vector<View1<float>> act_in_, grad_in_;
  std::vector<std::vector<std::unique_ptr<PendingOp>>> sends_;  // per slot
  MicroBatch batch_;
  Times times_;
};

}  // namespace tessera
