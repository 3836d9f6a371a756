// IEEE half bits → float and little-endian byte loads, usable inside Kokkos kernels
// (ggml block scales are halves; see io/dequantize.hpp for the host versions).
#pragma once
#include <cstdint>
#include <Kokkos_Core.hpp>

namespace tessera {
namespace kdq {

// Union punning: defined for GCC, clang and nvcc, and usable in device code without memcpy.
KOKKOS_INLINE_FUNCTION float bits_to_float(uint32_t u) {
  union {
    uint32_t u;
    float f;
  } c;
  c.u = u;
  return c.f;
}
KOKKOS_INLINE_FUNCTION float half_to_float(uint32_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu;
  const uint32_t m = h & 0x3ffu;
  if (e == 0) {
    const float v = float(m) * 5.9604644775390625e-08f;  // m · 2^-24
    return sign ? -v : v;
  }
  if (e == 31) return bits_to_float(sign | 0x7f800000u | (m << 13));
  return bits_to_float(sign | ((e + 112u) << 23) | (m << 13));
}
template <class V>
KOKKOS_INLINE_FUNCTION uint32_t ld16(const V& r, int64_t i) {
  return uint32_t(r(i)) | (uint32_t(r(i + 1)) << 8);
}
template <class V>
KOKKOS_INLINE_FUNCTION uint32_t ld32(const V& r, int64_t i) {
  return ld16(r, i) | (ld16(r, i + 2) << 16);
}

}  // namespace kdq
}  // namespace tessera
