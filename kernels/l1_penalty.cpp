// L1 penalty: grad += λ·sign(θ) (sign(0) = 0), returns λ·Σ|θ| with the sum accumulated in double.
#include "kernels/l1_penalty.hpp"
#include <string>
#include "kernels/kernel_math.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

template <class S>
S l1_penalty_add_grad(View1<S> grad, ConstView1<S> param, int64_t n, S lambda) {
  require(n >= 0 && int64_t(grad.extent(0)) >= n && int64_t(param.extent(0)) >= n,
          "l1_penalty_add_grad: grad holds " + std::to_string(grad.extent(0)) + " and param " +
              std::to_string(param.extent(0)) + " values, need n = " + std::to_string(n));
  double abs_sum = 0.0;
  Kokkos::parallel_reduce(
      "l1_penalty_add_grad", RangePolicy(0, n),
      KOKKOS_LAMBDA(const int64_t i, double& acc) {
        const S x = param(i);
        grad(i) += lambda * (S(x > S(0)) - S(x < S(0)));
        acc += double(kmath::fabs(x));
      },
      abs_sum);
  return S(double(lambda) * abs_sum);
}

template float l1_penalty_add_grad<float>(View1<float>, ConstView1<float>, int64_t, float);
template double l1_penalty_add_grad<double>(View1<double>, ConstView1<double>, int64_t, double);

}  // namespace tessera
