// out[n,o] += bias[o]: one thread per row, contiguous inner loop (no per-element modulo).
// dbias[o] += Σ_n dout[n,o]: one thread per block of kColBlock columns walking the rows, so each
// thread owns its outputs (race-free) and reads whole cache lines; the fixed-width inner loop vectorises.
#include "kernels/bias.hpp"

namespace tessera {

namespace {
constexpr int64_t kColBlock = 16;
}

template <class S>
void bias_add_forward(View1<S> out, ConstView1<S> bias, int64_t N, int64_t OC, int64_t ld) {
  const int64_t LD = ld > 0 ? ld : OC;
  Kokkos::parallel_for(
      "bias_add_forward", RangePolicy(0, N), KOKKOS_LAMBDA(const int64_t n) {
        S* row = out.data() + n * LD;
        const S* b = bias.data();
        for (int64_t o = 0; o < OC; ++o) row[o] += b[o];
      });
}

template <class S>
void bias_backward(View1<S> dbias, ConstView1<S> dout, int64_t N, int64_t OC, int64_t ld) {
  const int64_t LD = ld > 0 ? ld : OC;
  const int64_t nblocks = (OC + kColBlock - 1) / kColBlock;
  Kokkos::parallel_for(
      "bias_backward", RangePolicy(0, nblocks), KOKKOS_LAMBDA(const int64_t blk) {
        const int64_t o0 = blk * kColBlock;
        const S* d = dout.data();
        if (o0 + kColBlock <= OC) {
          S acc[kColBlock] = {};
          for (int64_t n = 0; n < N; ++n)
            for (int64_t k = 0; k < kColBlock; ++k) acc[k] += d[n * LD + o0 + k];
          for (int64_t k = 0; k < kColBlock; ++k) dbias(o0 + k) += acc[k];
        } else {
          for (int64_t o = o0; o < OC; ++o) {
            S acc = 0;
            for (int64_t n = 0; n < N; ++n) acc += d[n * LD + o];
            dbias(o) += acc;
          }
        }
      });
}

template void bias_add_forward<float>(View1<float>, ConstView1<float>, int64_t, int64_t, int64_t);
template void bias_add_forward<double>(View1<double>, ConstView1<double>, int64_t, int64_t, int64_t);
template void bias_backward<float>(View1<float>, ConstView1<float>, int64_t, int64_t, int64_t);
template void bias_backward<double>(View1<double>, ConstView1<double>, int64_t, int64_t, int64_t);

}  // namespace tessera
