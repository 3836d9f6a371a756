// AdamW: m,v moments of g = grad·scale; p -= lr·(m̂/(√v̂+eps) + wd·p), bias corrections 1-β^t computed once.
// Arithmetic in S (float math for float parameters, as in PyTorch's AdamW): with the per-step
// constants hoisted, the element loop is branch-free, division-light and vectorises (this file is
// compiled with -fno-math-errno, so √ is the vector instruction, not a libm call that sets errno);
// the update is one streaming pass over p, g, m, v (memory-bound).
// Threads: on the Serial host backend, when this file is built with OpenMP (CMake found it), the
// same element functor runs over bf16_gemm_threads() contiguous chunks of [0, n) — every element is
// independent, so the result is bitwise the Serial one. Threaded backends (OpenMP, CUDA) run it
// through Kokkos::parallel_for.
#include "kernels/adamw.hpp"
#include <cmath>
#include <type_traits>
#include "kernels/kernel_math.hpp"
#if defined(_OPENMP) && defined(KOKKOS_ENABLE_SERIAL) && !defined(KOKKOS_ENABLE_CUDA)
#include <omp.h>
#include "kernels/gemm_bf16.hpp"  // bf16_gemm_threads: the host thread rule shared with the bf16 GEMMs
#define TESSERA_ADAMW_HOST_THREADS 1
#endif

namespace tessera {
namespace {

template <class S>
struct AdamWElement {
  S* p;
  const S* g;
  S* m;
  S* v;
  S gs, b1, b2, omb1, omb2, inv_bc1, inv_bc2, eps, lr, wd;
  KOKKOS_INLINE_FUNCTION void operator()(const int64_t i) const {
    const S gi = g[i] * gs;
    const S mi = b1 * m[i] + omb1 * gi;
    const S vi = b2 * v[i] + omb2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const S pi = p[i];
    p[i] = pi - lr * ((mi * inv_bc1) / (kmath::sqrt(vi * inv_bc2) + eps) + wd * pi);
  }
};

}  // namespace

template <class S>
void adamw_update(View1<S> params, ConstView1<S> grads, View1<S> m, View1<S> v, int64_t n, const AdamWStep& h) {
  const double bc1 = 1.0 - std::pow(h.beta1, double(h.t)), bc2 = 1.0 - std::pow(h.beta2, double(h.t));
  const AdamWElement<S> f{params.data(), grads.data(), m.data(), v.data(), S(h.grad_scale), S(h.beta1),
                          S(h.beta2), S(1.0 - h.beta1), S(1.0 - h.beta2), S(1.0 / bc1), S(1.0 / bc2),
                          S(h.eps), S(h.lr), S(h.weight_decay)};
#ifdef TESSERA_ADAMW_HOST_THREADS
  const int threads = std::is_same<ExecSpace, Kokkos::Serial>::value ? bf16_gemm_threads() : 1;
  if (threads > 1 && n >= (int64_t(1) << 16)) {
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      const int64_t i0 = n * t / nt, i1 = n * (t + 1) / nt;
#pragma omp simd
      for (int64_t i = i0; i < i1; ++i) f(i);
    }
    return;
  }
#endif
  Kokkos::parallel_for("adamw_update", RangePolicy(0, n), f);
}

template void adamw_update<float>(View1<float>, ConstView1<float>, View1<float>, View1<float>, int64_t,
                                  const AdamWStep&);
template void adamw_update<double>(View1<double>, ConstView1<double>, View1<double>, View1<double>, int64_t,
                                   const AdamWStep&);

}  // namespace tessera
