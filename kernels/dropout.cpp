// Inverted dropout: keep_i = rng_uniform(key, index_offset+i) >= p; out = keep ? inp/(1-p) : 0.
#include "kernels/dropout.hpp"

namespace tessera {

template <class S>
void dropout_forward(View1<S> out, ConstView1<S> inp, int64_t n, S p, RngKey key, uint64_t index_offset) {
  const S keep_scale = p > S(0) ? S(1) / (S(1) - p) : S(1);
  const double pd = double(p);
  Kokkos::parallel_for(
      "dropout_forward", RangePolicy(0, n), KOKKOS_LAMBDA(const int64_t i) {
        const bool keep = pd <= 0.0 || rng_uniform(key, index_offset + uint64_t(i)) >= pd;
        out(i) = keep ? inp(i) * keep_scale : S(0);
      });
}

template <class S>
void dropout_backward(View1<S> dinp, ConstView1<S> dout, int64_t n, S p, RngKey key, uint64_t index_offset) {
  const S keep_scale = p > S(0) ? S(1) / (S(1) - p) : S(1);
  const double pd = double(p);
  Kokkos::parallel_for(
      "dropout_backward", RangePolicy(0, n), KOKKOS_LAMBDA(const int64_t i) {
        const bool keep = pd <= 0.0 || rng_uniform(key, index_offset + uint64_t(i)) >= pd;
        if (keep) dinp(i) += dout(i) * keep_scale;
      });
}

template void dropout_forward<float>(View1<float>, ConstView1<float>, int64_t, float, RngKey, uint64_t);
template void dropout_forward<double>(View1<double>, ConstView1<double>, int64_t, double, RngKey, uint64_t);
template void dropout_backward<float>(View1<float>, ConstView1<float>, int64_t, float, RngKey, uint64_t);
template void dropout_backward<double>(View1<double>, ConstView1<double>, int64_t, double, RngKey, uint64_t);

}  // namespace tessera
