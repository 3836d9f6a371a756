// 1F1B pipeline schedule for one stage: the ordered list of forward/backward
// passes over M micro-batches. Stage s of P first runs min(P-s-1, M) warm-up
// forwards, then alternates one forward and one backward (steady state), then
// drains the remaining backwards (cool-down). At most P-s micro-batches are in
// flight on stage s, so activation memory is bounded by the pipeline depth, not M.
#pragma once
#include <algorithm>
#include <vector>

namespace tessera {

struct PipelineOp {
  enum Kind { Forward, Backward } kind;
  int micro;  // micro-batch index
};

inline std::vector<PipelineOp> one_f_one_b_schedule(int stage, int stages, int micro_batches) {
  std::vector<PipelineOp> ops;
  const int warmup = std::min(stages - stage - 1, micro_batches);
  int next_fwd = 0, next_bwd = 0;
  for (int i = 0; i < warmup; ++i) ops.push_back({PipelineOp::Forward, next_fwd++});
  while (next_fwd < micro_batches) {
    ops.push_back({PipelineOp::Forward, next_fwd++});
    ops.push_back({PipelineOp::Backward, next_bwd++});
  }
  while (next_bwd < micro_batches) ops.push_back({PipelineOp::Backward, next_bwd++});
  return ops;
}

// Most micro-batches whose activations a stage holds at once under 1F1B.
inline int max_in_flight(int stage, int stages, int micro_batches) {
  return std::max(1, std::min(stages - stage, micro_batches));
}

}  // namespace tessera
