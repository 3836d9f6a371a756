// Row gather: forward one thread per output element; backward one thread per channel walking m in order,
// so repeated rows accumulate without atomics.
#include "kernels/gather_rows.hpp"

namespace tessera {

template <class S>
void gather_rows_forward(View1<S> out, ConstView1<S> inp, ConstView1<int32_t> rows, int64_t M, int C) {
  Kokkos::parallel_for(
      "gather_rows_forward", RangePolicy(0, M * C), KOKKOS_LAMBDA(const int64_t i) {
        const int64_t m = i / C, c = i % C;
        out(i) = inp(int64_t(rows(m)) * C + c);
      });
}

template <class S>
void gather_rows_backward(View1<S> dinp, ConstView1<S> dout, ConstView1<int32_t> rows, int64_t M, int C) {
  Kokkos::parallel_for(
      "gather_rows_backward", RangePolicy(0, C), KOKKOS_LAMBDA(const int64_t c) {
        for (int64_t m = 0; m < M; ++m) dinp(int64_t(rows(m)) * C + c) += dout(m * C + c);
      });
}

#define TESSERA_INSTANTIATE(S)                                                                          \
  template void gather_rows_forward<S>(View1<S>, ConstView1<S>, ConstView1<int32_t>, int64_t, int);   \
  template void gather_rows_backward<S>(View1<S>, ConstView1<S>, ConstView1<int32_t>, int64_t, int);
TESSERA_INSTANTIATE(float)
TESSERA_INSTANTIATE(double)

}  // namespace tessera
