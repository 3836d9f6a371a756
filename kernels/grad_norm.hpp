// Global gradient norm and clipping.
// sum_of_squares = Σ g²  (accumulated in double); the caller all-reduces it across
// ranks, takes the sqrt, and passes clip_scale = min(1, max_norm/(norm+1e-6)) to AdamW.
#pragma once
#include "kernels/views.hpp"

namespace tessera {

template <class S>
double sum_of_squares(ConstView1<S> x, int64_t n);

// True when every element is finite.
template <class S>
bool all_finite(ConstView1<S> x, int64_t n);

inline double clip_scale(double norm, double max_norm) {
  if (max_norm <= 0.0 || norm <= max_norm) return 1.0;
  return max_norm / (norm + 1e-6);
}

}  // namespace tessera
