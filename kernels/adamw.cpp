// AdamW: m,v moments of g = grad·scale; p -= lr·(m̂/(√v̂+eps) + wd·p), bias corrections 1-β^t computed once.
// Arithmetic in S (float math for float parameters, as in PyTorch's AdamW): with the per-step
// constants hoisted, the element loop is branch-free, division-light and vectorises; the update is
// one streaming pass over p, g, m, v (memory-bound).
#include "kernels/adamw.hpp"
#include <cmath>
#include "kernels/kernel_math.hpp"

namespace tessera {

template <class S>
void adamw_update(View1<S> params, ConstView1<S> grads, View1<S> m, View1<S> v, int64_t n, const AdamWStep& h) {
  const double bc1 = 1.0 - std::pow(h.beta1, double(h.t)), bc2 = 1.0 - std::pow(h.beta2, double(h.t));
  const S gs = S(h.grad_scale), b1 = S(h.beta1), b2 = S(h.beta2), omb1 = S(1.0 - h.beta1), omb2 = S(1.0 - h.beta2);
  const S inv_bc1 = S(1.0 / bc1), inv_bc2 = S(1.0 / bc2), eps = S(h.eps), lr = S(h.lr), wd = S(h.weight_decay);
  S* const pp = params.data();
  const S* const gp = grads.data();
  S* const mp = m.data();
  S* const vp = v.data();
  Kokkos::parallel_for(
      "adamw_update", RangePolicy(0, n), KOKKOS_LAMBDA(const int64_t i) {
        const S g = gp[i] * gs;
        const S mi = b1 * mp[i] + omb1 * g;
        const S vi = b2 * vp[i] + omb2 * g * g;
        mp[i] = mi;
        vp[i] = vi;
        const S p = pp[i];
        pp[i] = p - lr * ((mi * inv_bc1) / (kmath::sqrt(vi * inv_bc2) + eps) + wd * p);
      });
}

template void adamw_update<float>(View1<float>, ConstView1<float>, View1<float>, View1<float>, int64_t,
                                  const AdamWStep&);
template void adamw_update<double>(View1<double>, ConstView1<double>, View1<double>, View1<double>, int64_t,
                                   const AdamWStep&);

}  // namespace tessera
