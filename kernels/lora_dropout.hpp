// Dropout on a LoRA input x [rows, cols] (row stride ld) with the mask of the
// full logical tensor [.., full_cols]: element (n, c) uses counter index
// (row0 + n)·full_cols + col0 + c, so a tensor-parallel column shard draws the
// one-rank run's mask.
// forward : out[n, c] = keep ? x[n, c]/(1-p) : 0          (out dense [rows, cols])
// backward: dx[n, c] += keep ? dout[n, c]/(1-p) : 0       (dout dense, dx stride ld)
#pragma once
#include "kernels/counter_rng.hpp"
#include "kernels/views.hpp"

namespace tessera {

struct LoraDropoutShape {
  int64_t rows = 0, cols = 0, ld = 0;
  uint64_t row0 = 0;
  int64_t full_cols = 0, col0 = 0;
};

template <class S>
void lora_dropout_forward(View1<S> out, ConstView1<S> x, const LoraDropoutShape& s, S p, RngKey key);
template <class S>
void lora_dropout_backward(View1<S> dx, ConstView1<S> dout, const LoraDropoutShape& s, S p, RngKey key);

}  // namespace tessera
