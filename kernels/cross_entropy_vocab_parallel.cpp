#include "kernels/cross_entropy_vocab_parallel.hpp"
#include "kernels/kernel_math.hpp"

namespace tessera {

template <class S>
void cross_entropy_row_max(View1<S> row_max, ConstView1<S> logits, int64_t N, int64_t V) {
  Kokkos::parallel_for(
      "cross_entropy_row_max", RangePolicy(0, N), KOKKOS_LAMBDA(const int64_t i) {
        const S* row = logits.data() + i * V;
        row_max(i) = kmath::lane_max<S>(V, [&](int64_t j) { return row[j]; });
      });
}

template <class S>
void cross_entropy_row_sumexp(View1<S> row_sumexp, ConstView1<S> logits, ConstView1<S> row_max, int64_t N, int64_t V) {
  Kokkos::parallel_for(
      "cross_entropy_row_sumexp", RangePolicy(0, N), KOKKOS_LAMBDA(const int64_t i) {
        const S* row = logits.data() + i * V;
        const S mx = row_max(i);
        row_sumexp(i) = kmath::lane_sum<S>(V, [&](int64_t j) { return kmath::fast_exp(row[j] - mx); });
      });
}

template <class S>
void cross_entropy_target_logit(View1<S> target, ConstView1<S> logits, ConstView1<int32_t> targets, int64_t N,
                                int64_t V, int64_t vocab_start, int32_t ignore_index) {
  Kokkos::parallel_for(
      "cross_entropy_target_logit", RangePolicy(0, N), KOKKOS_LAMBDA(const int64_t i) {
        const int64_t t = int64_t(targets(i)) - vocab_start;
        target(i) = (targets(i) != ignore_index && t >= 0 && t < V) ? logits(i * V + t) : S(0);
      });
}

template <class S>
void cross_entropy_finish(View1<S> losses, View1<S> lse, ConstView1<S> row_max, ConstView1<S> row_sumexp,
                          ConstView1<S> target, ConstView1<int32_t> targets, int64_t N, int32_t ignore_index) {
  Kokkos::parallel_for(
      "cross_entropy_finish", RangePolicy(0, N), KOKKOS_LAMBDA(const int64_t i) {
        const S l = row_max(i) + kmath::log(row_sumexp(i));
        lse(i) = l;
        losses(i) = targets(i) == ignore_index ? S(0) : l - target(i);
      });
}

template <class S>
void cross_entropy_backward_inplace_shard(View1<S> logits, ConstView1<S> lse, ConstView1<int32_t> targets, int64_t N,
                                          int64_t V, int64_t vocab_start, S dloss, int32_t ignore_index) {
  Kokkos::parallel_for(
      "cross_entropy_backward_inplace_shard", RangePolicy(0, N), KOKKOS_LAMBDA(const int64_t i) {
        S* row = logits.data() + i * V;
        if (targets(i) == ignore_index) {
          for (int64_t j = 0; j < V; ++j) row[j] = S(0);
          return;
        }
        const S l = lse(i);
        for (int64_t j = 0; j < V; ++j) row[j] = dloss * kmath::fast_exp(row[j] - l);
        const int64_t t = int64_t(targets(i)) - vocab_start;
        if (t >= 0 && t < V) row[t] -= dloss;
      });
}

#define TESSERA_INSTANTIATE(S)                                                                                       \
  template void cross_entropy_row_max<S>(View1<S>, ConstView1<S>, int64_t, int64_t);                                 \
  template void cross_entropy_row_sumexp<S>(View1<S>, ConstView1<S>, ConstView1<S>, int64_t, int64_t);               \
  template void cross_entropy_target_logit<S>(View1<S>, ConstView1<S>, ConstView1<int32_t>, int64_t, int64_t,        \
                                              int64_t, int32_t);                                                     \
  template void cross_entropy_finish<S>(View1<S>, View1<S>, ConstView1<S>, ConstView1<S>, ConstView1<S>,             \
                                        ConstView1<int32_t>, int64_t, int32_t);                                      \
  template void cross_entropy_backward_inplace_shard<S>(View1<S>, ConstView1<S>, ConstView1<int32_t>, int64_t,       \
                                                        int64_t, int64_t, S, int32_t);
TESSERA_INSTANTIATE(float)
TESSERA_INSTANTIATE(double)

}  // namespace tessera
