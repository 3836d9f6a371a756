// Weighted, label-smoothed softmax cross-entropy (PyTorch CrossEntropyLoss semantics): one thread per row,
// a max pass and an exp-sum pass for lse, one weighted pass for the smoothing term; batch sums in double.
#include "kernels/classification_loss.hpp"
#include <string>
#include "kernels/kernel_math.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

namespace {

template <class S>
void check_shapes(const char* who, ConstView1<S> logits, ConstView1<int32_t> targets, ConstView1<S> class_weights,
                  int64_t N, int K, S label_smoothing) {
  const std::string w(who);
  require(N >= 0 && K >= 1, w + ": need N >= 0 and K >= 1 (got N=" + std::to_string(N) + ", K=" + std::to_string(K) + ")");
  require(int64_t(logits.extent(0)) >= N * K, w + ": logits holds " + std::to_string(logits.extent(0)) +
                                                  " values, need N*K = " + std::to_string(N * K));
  require(int64_t(targets.extent(0)) >= N, w + ": targets holds " + std::to_string(targets.extent(0)) +
                                               " values, need N = " + std::to_string(N));
  require(class_weights.extent(0) == 0 || int64_t(class_weights.extent(0)) == K,
          w + ": class_weights holds " + std::to_string(class_weights.extent(0)) + " values, need 0 or K = " +
              std::to_string(K));
  require(label_smoothing >= S(0) && label_smoothing <= S(1),
          w + ": label_smoothing must be in [0, 1] (got " + std::to_string(double(label_smoothing)) + ")");
}

// W = Σ_j w_j (K when there are no weights).
template <class S>
S total_class_weight(ConstView1<S> class_weights, int K) {
  if (class_weights.extent(0) == 0) return S(K);
  double total = 0.0;
  Kokkos::parallel_reduce(
      "classification_loss_total_weight", RangePolicy(0, K),
      KOKKOS_LAMBDA(const int64_t j, double& acc) { acc += double(class_weights(j)); }, total);
  return S(total);
}

}  // namespace

template <class S>
S classification_loss_forward(View1<S> lse, ConstView1<S> logits, ConstView1<int32_t> targets,
                              ConstView1<S> class_weights, int64_t N, int K, S label_smoothing,
                              int32_t ignore_index, S* weight_sum_out) {
  check_shapes<S>("classification_loss_forward", logits, targets, class_weights, N, K, label_smoothing);
  require(int64_t(lse.extent(0)) >= N, "classification_loss_forward: lse holds " + std::to_string(lse.extent(0)) +
                                           " values, need N = " + std::to_string(N));
  // First invalid target row (N when none), so the error can name it.
  int64_t first_bad = N;
  Kokkos::parallel_reduce(
      "classification_loss_check_targets", RangePolicy(0, N),
      KOKKOS_LAMBDA(const int64_t i, int64_t& acc) {
        const int32_t t = targets(i);
        if (t != ignore_index && (t < 0 || t >= K) && i < acc) acc = i;
      },
      Kokkos::Min<int64_t>(first_bad));
  if (first_bad < N) {
    auto t = Kokkos::create_mirror_view_and_copy(HostSpace(), Kokkos::subview(targets, std::make_pair(first_bad, first_bad + 1)));
    throw Error("classification_loss_forward: target " + std::to_string(t(0)) + " at row " +
                std::to_string(first_bad) + " is outside [0, " + std::to_string(K) + ") and is not ignore_index " +
                std::to_string(ignore_index));
  }

  const bool has_w = class_weights.extent(0) > 0;
  const S eps = label_smoothing;
  const S eps_k = label_smoothing / S(K);
  double loss_sum = 0.0, weight_sum = 0.0;
  Kokkos::parallel_reduce(
      "classification_loss_forward", RangePolicy(0, N),
      KOKKOS_LAMBDA(const int64_t i, double& acc) {
        const S* row = logits.data() + i * K;
        const S mx = kmath::lane_max<S>(K, [&](int64_t j) { return row[j]; });
        const S sum = kmath::lane_sum<S>(K, [&](int64_t j) { return kmath::fast_exp(row[j] - mx); });
        const S l = mx + kmath::log(sum);
        lse(i) = l;
        const int32_t t = targets(i);
        if (t == ignore_index) return;
        const S wt = has_w ? class_weights(t) : S(1);
        S li = (S(1) - eps) * wt * (l - row[t]);
        if (eps != S(0)) {
          const S smooth = has_w ? kmath::lane_sum<S>(K, [&](int64_t j) { return class_weights(j) * (l - row[j]); })
                                 : kmath::lane_sum<S>(K, [&](int64_t j) { return l - row[j]; });
          li += eps_k * smooth;
        }
        acc += double(li);
      },
      loss_sum);
  Kokkos::parallel_reduce(
      "classification_loss_weight_sum", RangePolicy(0, N),
      KOKKOS_LAMBDA(const int64_t i, double& acc) {
        const int32_t t = targets(i);
        if (t != ignore_index) acc += has_w ? double(class_weights(t)) : 1.0;
      },
      weight_sum);
  if (weight_sum_out) *weight_sum_out = S(weight_sum);
  return weight_sum == 0.0 ? S(0) : S(loss_sum / weight_sum);
}

template <class S>
void classification_loss_backward(View1<S> dlogits, ConstView1<S> logits, ConstView1<S> lse,
                                  ConstView1<int32_t> targets, ConstView1<S> class_weights, int64_t N, int K,
                                  S label_smoothing, int32_t ignore_index, S dloss_over_weight_sum) {
  check_shapes<S>("classification_loss_backward", logits, targets, class_weights, N, K, label_smoothing);
  require(int64_t(dlogits.extent(0)) >= N * K && int64_t(lse.extent(0)) >= N,
          "classification_loss_backward: dlogits needs N*K = " + std::to_string(N * K) + " values and lse N = " +
              std::to_string(N));
  const bool has_w = class_weights.extent(0) > 0;
  const S eps = label_smoothing;
  const S eps_k = label_smoothing / S(K);
  const S W = total_class_weight<S>(class_weights, K);
  const S g = dloss_over_weight_sum;
  Kokkos::parallel_for(
      "classification_loss_backward", RangePolicy(0, N), KOKKOS_LAMBDA(const int64_t i) {
        const int32_t t = targets(i);
        if (t == ignore_index || t < 0 || t >= K) return;  // invalid targets were rejected by the forward
        const S* row = logits.data() + i * K;
        S* drow = dlogits.data() + i * K;
        const S l = lse(i);
        const S wt_hard = (S(1) - eps) * (has_w ? class_weights(t) : S(1));
        const S coef = g * (wt_hard + eps_k * W);
        const S gk = g * eps_k;
        if (has_w)
          for (int64_t j = 0; j < K; ++j) drow[j] += coef * kmath::fast_exp(row[j] - l) - gk * class_weights(j);
        else
          for (int64_t j = 0; j < K; ++j) drow[j] += coef * kmath::fast_exp(row[j] - l) - gk;
        drow[t] -= g * wt_hard;
      });
}

#define TESSERA_INSTANTIATE(S)                                                                                    \
  template S classification_loss_forward<S>(View1<S>, ConstView1<S>, ConstView1<int32_t>, ConstView1<S>, int64_t, \
                                            int, S, int32_t, S*);                                                 \
  template void classification_loss_backward<S>(View1<S>, ConstView1<S>, ConstView1<S>, ConstView1<int32_t>,      \
                                                ConstView1<S>, int64_t, int, S, int32_t, S);
TESSERA_INSTANTIATE(float)
TESSERA_INSTANTIATE(double)

}  // namespace tessera
