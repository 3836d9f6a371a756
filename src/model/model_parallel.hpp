// Where a model replica sits in the process grid, as the model needs it: its
// tensor-parallel slice (and the communicator that hides TP collectives inside
// the parallel layers), its pipeline stage (which blocks it holds), and its
// data-parallel rank (so dropout masks follow global sample indices).
#pragma once
#include <cstdint>
#include <utility>

namespace tessera {

class Communicator;

struct ModelParallel {
  int tp_rank = 0, tp_size = 1;
  int pp_rank = 0, pp_size = 1;
  int dp_rank = 0, dp_size = 1;
  Communicator* tp = nullptr;  // required when tp_size > 1
};

// [begin, end) of part idx when n items are split into `parts` as evenly as
// possible (the first n % parts parts get one more).
inline std::pair<int64_t, int64_t> balanced_range(int64_t n, int parts, int idx) {
  const int64_t base = n / parts, extra = n % parts;
  const int64_t begin = idx * base + std::min<int64_t>(idx, extra);
  return {begin, begin + base + (idx < extra ? 1 : 0)};
}

}  // namespace tessera
