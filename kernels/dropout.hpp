// Inverted dropout with a counter-based mask: keep_i = rng_uniform(key, index_offset+i) >= p
// forward : out = keep ? inp/(1-p) : 0       (p == 0 → plain copy)
// backward: dinp += keep ? dout/(1-p) : 0
// index_offset is the element's global index in the full logical tensor, so a
// tensor-parallel shard draws the same mask as the one-rank run.
#pragma once
#include "kernels/counter_rng.hpp"
#include "kernels/views.hpp"

namespace tessera {

template <class S>
void dropout_forward(View1<S> out, ConstView1<S> inp, int64_t n, S p, RngKey key, uint64_t index_offset = 0);

template <class S>
void dropout_backward(View1<S> dinp, ConstView1<S> dout, int64_t n, S p, RngKey key, uint64_t index_offset = 0);

}  // namespace tessera
