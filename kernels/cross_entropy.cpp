// Fused softmax cross-entropy: lse = log Σ exp(logits), loss = lse - logits[t]; backward overwrites logits with
// dloss·(softmax - onehot(t)). Out-of-range targets (not ignore_index) give loss NaN rather than reading past V.
#include "kernels/cross_entropy.hpp"
#include "kernels/kernel_math.hpp"

namespace tessera {

template <class S>
void cross_entropy_forward(View1<S> losses, View1<S> lse, ConstView1<S> logits, ConstView1<int32_t> targets,
                           int64_t N, int64_t V, int32_t ignore_index) {
  // One thread per row: a max pass and an exp-sum pass over the row (the row stays in L2 between them);
  // both inner loops are branch-free so they vectorise.
  Kokkos::parallel_for(
      "cross_entropy_forward", RangePolicy(0, N), KOKKOS_LAMBDA(const int64_t i) {
        const S* row = logits.data() + i * V;
        const S mx = kmath::lane_max<S>(V, [&](int64_t j) { return row[j]; });
        const S sum = kmath::lane_sum<S>(V, [&](int64_t j) { return kmath::fast_exp(row[j] - mx); });
        const S l = mx + kmath::log(sum);
        lse(i) = l;
        const int32_t t = targets(i);
        if (t == ignore_index) losses(i) = S(0);
        else if (t >= 0 && t < V) losses(i) = l - row[t];
        else losses(i) = kmath::sqrt(S(-1));  // NaN: invalid target id
      });
}

template <class S>
void cross_entropy_backward_inplace(View1<S> logits, ConstView1<S> lse, ConstView1<int32_t> targets, int64_t N,
                                    int64_t V, S dloss, int32_t ignore_index) {
  // One thread per row (no per-element index division); the one-hot term is a single fix-up.
  Kokkos::parallel_for(
      "cross_entropy_backward_inplace", RangePolicy(0, N), KOKKOS_LAMBDA(const int64_t i) {
        S* row = logits.data() + i * V;
        const int32_t t = targets(i);
        if (t == ignore_index) {
          for (int64_t j = 0; j < V; ++j) row[j] = S(0);
          return;
        }
        const S l = lse(i);
        for (int64_t j = 0; j < V; ++j) row[j] = dloss * kmath::fast_exp(row[j] - l);
        if (t >= 0 && t < V) row[t] -= dloss;
      });
}

int64_t count_valid_targets(ConstView1<int32_t> targets, int64_t N, int32_t ignore_index) {
  int64_t count = 0;
  Kokkos::parallel_reduce(
      "count_valid_targets", RangePolicy(0, N),
      KOKKOS_LAMBDA(const int64_t i, int64_t& acc) { acc += targets(i) != ignore_index ? 1 : 0; }, count);
  return count;
}

#define TESSERA_INSTANTIATE(S)                                                                                   \
  template void cross_entropy_forward<S>(View1<S>, View1<S>, ConstView1<S>, ConstView1<int32_t>, int64_t,        \
                                         int64_t, int32_t);                                                      \
  template void cross_entropy_backward_inplace<S>(View1<S>, ConstView1<S>, ConstView1<int32_t>, int64_t, int64_t, \
                                                  S, int32_t);
TESSERA_INSTANTIATE(float)
TESSERA_INSTANTIATE(double)

}  // namespace tessera
