// AdamW: m,v moments of g = grad·scale; p -= lr·(m̂/(√v̂+eps) + wd·p), bias corrections 1-β^t computed once.
#include "kernels/adamw.hpp"
#include <cmath>
#include "kernels/kernel_math.hpp"

namespace tessera {

template <class S>
void adamw_update(View1<S> params, ConstView1<S> grads, View1<S> m, View1<S> v, int64_t n, const AdamWStep& h) {
  const double lr = h.lr, b1 = h.beta1, b2 = h.beta2, eps = h.eps, wd = h.weight_decay, gs = h.grad_scale;
  const double bc1 = 1.0 - std::pow(h.beta1, double(h.t)), bc2 = 1.0 - std::pow(h.beta2, double(h.t));
  Kokkos::parallel_for(
      "adamw_update", RangePolicy(0, n), KOKKOS_LAMBDA(const int64_t i) {
        const double g = double(grads(i)) * gs;
        const double mi = b1 * double(m(i)) + (1.0 - b1) * g;
        const double vi = b2 * double(v(i)) + (1.0 - b2) * g * g;
        m(i) = S(mi);
        v(i) = S(vi);
        const double p = double(params(i));
        params(i) = S(p - lr * ((mi / bc1) / (kmath::sqrt(vi / bc2) + eps) + wd * p));
      });
}

template void adamw_update<float>(View1<float>, ConstView1<float>, View1<float>, View1<float>, int64_t,
                                  const AdamWStep&);
template void adamw_update<double>(View1<double>, ConstView1<double>, View1<double>, View1<double>, int64_t,
                                   const AdamWStep&);

}  // namespace tessera
