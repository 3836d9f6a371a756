// out[b,t,:] = wte[tok-vocab_start,:] + wpe[t,:]; backward scatters dout into the same rows.
#include "kernels/embedding.hpp"

namespace tessera {

template <class S>
void embedding_forward(View1<S> out, ConstView1<int32_t> tokens, ConstView1<S> wte, ConstView1<S> wpe, int B, int T,
                       int C, int64_t vocab_start, int64_t vocab_local) {
  const bool use_wpe = wpe.extent(0) > 0;
  Kokkos::parallel_for(
      "embedding_forward", RangePolicy(0, int64_t(B) * T * C), KOKKOS_LAMBDA(const int64_t idx) {
        const int64_t bt = idx / C, c = idx % C, t = bt % T;
        const int64_t row = int64_t(tokens(bt)) - vocab_start;
        S v = (row >= 0 && row < vocab_local) ? wte(row * C + c) : S(0);
        if (use_wpe) v += wpe(t * C + c);
        out(idx) = v;
      });
}

// dwte: one thread per channel block walks all positions in order (rows may repeat: no races, deterministic).
// dwpe: one thread per (t, c) sums over the batch.
template <class S>
void embedding_backward(View1<S> dwte, View1<S> dwpe, ConstView1<S> dout, ConstView1<int32_t> tokens, int B, int T,
                        int C, int64_t vocab_start, int64_t vocab_local) {
  const int64_t BT = int64_t(B) * T;
  // One thread per block of 16 channels (one cache line of a row): disjoint outputs, rows read whole lines.
  const int64_t nblk = (int64_t(C) + 15) / 16;
  if (dwte.extent(0) > 0)  // empty = frozen table
  Kokkos::parallel_for(
      "embedding_backward_wte", RangePolicy(0, nblk), KOKKOS_LAMBDA(const int64_t blk) {
        const int64_t c0 = blk * 16, c1 = c0 + 16 < C ? c0 + 16 : C;
        for (int64_t bt = 0; bt < BT; ++bt) {
          const int64_t row = int64_t(tokens(bt)) - vocab_start;
          if (row < 0 || row >= vocab_local) continue;
          S* dst = dwte.data() + row * C;
          const S* src = dout.data() + bt * C;
          for (int64_t c = c0; c < c1; ++c) dst[c] += src[c];
        }
      });
  if (dwpe.extent(0) == 0) return;
  Kokkos::parallel_for(
      "embedding_backward_wpe", RangePolicy(0, int64_t(T) * C), KOKKOS_LAMBDA(const int64_t tc) {
        S acc = 0;
        for (int b = 0; b < B; ++b) acc += dout(int64_t(b) * T * C + tc);
        dwpe(tc) += acc;
      });
}

#define TESSERA_INSTANTIATE(S)                                                                                     \
  template void embedding_forward<S>(View1<S>, ConstView1<int32_t>, ConstView1<S>, ConstView1<S>, int, int, int,  \
                                     int64_t, int64_t);                                                            \
  template void embedding_backward<S>(View1<S>, View1<S>, ConstView1<S>, ConstView1<int32_t>, int, int, int,      \
                                      int64_t, int64_t);
TESSERA_INSTANTIATE(float)
TESSERA_INSTANTIATE(double)

}  // namespace tessera
