// Counter-based random numbers: a pure function of (seed, step, layer, site, index),
// so results never depend on thread count, rank count or call order.
#pragma once
#include <cstdint>
#include <Kokkos_Core.hpp>

namespace tessera {

struct RngKey {
  uint64_t seed = 0;
  uint64_t step = 0;
  uint32_t layer = 0;
  uint32_t site = 0;  // which dropout site / which parameter
};

// 64-bit mix of the key and a counter (splitmix64 finaliser over a combined state).
KOKKOS_INLINE_FUNCTION uint64_t rng_bits(const RngKey& k, uint64_t index);

// Uniform in [0,1) with 53 (double) / 24 (float) bits.
KOKKOS_INLINE_FUNCTION double rng_uniform(const RngKey& k, uint64_t index);

// Standard normal via Box-Muller on two uniforms of the counter pair (2·index, 2·index+1).
KOKKOS_INLINE_FUNCTION double rng_normal(const RngKey& k, uint64_t index);

}  // namespace tessera
