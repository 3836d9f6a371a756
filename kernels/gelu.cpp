// GELU (tanh form): y = ½x(1+tanh(u)), u = √(2/π)(x+0.044715x³); dy/dx = ½(1+tanh u) + ½x·sech²u·u'.
// GELU (erf form): y = ½x(1+erf(x/√2)); dy/dx = ½(1+erf(x/√2)) + x·e^{−x²/2}/√(2π).
#include "kernels/gelu.hpp"
#include "kernels/kernel_math.hpp"

namespace tessera {

namespace {
#if KOKKOS_VERSION >= 30700
using Kokkos::erf;
#else
using Kokkos::Experimental::erf;
#endif
}  // namespace

// √(2/π) and the cubic coefficient, as macros so device code needs no host constants.
#define TESSERA_GELU_SCALE 0.7978845608028654
#define TESSERA_GELU_CUBIC 0.044715

template <class S>
void gelu_forward(View1<S> out, ConstView1<S> inp, int64_t n) {
  Kokkos::parallel_for(
      "gelu_forward", RangePolicy(0, n), KOKKOS_LAMBDA(const int64_t i) {
        const S x = inp(i);
        const S u = S(TESSERA_GELU_SCALE) * (x + S(TESSERA_GELU_CUBIC) * x * x * x);
        out(i) = S(0.5) * x * (S(1) + kmath::fast_tanh(u));
      });
}

template <class S>
void gelu_backward(View1<S> dinp, ConstView1<S> inp, ConstView1<S> dout, int64_t n) {
  Kokkos::parallel_for(
      "gelu_backward", RangePolicy(0, n), KOKKOS_LAMBDA(const int64_t i) {
        const S x = inp(i);
        const S u = S(TESSERA_GELU_SCALE) * (x + S(TESSERA_GELU_CUBIC) * x * x * x);
        const S th = kmath::fast_tanh(u);
        const S du = S(TESSERA_GELU_SCALE) * (S(1) + S(3 * TESSERA_GELU_CUBIC) * x * x);
        dinp(i) += dout(i) * (S(0.5) * (S(1) + th) + S(0.5) * x * (S(1) - th * th) * du);
      });
}

// 1/√2 and 1/√(2π).
#define TESSERA_GELU_RSQRT2 0.7071067811865476
#define TESSERA_GELU_RSQRT2PI 0.3989422804014327

template <class S>
void gelu_erf_forward(View1<S> out, ConstView1<S> inp, int64_t n) {
  Kokkos::parallel_for(
      "gelu_erf_forward", RangePolicy(0, n), KOKKOS_LAMBDA(const int64_t i) {
        const S x = inp(i);
        out(i) = S(0.5) * x * (S(1) + erf(x * S(TESSERA_GELU_RSQRT2)));
      });
}

template <class S>
void gelu_erf_backward(View1<S> dinp, ConstView1<S> inp, ConstView1<S> dout, int64_t n) {
  Kokkos::parallel_for(
      "gelu_erf_backward", RangePolicy(0, n), KOKKOS_LAMBDA(const int64_t i) {
        const S x = inp(i);
        const S cdf = S(0.5) * (S(1) + erf(x * S(TESSERA_GELU_RSQRT2)));
        const S pdf = S(TESSERA_GELU_RSQRT2PI) * kmath::exp(S(-0.5) * x * x);
        dinp(i) += dout(i) * (cdf + x * pdf);
      });
}

template void gelu_forward<float>(View1<float>, ConstView1<float>, int64_t);
template void gelu_forward<double>(View1<double>, ConstView1<double>, int64_t);
template void gelu_backward<float>(View1<float>, ConstView1<float>, ConstView1<float>, int64_t);
template void gelu_backward<double>(View1<double>, ConstView1<double>, ConstView1<double>, int64_t);
template void gelu_erf_forward<float>(View1<float>, ConstView1<float>, int64_t);
template void gelu_erf_forward<double>(View1<double>, ConstView1<double>, int64_t);
template void gelu_erf_backward<float>(View1<float>, ConstView1<float>, ConstView1<float>, int64_t);
template void gelu_erf_backward<double>(View1<double>, ConstView1<double>, ConstView1<double>, int64_t);

}  // namespace tessera
