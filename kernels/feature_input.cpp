// Concatenation [z ; dense ; embeddings] of the feature head and its ReLU (feature_input.hpp).
#include "kernels/feature_input.hpp"

namespace tessera {

template <class S>
void feature_input_forward(View1<S> u, ConstView1<S> z, ConstView1<S> dense, ConstView1<int32_t> cat,
                           ConstView1<S> table, int64_t rows, int64_t C, int64_t D, int64_t M, int64_t E) {
  const int64_t W = C + D + M * E;
  Kokkos::parallel_for(
      "feature_input_forward", RangePolicy(0, rows * W), KOKKOS_LAMBDA(const int64_t i) {
        const int64_t r = i / W, c = i % W;
        if (c < C) {
          u(i) = z(r * C + c);
        } else if (c < C + D) {
          u(i) = dense(r * D + (c - C));
        } else {
          const int64_t j = (c - C - D) / E, e = (c - C - D) % E;
          u(i) = table(int64_t(cat(r * M + j)) * E + e);
        }
      });
}

template <class S>
void feature_input_backward(View1<S> dz, View1<S> dtable, ConstView1<S> du, ConstView1<int32_t> cat, int64_t rows,
                            int64_t C, int64_t D, int64_t M, int64_t E, int64_t table_rows) {
  const int64_t W = C + D + M * E;
  Kokkos::parallel_for(
      "feature_input_backward_z", RangePolicy(0, rows * C), KOKKOS_LAMBDA(const int64_t i) {
        const int64_t r = i / C, c = i % C;
        dz(i) = du(r * W + c);
      });
  if (dtable.extent(0) == 0 || M == 0) return;
  Kokkos::parallel_for(
      "feature_input_backward_table", RangePolicy(0, table_rows * E), KOKKOS_LAMBDA(const int64_t i) {
        const int64_t v = i / E, e = i % E;
        S acc = 0;
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t j = 0; j < M; ++j)
            if (int64_t(cat(r * M + j)) == v) acc += du(r * W + C + D + j * E + e);
        dtable(i) += acc;
      });
}

template <class S>
void relu_forward(View1<S> out, ConstView1<S> inp, int64_t n) {
  Kokkos::parallel_for(
      "relu_forward", RangePolicy(0, n), KOKKOS_LAMBDA(const int64_t i) { out(i) = inp(i) > S(0) ? inp(i) : S(0); });
}

template <class S>
void relu_backward(View1<S> dinp, ConstView1<S> inp, ConstView1<S> dout, int64_t n) {
  Kokkos::parallel_for(
      "relu_backward", RangePolicy(0, n), KOKKOS_LAMBDA(const int64_t i) {
        if (inp(i) > S(0)) dinp(i) += dout(i);
      });
}

#define TESSERA_INSTANTIATE_FEATURE_INPUT(S)                                                                     \
  template void feature_input_forward<S>(View1<S>, ConstView1<S>, ConstView1<S>, ConstView1<int32_t>,           \
                                         ConstView1<S>, int64_t, int64_t, int64_t, int64_t, int64_t);           \
  template void feature_input_backward<S>(View1<S>, View1<S>, ConstView1<S>, ConstView1<int32_t>, int64_t,      \
                                          int64_t, int64_t, int64_t, int64_t, int64_t);                         \
  template void relu_forward<S>(View1<S>, ConstView1<S>, int64_t);                                              \
  template void relu_backward<S>(View1<S>, ConstView1<S>, ConstView1<S>, int64_t);
TESSERA_INSTANTIATE_FEATURE_INPUT(float)
TESSERA_INSTANTIATE_FEATURE_INPUT(double)

}  // namespace tessera
