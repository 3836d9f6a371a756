// Counter-based random numbers: a pure function of (seed, step, layer, site, index),
// so results never depend on thread count, rank count or call order.
#pragma once
#include <cstdint>
#include <Kokkos_Core.hpp>
#include "kernels/kernel_math.hpp"

namespace tessera {

struct RngKey {
  uint64_t seed = 0;
  uint64_t step = 0;
  uint32_t layer = 0;
  uint32_t site = 0;  // which dropout site / which parameter
};

// 64-bit mix of the key and a counter (splitmix64 finaliser over a combined state).
KOKKOS_INLINE_FUNCTION uint64_t splitmix64_finalize(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Key fields and index enter with distinct odd multipliers; two finaliser rounds
// after each stage (key, then key + index) decorrelate neighbouring counters/keys.
KOKKOS_INLINE_FUNCTION uint64_t rng_bits(const RngKey& k, uint64_t index) {
  const uint64_t layer_site = (uint64_t(k.layer) << 32) | uint64_t(k.site);
  uint64_t h = k.seed * 0x9e3779b97f4a7c15ULL + k.step * 0xd1b54a32d192ed03ULL + layer_site * 0xaef17502108ef2d9ULL;
  h = splitmix64_finalize(splitmix64_finalize(h));
  h += index * 0xf1357aea2e62a9c5ULL + 0x632be59bd9b4e019ULL;
  return splitmix64_finalize(splitmix64_finalize(h));
}

// Uniform in [0,1) with 53 (double) / 24 (float) bits.
KOKKOS_INLINE_FUNCTION double rng_uniform(const RngKey& k, uint64_t index) {
  return double(rng_bits(k, index) >> 11) * 0x1.0p-53;  // top 53 bits
}

// Standard normal via Box-Muller on two uniforms of the counter pair (2·index, 2·index+1).
KOKKOS_INLINE_FUNCTION double rng_normal(const RngKey& k, uint64_t index) {
  const double u1 = 1.0 - rng_uniform(k, 2 * index);  // in (0,1]: log never sees 0
  const double u2 = rng_uniform(k, 2 * index + 1);
  return kmath::sqrt(-2.0 * kmath::log(u1)) * kmath::cos(6.283185307179586 * u2);
}

}  // namespace tessera
