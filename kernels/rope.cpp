// RoPE: one thread per (row, q/k head, pair i < hd/2) rotates (x[i], x[i+hd/2]) by ±a; angles in double.
#include "kernels/rope.hpp"

namespace tessera {

namespace {
#if KOKKOS_VERSION >= 30700
using Kokkos::cos;
using Kokkos::pow;
using Kokkos::sin;
#else
using Kokkos::Experimental::cos;
using Kokkos::Experimental::pow;
using Kokkos::Experimental::sin;
#endif

// sign = +1 rotates by a (forward), −1 by −a (backward).
template <class S>
void rope_rotate(View1<S> x, int64_t N, int T, int64_t pos_offset, int NH, int NKV, int hd, double theta,
                 double sign, const char* label) {
  const int half = hd / 2, heads = NH + NKV;
  const int64_t W = int64_t(NH + 2 * NKV) * hd;
  Kokkos::parallel_for(
      label, RangePolicy(0, N * heads * half), KOKKOS_LAMBDA(const int64_t idx) {
        const int i = int(idx % half);
        const int64_t nh = idx / half;
        const int h = int(nh % heads);
        const int64_t n = nh / heads;
        const double p = double(pos_offset + n % T);
        const double a = p * pow(theta, -2.0 * double(i) / double(hd));
        const double c = cos(a), s = sign * sin(a);
        S* row = x.data() + n * W + int64_t(h) * hd;  // k heads follow the q heads directly
        const double x1 = double(row[i]), x2 = double(row[i + half]);
        row[i] = S(x1 * c - x2 * s);
        row[i + half] = S(x2 * c + x1 * s);
      });
}
}  // namespace

template <class S>
void rope_forward(View1<S> qkv, int64_t N, int T, int64_t pos_offset, int NH, int NKV, int hd, double theta) {
  rope_rotate<S>(qkv, N, T, pos_offset, NH, NKV, hd, theta, 1.0, "rope_forward");
}

template <class S>
void rope_backward(View1<S> dqkv, int64_t N, int T, int64_t pos_offset, int NH, int NKV, int hd, double theta) {
  rope_rotate<S>(dqkv, N, T, pos_offset, NH, NKV, hd, theta, -1.0, "rope_backward");
}

#define TESSERA_INSTANTIATE(S)                                                                      \
  template void rope_forward<S>(View1<S>, int64_t, int, int64_t, int, int, int, double);          \
  template void rope_backward<S>(View1<S>, int64_t, int, int64_t, int, int, int, double);
TESSERA_INSTANTIATE(float)
TESSERA_INSTANTIATE(double)

}  // namespace tessera
