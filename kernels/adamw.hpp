// AdamW with decoupled weight decay and bias correction (Loshchilov & Hutter).
// g = grad·grad_scale; m = β1 m + (1-β1) g; v = β2 v + (1-β2) g²
// p -= lr · ( (m/(1-β1^t)) / (√(v/(1-β2^t)) + eps) + weight_decay · p )
// Callers pass weight_decay = 0 for biases and norm weights.
#pragma once
#include <cstdint>
#include "kernels/views.hpp"

namespace tessera {

struct AdamWStep {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  int64_t t = 1;            // 1-based step count for bias correction
  double grad_scale = 1.0;  // clipping multiplier
};

template <class S>
void adamw_update(View1<S> params, ConstView1<S> grads, View1<S> m, View1<S> v, int64_t n, const AdamWStep& h);

}  // namespace tessera
