// Softmax + cross-entropy over N rows of V logits, fused: no second logits-sized buffer.
// forward : lse[i] = log Σ_j exp(logits[i,j]);  loss[i] = lse[i] - logits[i,t_i]
//           rows with t_i == ignore_index get loss 0 (the caller averages over valid rows)
// backward: in place, logits[i,j] ← dloss · (exp(logits[i,j] - lse[i]) - [j == t_i]),
//           ignored rows ← 0.
#pragma once
#include "kernels/views.hpp"

namespace tessera {

template <class S>
void cross_entropy_forward(View1<S> losses, View1<S> lse, ConstView1<S> logits, ConstView1<int32_t> targets,
                           int64_t N, int64_t V, int32_t ignore_index);

template <class S>
void cross_entropy_backward_inplace(View1<S> logits, ConstView1<S> lse, ConstView1<int32_t> targets, int64_t N,
                                    int64_t V, S dloss, int32_t ignore_index);

// Number of rows whose target is not ignore_index.
int64_t count_valid_targets(ConstView1<int32_t> targets, int64_t N, int32_t ignore_index);

}  // namespace tessera
