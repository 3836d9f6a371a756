// out = a + b;  dst += src;  x *= factor.
#include "kernels/residual.hpp"

namespace tessera {

template <class S>
void residual_forward(View1<S> out, ConstView1<S> a, ConstView1<S> b, int64_t n) {
  Kokkos::parallel_for(
      "residual_forward", RangePolicy(0, n), KOKKOS_LAMBDA(const int64_t i) { out(i) = a(i) + b(i); });
}

template <class S>
void accumulate(View1<S> dst, ConstView1<S> src, int64_t n) {
  Kokkos::parallel_for(
      "accumulate", RangePolicy(0, n), KOKKOS_LAMBDA(const int64_t i) { dst(i) += src(i); });
}

template <class S>
void scale_inplace(View1<S> x, int64_t n, S factor) {
  Kokkos::parallel_for(
      "scale_inplace", RangePolicy(0, n), KOKKOS_LAMBDA(const int64_t i) { x(i) *= factor; });
}

template void residual_forward<float>(View1<float>, ConstView1<float>, ConstView1<float>, int64_t);
template void residual_forward<double>(View1<double>, ConstView1<double>, ConstView1<double>, int64_t);
template void accumulate<float>(View1<float>, ConstView1<float>, int64_t);
template void accumulate<double>(View1<double>, ConstView1<double>, int64_t);
template void scale_inplace<float>(View1<float>, int64_t, float);
template void scale_inplace<double>(View1<double>, int64_t, double);

}  // namespace tessera
