// Σ g² accumulated in double; all_finite counts elements with x-x != 0 (true exactly for NaN and ±inf).
#include "kernels/grad_norm.hpp"

namespace tessera {

template <class S>
double sum_of_squares(ConstView1<S> x, int64_t n) {
  double total = 0.0;
  Kokkos::parallel_reduce(
      "sum_of_squares", RangePolicy(0, n),
      KOKKOS_LAMBDA(const int64_t i, double& acc) {
        const double xi = double(x(i));
        acc += xi * xi;
      },
      total);
  return total;
}

template <class S>
bool all_finite(ConstView1<S> x, int64_t n) {
  int64_t bad = 0;
  Kokkos::parallel_reduce(
      "all_finite", RangePolicy(0, n),
      KOKKOS_LAMBDA(const int64_t i, int64_t& acc) {
        const S d = x(i) - x(i);
        acc += (d == S(0)) ? 0 : 1;
      },
      bad);
  return bad == 0;
}

template double sum_of_squares<float>(ConstView1<float>, int64_t);
template double sum_of_squares<double>(ConstView1<double>, int64_t);
template bool all_finite<float>(ConstView1<float>, int64_t);
template bool all_finite<double>(ConstView1<double>, int64_t);

}  // namespace tessera
