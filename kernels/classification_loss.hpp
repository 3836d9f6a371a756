// Weighted, label-smoothed softmax cross-entropy over N rows of K logits (PyTorch CrossEntropyLoss(weight,
// label_smoothing, ignore_index, reduction='mean')). −log p_ij = lse_i − x_ij, lse_i = log Σ_j exp x_ij:
// forward : l_i = (1−ε)·w[y_i]·(lse_i − x_{i,y_i}) + (ε/K)·Σ_j w_j·(lse_i − x_ij);  loss = Σ_i l_i / Σ_i w[y_i]
// backward: dx_ij += g·(((1−ε)·w[y_i] + (ε/K)·W)·p_ij − (ε/K)·w_j − (1−ε)·w[y_i]·[j = y_i]),  W = Σ_j w_j,
//           g = dloss / Σ_i w[y_i] (passed by the caller as dloss_over_weight_sum)
// Sums over i skip rows with y_i == ignore_index (their lse is still written; they get no gradient).
// An empty class_weights View means w ≡ 1 (then the denominator is the number of non-ignored rows).
// Differences from PyTorch, on purpose: a batch whose denominator Σ_i w[y_i] is 0 (every row ignored, or
// every present class weighted 0) returns loss 0 and weight_sum 0 instead of NaN, and the caller passes
// g = 0 for it; a target outside [0, K) that is not ignore_index throws tessera::Error naming the row.
#pragma once
#include "kernels/views.hpp"

namespace tessera {

// Returns the mean loss; fills lse[N]; *weight_sum_out (when non-null) receives Σ_i w[y_i] over
// non-ignored rows (the denominator, for the backward's g and for gradient accumulation across micro-batches).
template <class S>
S classification_loss_forward(View1<S> lse, ConstView1<S> logits, ConstView1<int32_t> targets,
                              ConstView1<S> class_weights, int64_t N, int K, S label_smoothing,
                              int32_t ignore_index, S* weight_sum_out);

// Accumulates (+=) into dlogits[N·K] the gradient of loss·dloss, given g = dloss / weight_sum.
template <class S>
void classification_loss_backward(View1<S> dlogits, ConstView1<S> logits, ConstView1<S> lse,
                                  ConstView1<int32_t> targets, ConstView1<S> class_weights, int64_t N, int K,
                                  S label_smoothing, int32_t ignore_index, S dloss_over_weight_sum);

}  // namespace tessera
