// Vocab-parallel softmax + cross-entropy: this rank holds columns
// [vocab_start, vocab_start+V) of the logits. The caller all-reduces the partials
// (max with MAX, then sum-exp and target logit with SUM) over the tensor-parallel
// ranks; the full logits are never gathered.
//   row_max[i]   = max_j logits[i,j]                       (local; all-reduce MAX)
//   row_sumexp[i]= Σ_j exp(logits[i,j] - row_max[i])        (global max; all-reduce SUM)
//   target[i]    = logits[i, t_i - vocab_start] if t_i is local, else 0  (all-reduce SUM)
//   lse = row_max + log(row_sumexp); loss = lse - target (0 for ignore_index)
// backward (in place): logits[i,j] ← dloss·(exp(logits[i,j] - lse[i]) - [j+vocab_start == t_i])
#pragma once
#include "kernels/views.hpp"

namespace tessera {

template <class S>
void cross_entropy_row_max(View1<S> row_max, ConstView1<S> logits, int64_t N, int64_t V);

template <class S>
void cross_entropy_row_sumexp(View1<S> row_sumexp, ConstView1<S> logits, ConstView1<S> row_max, int64_t N, int64_t V);

template <class S>
void cross_entropy_target_logit(View1<S> target, ConstView1<S> logits, ConstView1<int32_t> targets, int64_t N,
                                int64_t V, int64_t vocab_start, int32_t ignore_index);

template <class S>
void cross_entropy_finish(View1<S> losses, View1<S> lse, ConstView1<S> row_max, ConstView1<S> row_sumexp,
                          ConstView1<S> target, ConstView1<int32_t> targets, int64_t N, int32_t ignore_index);

template <class S>
void cross_entropy_backward_inplace_shard(View1<S> logits, ConstView1<S> lse, ConstView1<int32_t> targets, int64_t N,
                                          int64_t V, int64_t vocab_start, S dloss, int32_t ignore_index);

}  // namespace tessera
