// SwiGLU: one thread per output element (n, f); gate at column f, up at column F + f of row n.
#include "kernels/swiglu.hpp"
#include "kernels/kernel_math.hpp"

namespace tessera {

template <class S>
void swiglu_forward(View1<S> out, ConstView1<S> gate_up, int64_t N, int64_t F) {
  Kokkos::parallel_for(
      "swiglu_forward", RangePolicy(0, N * F), KOKKOS_LAMBDA(const int64_t i) {
        const int64_t n = i / F, f = i % F;
        const S g = gate_up(n * 2 * F + f), u = gate_up(n * 2 * F + F + f);
        const S sig = S(1) / (S(1) + kmath::fast_exp(-g));
        out(i) = g * sig * u;
      });
}

template <class S>
void swiglu_backward(View1<S> dgate_up, ConstView1<S> gate_up, ConstView1<S> dout, int64_t N, int64_t F) {
  Kokkos::parallel_for(
      "swiglu_backward", RangePolicy(0, N * F), KOKKOS_LAMBDA(const int64_t i) {
        const int64_t n = i / F, f = i % F, gi = n * 2 * F + f, ui = gi + F;
        const S g = gate_up(gi), u = gate_up(ui), d = dout(i);
        const S sig = S(1) / (S(1) + kmath::fast_exp(-g));
        dgate_up(gi) += d * u * sig * (S(1) + g * (S(1) - sig));
        dgate_up(ui) += d * g * sig;
      });
}

#define TESSERA_INSTANTIATE(S)                                                                  \
  template void swiglu_forward<S>(View1<S>, ConstView1<S>, int64_t, int64_t);                  \
  template void swiglu_backward<S>(View1<S>, ConstView1<S>, ConstView1<S>, int64_t, int64_t);
TESSERA_INSTANTIATE(float)
TESSERA_INSTANTIATE(double)

}  // namespace tessera
