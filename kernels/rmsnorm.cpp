// RMSNorm: out = x·rstd·w per row; backward per row for dinp, per block of 16 channels for dw (race-free).
#include "kernels/rmsnorm.hpp"
#include "kernels/kernel_math.hpp"

namespace tessera {

template <class S>
void rmsnorm_forward(View1<S> out, View1<S> rstd, ConstView1<S> inp, ConstView1<S> weight, int64_t N, int C, S eps) {
  Kokkos::parallel_for(
      "rmsnorm_forward", RangePolicy(0, N), KOKKOS_LAMBDA(const int64_t n) {
        const S* x = inp.data() + n * C;
        S* y = out.data() + n * C;
        const S* w = weight.data();
        const S ms = kmath::lane_sum<S>(C, [&](int64_t c) { return x[c] * x[c]; }) / S(C);
        const S r = S(1) / kmath::sqrt(ms + eps);
        for (int c = 0; c < C; ++c) y[c] = x[c] * r * w[c];
        rstd(n) = r;
      });
}

template <class S>
void rmsnorm_backward(View1<S> dinp, View1<S> dweight, ConstView1<S> dout, ConstView1<S> inp, ConstView1<S> weight,
                      ConstView1<S> rstd, int64_t N, int C) {
  // dinp += rstd·(w·dout - x̂·mean(w·dout·x̂)), one thread per row
  Kokkos::parallel_for(
      "rmsnorm_backward_inp", RangePolicy(0, N), KOKKOS_LAMBDA(const int64_t n) {
        const S* x = inp.data() + n * C;
        const S* d = dout.data() + n * C;
        const S* w = weight.data();
        S* dx = dinp.data() + n * C;
        const S r = rstd(n);
        const S mean_gx = kmath::lane_sum<S>(C, [&](int64_t c) { return w[c] * d[c] * x[c] * r; }) / S(C);
        for (int c = 0; c < C; ++c) dx[c] += r * (w[c] * d[c] - x[c] * r * mean_gx);
      });
  // dw += Σ_n dout·x̂: one thread per block of 16 channels (disjoint outputs), rows in order.
  if (dweight.extent(0) == 0) return;  // frozen weight
  const int64_t nblk = (int64_t(C) + 15) / 16;
  Kokkos::parallel_for(
      "rmsnorm_backward_weight", RangePolicy(0, nblk), KOKKOS_LAMBDA(const int64_t blk) {
        const int64_t c0 = blk * 16;
        S dw[16] = {};
        if (c0 + 16 <= C) {
          for (int64_t n = 0; n < N; ++n) {
            const S* x = inp.data() + n * C + c0;
            const S* d = dout.data() + n * C + c0;
            const S r = rstd(n);
            for (int k = 0; k < 16; ++k) dw[k] += d[k] * x[k] * r;
          }
        } else {
          for (int64_t n = 0; n < N; ++n) {
            const S r = rstd(n);
            for (int64_t c = c0; c < C; ++c) dw[c - c0] += dout(n * C + c) * inp(n * C + c) * r;
          }
        }
        for (int64_t c = c0; c < (c0 + 16 < C ? c0 + 16 : int64_t(C)); ++c) dweight(c) += dw[c - c0];
      });
}

#define TESSERA_INSTANTIATE(S)                                                                                  \
  template void rmsnorm_forward<S>(View1<S>, View1<S>, ConstView1<S>, ConstView1<S>, int64_t, int, S);          \
  template void rmsnorm_backward<S>(View1<S>, View1<S>, ConstView1<S>, ConstView1<S>, ConstView1<S>, ConstView1<S>, \
                                    int64_t, int);
TESSERA_INSTANTIATE(float)
TESSERA_INSTANTIATE(double)

}  // namespace tessera
