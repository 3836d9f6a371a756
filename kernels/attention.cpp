// Causal multi-head attention on fused qkv [B,T,3C]: S = q·kᵀ/√hd (GEMM), masked row softmax (kernel),
// optional dropout P' (kernel), out = P'·v (GEMM). Per batch element b, one strided-batched GEMM over heads
// (head stride hd inside a row of lda = 3C), so no permute copies.
#include "kernels/attention.hpp"
#include "kernels/gemm.hpp"
#include "kernels/kernel_math.hpp"

namespace tessera {

// Index of element (row, 0) of the probability matrix in the global [B_total, NH_total, T, T].
KOKKOS_INLINE_FUNCTION int64_t global_prob_row(int64_t row, int T, int NH, int batch_offset, int head_offset,
                                               int NH_total) {
  const int64_t i = row % T, bh = row / T, h = bh % NH, b = bh / NH;
  return (((b + batch_offset) * NH_total + h + head_offset) * T + i) * T;
}

template <class S>
void attention_forward(View1<S> out, View1<S> att, View1<S> attd, ConstView1<S> qkv, ConstView1<int32_t> key_mask,
                       const AttentionShape& shape, S dropout_p, RngKey dropout_key) {
  const int B = shape.B, T = shape.T, C = shape.C, NH = shape.NH, hd = C / NH;
  const int bo = shape.batch_offset, ho = shape.head_offset, NHt = shape.NH_total > 0 ? shape.NH_total : NH;
  const int64_t C3 = 3 * int64_t(C), TT = int64_t(T) * T;
  const bool causal = shape.causal, use_mask = key_mask.extent(0) > 0, use_dropout = dropout_p > S(0);
  const S scale = S(1) / kmath::sqrt(S(hd));
  // S[b,h] = scale · q_h · k_hᵀ  → att
  Kokkos::fence();
  for (int b = 0; b < B; ++b) {
    const S* q = qkv.data() + int64_t(b) * T * C3;
    gemm_strided_batched<S>(Trans::No, Trans::Yes, T, T, hd, scale, q, C3, hd, q + C, C3, hd, S(0),
                            att.data() + int64_t(b) * NH * TT, T, TT, NH);
  }
  Kokkos::fence();
  // Row softmax with causal/key masks (masked → 0; fully masked row → all 0), then dropout into attd.
  const double pd = double(dropout_p);
  const S keep_scale = use_dropout ? S(1) / (S(1) - dropout_p) : S(1);
  Kokkos::parallel_for(
      "attention_softmax", RangePolicy(0, int64_t(B) * NH * T), KOKKOS_LAMBDA(const int64_t row) {
        const int64_t i = row % T, b = row / (int64_t(NH) * T), o = row * T;
        const int64_t g = global_prob_row(row, T, NH, bo, ho, NHt);
        const int64_t jend = causal ? i + 1 : T;
        S* a = att.data() + o;
        if (!use_mask) {
          // Live columns [0, jend): branch-free, vectorisable max / exp-sum / scale; the rest is 0.
          const S mx = kmath::lane_max<S>(jend, [&](int64_t j) { return a[j]; });
          const S sum = kmath::lane_sum<S>(jend, [&](int64_t j) {
            const S e = kmath::fast_exp(a[j] - mx);
            a[j] = e;
            return e;
          });
          const S inv = S(1) / sum;
          for (int64_t j = 0; j < jend; ++j) a[j] *= inv;
          for (int64_t j = jend; j < T; ++j) a[j] = S(0);
        } else {
          bool any = false;
          S mx = 0;
          for (int64_t j = 0; j < jend; ++j) {
            if (key_mask(b * T + j) == 0) continue;
            mx = (!any || a[j] > mx) ? a[j] : mx;
            any = true;
          }
          S sum = 0;
          for (int64_t j = 0; j < T; ++j) {
            const bool live = any && j < jend && key_mask(b * T + j) != 0;
            const S e = live ? kmath::fast_exp(a[j] - mx) : S(0);
            a[j] = e;
            sum += e;
          }
          const S inv = any ? S(1) / sum : S(0);
          for (int64_t j = 0; j < T; ++j) a[j] *= inv;
        }
        if (use_dropout) {
          for (int64_t j = 0; j < T; ++j) {
            const bool keep = rng_uniform(dropout_key, uint64_t(g + j)) >= pd;
            attd(o + j) = keep ? a[j] * keep_scale : S(0);
          }
        }
      });
  Kokkos::fence();
  // out[b, :, h] = P'[b,h] · v_h
  const S* probs = use_dropout ? attd.data() : att.data();
  for (int b = 0; b < B; ++b) {
    const S* v = qkv.data() + int64_t(b) * T * C3 + 2 * C;
    gemm_strided_batched<S>(Trans::No, Trans::No, T, hd, T, S(1), probs + int64_t(b) * NH * TT, T, TT, v, C3, hd,
                            S(0), out.data() + int64_t(b) * T * C, C, hd, NH);
  }
  Kokkos::fence();
}

template <class S>
void attention_backward(View1<S> dqkv, View1<S> scratch, ConstView1<S> dout, ConstView1<S> qkv, ConstView1<S> att,
                        ConstView1<S> attd, const AttentionShape& shape, S dropout_p, RngKey dropout_key) {
  const int B = shape.B, T = shape.T, C = shape.C, NH = shape.NH, hd = C / NH;
  const int bo = shape.batch_offset, ho = shape.head_offset, NHt = shape.NH_total > 0 ? shape.NH_total : NH;
  const int64_t C3 = 3 * int64_t(C), TT = int64_t(T) * T;
  const bool use_dropout = dropout_p > S(0);
  const S scale = S(1) / kmath::sqrt(S(hd));
  const S* probs = use_dropout ? attd.data() : att.data();
  Kokkos::fence();
  for (int b = 0; b < B; ++b) {
    const int64_t qo = int64_t(b) * T * C3, ao = int64_t(b) * NH * TT;
    const S* dob = dout.data() + int64_t(b) * T * C;
    // dv_h += P'ᵀ · dout_h
    gemm_strided_batched<S>(Trans::Yes, Trans::No, T, hd, T, S(1), probs + ao, T, TT, dob, C, hd, S(1),
                            dqkv.data() + qo + 2 * C, C3, hd, NH);
    // dP' = dout_h · v_hᵀ → scratch
    gemm_strided_batched<S>(Trans::No, Trans::Yes, T, T, hd, S(1), dob, C, hd, qkv.data() + qo + 2 * C, C3, hd,
                            S(0), scratch.data() + ao, T, TT, NH);
  }
  Kokkos::fence();
  // dP = dropout_bwd(dP'); dS = P ⊙ (dP - Σ_j dP⊙P), in place in scratch (masked P = 0 → dS = 0)
  const double pd = double(dropout_p);
  const S keep_scale = use_dropout ? S(1) / (S(1) - dropout_p) : S(1);
  const bool causal = shape.causal;
  Kokkos::parallel_for(
      "attention_softmax_backward", RangePolicy(0, int64_t(B) * NH * T), KOKKOS_LAMBDA(const int64_t row) {
        const int64_t o = row * T;
        const int64_t g = global_prob_row(row, T, NH, bo, ho, NHt);
        // Causal: P = 0 beyond the diagonal, so dS = 0 there; only [0, jend) needs the math.
        const int64_t jend = causal ? row % T + 1 : T;
        S* ds = scratch.data() + o;
        const S* p = att.data() + o;
        if (use_dropout) {
          for (int64_t j = 0; j < jend; ++j)
            ds[j] = rng_uniform(dropout_key, uint64_t(g + j)) >= pd ? ds[j] * keep_scale : S(0);
        }
        const S dot = kmath::lane_sum<S>(jend, [&](int64_t j) { return ds[j] * p[j]; });
        for (int64_t j = 0; j < jend; ++j) ds[j] = p[j] * (ds[j] - dot);
        for (int64_t j = jend; j < T; ++j) ds[j] = S(0);
      });
  Kokkos::fence();
  for (int b = 0; b < B; ++b) {
    const int64_t qo = int64_t(b) * T * C3, ao = int64_t(b) * NH * TT;
    const S* q = qkv.data() + qo;
    // dq_h += scale · dS · k_h ;  dk_h += scale · dSᵀ · q_h
    gemm_strided_batched<S>(Trans::No, Trans::No, T, hd, T, scale, scratch.data() + ao, T, TT, q + C, C3, hd, S(1),
                            dqkv.data() + qo, C3, hd, NH);
    gemm_strided_batched<S>(Trans::Yes, Trans::No, T, hd, T, scale, scratch.data() + ao, T, TT, q, C3, hd, S(1),
                            dqkv.data() + qo + C, C3, hd, NH);
  }
  Kokkos::fence();
}

#define TESSERA_INSTANTIATE(S)                                                                                     \
  template void attention_forward<S>(View1<S>, View1<S>, View1<S>, ConstView1<S>, ConstView1<int32_t>,            \
                                     const AttentionShape&, S, RngKey);                                            \
  template void attention_backward<S>(View1<S>, View1<S>, ConstView1<S>, ConstView1<S>, ConstView1<S>,            \
                                      ConstView1<S>, const AttentionShape&, S, RngKey);
TESSERA_INSTANTIATE(float)
TESSERA_INSTANTIATE(double)

}  // namespace tessera
