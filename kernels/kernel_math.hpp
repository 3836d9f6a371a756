// Device-callable math for kernel bodies: Kokkos::sqrt etc. (Kokkos >= 3.7) or
// Kokkos::Experimental::sqrt etc. (Debian's 3.4). Overloaded for float and double.
//
// fast_exp / fast_tanh: branch-free versions for the hot loops (softmax, cross-entropy,
// GELU). The float overloads are a Cephes-style expf (range reduction by ln2 +
// degree-6 polynomial, ≤ 2 ulp on [-87, 88], exact 0 below), written with plain
// arithmetic so host compilers vectorise them (libm's expf/tanhf are scalar calls
// without -ffast-math) and device compilers take them as they are. The double
// overloads forward to the library functions (the double tests compare at 1e-12).
#pragma once
#include <Kokkos_Core.hpp>
#include <cstdint>
#include <cstring>

namespace tessera::kmath {
#if KOKKOS_VERSION >= 30700
using Kokkos::cos;
using Kokkos::exp;
using Kokkos::fabs;
using Kokkos::log;
using Kokkos::sqrt;
using Kokkos::tanh;
#else
using Kokkos::Experimental::cos;
using Kokkos::Experimental::exp;
using Kokkos::Experimental::fabs;
using Kokkos::Experimental::log;
using Kokkos::Experimental::sqrt;
using Kokkos::Experimental::tanh;
#endif

KOKKOS_INLINE_FUNCTION float fast_exp(float x) {
  const float xc = x > 88.3762626647949f ? 88.3762626647949f : (x < -87.3365447504f ? -87.3365447504f : x);
  // n = round(x / ln2) via the 1.5·2^23 trick (exact for |n| < 2^22, no libm call).
  const float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500E-4f;
  p = p * r + 1.3981999507E-3f;
  p = p * r + 8.3334519073E-3f;
  p = p * r + 4.1665795894E-2f;
  p = p * r + 1.6666665459E-1f;
  p = p * r + 5.0000001201E-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (int32_t(n) + 127) << 23;  // 2^n, n in [-126, 127]
  float scale;
  memcpy(&scale, &bits, sizeof(scale));
  return x < -87.3365447504f ? 0.0f : p * scale;
}
KOKKOS_INLINE_FUNCTION double fast_exp(double x) { return exp(x); }

// tanh(u) = 1 - 2/(e^{2u} + 1): saturates to ±1 for large |u|, absolute error ~1e-7.
KOKKOS_INLINE_FUNCTION float fast_tanh(float u) { return 1.0f - 2.0f / (fast_exp(2.0f * u) + 1.0f); }
KOKKOS_INLINE_FUNCTION double fast_tanh(double u) { return tanh(u); }

// Σ_{j<n} f(j) and max_{j<n} f(j) (n ≥ 1 for the max) with kLanes independent partial results, so the
// host compiler vectorises the reduction without -ffast-math (the order of the float sum changes, not
// its accuracy class). f must be callable in a kernel body.
constexpr int kLanes = 16;

template <class S, class F>
KOKKOS_INLINE_FUNCTION S lane_sum(int64_t n, const F& f) {
  S acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int k = 0; k < kLanes; ++k) acc[k] += f(j + k);
  S total = 0;
  for (; j < n; ++j) total += f(j);
  for (int k = 0; k < kLanes; ++k) total += acc[k];
  return total;
}

template <class S, class F>
KOKKOS_INLINE_FUNCTION S lane_max(int64_t n, const F& f) {
  S mx = f(0);
  if (n >= kLanes) {
    S acc[kLanes];
    for (int k = 0; k < kLanes; ++k) acc[k] = f(k);
    int64_t j = kLanes;
    for (; j + kLanes <= n; j += kLanes)
      for (int k = 0; k < kLanes; ++k) {
        const S x = f(j + k);
        acc[k] = x > acc[k] ? x : acc[k];
      }
    for (; j < n; ++j) mx = f(j) > mx ? f(j) : mx;
    for (int k = 0; k < kLanes; ++k) mx = acc[k] > mx ? acc[k] : mx;
  } else {
    for (int64_t j = 1; j < n; ++j) mx = f(j) > mx ? f(j) : mx;
  }
  return mx;
}

}  // namespace tessera::kmath
