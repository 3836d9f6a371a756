// Attention-head gates (see head_gate.hpp).
#include "kernels/head_gate.hpp"

namespace tessera {

template <class S>
void head_gate_forward(View1<S> out, ConstView1<S> ctx, ConstView1<S> gate, int64_t N, int NH, int hd) {
  const int64_t W = int64_t(NH) * hd;
  Kokkos::parallel_for(
      "head_gate_forward", RangePolicy(0, N * W), KOKKOS_LAMBDA(const int64_t i) {
        out(i) = gate((i % W) / hd) * ctx(i);
      });
}

template <class S>
void head_gate_backward(View1<S> d, View1<S> dgate, ConstView1<S> ctx, ConstView1<S> gate, int64_t N, int NH,
                        int hd) {
  const int64_t W = int64_t(NH) * hd;
  if (dgate.extent(0) > 0) {
    for (int h = 0; h < NH; ++h) {  // one reduction per head (NH is small)
      S sum = 0;
      const int64_t c0 = int64_t(h) * hd;
      Kokkos::parallel_reduce(
          "head_gate_grad", RangePolicy(0, N * hd),
          KOKKOS_LAMBDA(const int64_t k, S& acc) {
            const int64_t i = (k / hd) * W + c0 + k % hd;
            acc += d(i) * ctx(i);
          },
          sum);
      Kokkos::parallel_for(
          "head_gate_grad_add", RangePolicy(0, 1), KOKKOS_LAMBDA(const int64_t) { dgate(h) += sum; });
    }
  }
  Kokkos::parallel_for(
      "head_gate_backward", RangePolicy(0, N * W), KOKKOS_LAMBDA(const int64_t i) { d(i) *= gate((i % W) / hd); });
}

template void head_gate_forward<float>(View1<float>, ConstView1<float>, ConstView1<float>, int64_t, int, int);
template void head_gate_forward<double>(View1<double>, ConstView1<double>, ConstView1<double>, int64_t, int, int);
template void head_gate_backward<float>(View1<float>, View1<float>, ConstView1<float>, ConstView1<float>, int64_t, int,
                                        int);
template void head_gate_backward<double>(View1<double>, View1<double>, ConstView1<double>, ConstView1<double>, int64_t,
                                         int, int);

}  // namespace tessera
