// LoRA input dropout with full-tensor mask indices (see lora_dropout.hpp).
#include "kernels/lora_dropout.hpp"

namespace tessera {

template <class S>
void lora_dropout_forward(View1<S> out, ConstView1<S> x, const LoraDropoutShape& s, S p, RngKey key) {
  const S scale = S(1) / (S(1) - p);
  const double pd = double(p);
  const int64_t cols = s.cols, ld = s.ld, full = s.full_cols, col0 = s.col0;
  const uint64_t row0 = s.row0;
  Kokkos::parallel_for(
      "lora_dropout_forward", RangePolicy(0, s.rows * cols), KOKKOS_LAMBDA(const int64_t i) {
        const int64_t n = i / cols, c = i % cols;
        const uint64_t e = (row0 + uint64_t(n)) * uint64_t(full) + uint64_t(col0 + c);
        out(i) = rng_uniform(key, e) >= pd ? x(n * ld + c) * scale : S(0);
      });
}

template <class S>
void lora_dropout_backward(View1<S> dx, ConstView1<S> dout, const LoraDropoutShape& s, S p, RngKey key) {
  const S scale = S(1) / (S(1) - p);
  const double pd = double(p);
  const int64_t cols = s.cols, ld = s.ld, full = s.full_cols, col0 = s.col0;
  const uint64_t row0 = s.row0;
  Kokkos::parallel_for(
      "lora_dropout_backward", RangePolicy(0, s.rows * cols), KOKKOS_LAMBDA(const int64_t i) {
        const int64_t n = i / cols, c = i % cols;
        const uint64_t e = (row0 + uint64_t(n)) * uint64_t(full) + uint64_t(col0 + c);
        if (rng_uniform(key, e) >= pd) dx(n * ld + c) += dout(i) * scale;
      });
}

#define TESSERA_INSTANTIATE(S)                                                                                 \
  template void lora_dropout_forward<S>(View1<S>, ConstView1<S>, const LoraDropoutShape&, S, RngKey);           \
  template void lora_dropout_backward<S>(View1<S>, ConstView1<S>, const LoraDropoutShape&, S, RngKey);
TESSERA_INSTANTIATE(float)
TESSERA_INSTANTIATE(double)

}  // namespace tessera
