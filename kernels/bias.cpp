// out[n,o] += bias[o];  dbias[o] += Σ_n dout[n,o] (one thread per o, loop over rows).
#include "kernels/bias.hpp"

namespace tessera {

template <class S>
void bias_add_forward(View1<S> out, ConstView1<S> bias, int64_t N, int64_t OC) {
  Kokkos::parallel_for(
      "bias_add_forward", RangePolicy(0, N * OC), KOKKOS_LAMBDA(const int64_t i) { out(i) += bias(i % OC); });
}

template <class S>
void bias_backward(View1<S> dbias, ConstView1<S> dout, int64_t N, int64_t OC) {
  Kokkos::parallel_for(
      "bias_backward", RangePolicy(0, OC), KOKKOS_LAMBDA(const int64_t o) {
        S acc = 0;
        for (int64_t n = 0; n < N; ++n) acc += dout(n * OC + o);
        dbias(o) += acc;
      });
}

template void bias_add_forward<float>(View1<float>, ConstView1<float>, int64_t, int64_t);
template void bias_add_forward<double>(View1<double>, ConstView1<double>, int64_t, int64_t);
template void bias_backward<float>(View1<float>, ConstView1<float>, int64_t, int64_t);
template void bias_backward<double>(View1<double>, ConstView1<double>, int64_t, int64_t);

}  // namespace tessera
