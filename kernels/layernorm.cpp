// LayerNorm: out = (x-mean)·rstd·w + b per row; backward per row for dinp, per channel for dw/db.
#include "kernels/layernorm.hpp"
#include "kernels/kernel_math.hpp"

namespace tessera {

template <class S>
void layernorm_forward(View1<S> out, View1<S> mean, View1<S> rstd, ConstView1<S> inp, ConstView1<S> weight,
                       ConstView1<S> bias, int64_t N, int C, S eps) {
  Kokkos::parallel_for(
      "layernorm_forward", RangePolicy(0, N), KOKKOS_LAMBDA(const int64_t n) {
        const int64_t o = n * C;
        S m = 0;
        for (int c = 0; c < C; ++c) m += inp(o + c);
        m /= S(C);
        S var = 0;
        for (int c = 0; c < C; ++c) var += (inp(o + c) - m) * (inp(o + c) - m);
        const S r = S(1) / kmath::sqrt(var / S(C) + eps);
        for (int c = 0; c < C; ++c) out(o + c) = (inp(o + c) - m) * r * weight(c) + bias(c);
        mean(n) = m;
        rstd(n) = r;
      });
}

template <class S>
void layernorm_backward(View1<S> dinp, View1<S> dweight, View1<S> dbias, ConstView1<S> dout, ConstView1<S> inp,
                        ConstView1<S> weight, ConstView1<S> mean, ConstView1<S> rstd, int64_t N, int C) {
  // dinp += rstd·(w·dout - mean(w·dout) - x̂·mean(w·dout·x̂)), one thread per row
  Kokkos::parallel_for(
      "layernorm_backward_inp", RangePolicy(0, N), KOKKOS_LAMBDA(const int64_t n) {
        const int64_t o = n * C;
        const S m = mean(n), r = rstd(n);
        S mean_g = 0, mean_gx = 0;
        for (int c = 0; c < C; ++c) {
          const S g = weight(c) * dout(o + c);
          mean_g += g;
          mean_gx += g * (inp(o + c) - m) * r;
        }
        mean_g /= S(C);
        mean_gx /= S(C);
        for (int c = 0; c < C; ++c) {
          const S xhat = (inp(o + c) - m) * r;
          dinp(o + c) += r * (weight(c) * dout(o + c) - mean_g - xhat * mean_gx);
        }
      });
  // dw += Σ_n dout·x̂, db += Σ_n dout: one thread per channel, loop over rows
  Kokkos::parallel_for(
      "layernorm_backward_params", RangePolicy(0, C), KOKKOS_LAMBDA(const int64_t c) {
        S dw = 0, db = 0;
        for (int64_t n = 0; n < N; ++n) {
          const S d = dout(n * C + c);
          dw += d * (inp(n * C + c) - mean(n)) * rstd(n);
          db += d;
        }
        dweight(c) += dw;
        dbias(c) += db;
      });
}

#define TESSERA_INSTANTIATE(S)                                                                                   \
  template void layernorm_forward<S>(View1<S>, View1<S>, View1<S>, ConstView1<S>, ConstView1<S>, ConstView1<S>, \
                                     int64_t, int, S);                                                           \
  template void layernorm_backward<S>(View1<S>, View1<S>, View1<S>, ConstView1<S>, ConstView1<S>, ConstView1<S>, \
                                      ConstView1<S>, ConstView1<S>, int64_t, int);
TESSERA_INSTANTIATE(float)
TESSERA_INSTANTIATE(double)

}  // namespace tessera
