// y = tanh(x); dy/dx = 1 − y².
#include "kernels/tanh_activation.hpp"
#include "kernels/kernel_math.hpp"

namespace tessera {

template <class S>
void tanh_forward(View1<S> out, ConstView1<S> inp, int64_t n) {
  Kokkos::parallel_for(
      "tanh_forward", RangePolicy(0, n), KOKKOS_LAMBDA(const int64_t i) { out(i) = kmath::tanh(inp(i)); });
}

template <class S>
void tanh_backward(View1<S> dinp, ConstView1<S> out, ConstView1<S> dout, int64_t n) {
  Kokkos::parallel_for(
      "tanh_backward", RangePolicy(0, n), KOKKOS_LAMBDA(const int64_t i) {
        const S y = out(i);
        dinp(i) += dout(i) * (S(1) - y * y);
      });
}

template void tanh_forward<float>(View1<float>, ConstView1<float>, int64_t);
template void tanh_forward<double>(View1<double>, ConstView1<double>, int64_t);
template void tanh_backward<float>(View1<float>, ConstView1<float>, ConstView1<float>, int64_t);
template void tanh_backward<double>(View1<double>, ConstView1<double>, ConstView1<double>, int64_t);

}  // namespace tessera
