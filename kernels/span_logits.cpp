// start/end columns of [N,2] QA logits ↔ two [N] rows.
#include "kernels/span_logits.hpp"

namespace tessera {

template <class S>
void span_logits_split(View1<S> start, View1<S> end, ConstView1<S> logits, int64_t N) {
  Kokkos::parallel_for(
      "span_logits_split", RangePolicy(0, N), KOKKOS_LAMBDA(const int64_t n) {
        start(n) = logits(2 * n);
        end(n) = logits(2 * n + 1);
      });
}

template <class S>
void span_logits_merge_grad(View1<S> dlogits, ConstView1<S> dstart, ConstView1<S> dend, int64_t N) {
  Kokkos::parallel_for(
      "span_logits_merge_grad", RangePolicy(0, N), KOKKOS_LAMBDA(const int64_t n) {
        dlogits(2 * n) += dstart(n);
        dlogits(2 * n + 1) += dend(n);
      });
}

template void span_logits_split<float>(View1<float>, View1<float>, ConstView1<float>, int64_t);
template void span_logits_split<double>(View1<double>, View1<double>, ConstView1<double>, int64_t);
template void span_logits_merge_grad<float>(View1<float>, ConstView1<float>, ConstView1<float>, int64_t);
template void span_logits_merge_grad<double>(View1<double>, ConstView1<double>, ConstView1<double>, int64_t);

}  // namespace tessera
