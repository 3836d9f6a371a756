// Extractive-QA logits: the qa_outputs layer gives [N,2] (start, end) per token;
// the span loss reads them as two [B,T] rows of logits over positions.
// forward : start[n] = logits[n,0]; end[n] = logits[n,1]
// backward: dlogits[n,0] += dstart[n]; dlogits[n,1] += dend[n]
#pragma once
#include "kernels/views.hpp"

namespace tessera {

template <class S>
void span_logits_split(View1<S> start, View1<S> end, ConstView1<S> logits, int64_t N);

template <class S>
void span_logits_merge_grad(View1<S> dlogits, ConstView1<S> dstart, ConstView1<S> dend, int64_t N);

}  // namespace tessera
