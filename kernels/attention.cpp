// Causal multi-head attention on fused qkv [B,T,W]: S = q·kᵀ/√hd (GEMM), masked row softmax (kernel),
// optional dropout P' (kernel), out = P'·v (GEMM). Per batch element b and group member r < G = NH/NKV, one
// strided-batched GEMM over the NKV kv heads (q head h = kh·G + r, head stride inside a row of lda = W), so no
// permute copies; the r loop runs in sequence, so dk/dv (shared by a group's q heads) accumulate race-free.
// With NKV == NH (G = 1) these are exactly the per-head batched GEMMs of plain multi-head attention.
#include "kernels/attention.hpp"
#include "kernels/gemm.hpp"
#include "kernels/gemm_bf16.hpp"  // gemm_model_strided_batched: bf16 score/value GEMMs under train.precision = bf16
#include "kernels/kernel_math.hpp"
#include "src/runtime/error.hpp"

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
  const int NKV = shape.NKV > 0 ? shape.NKV : NH;
  require(NH % NKV == 0, "attention_forward: NKV=" + std::to_string(NKV) + " must divide NH=" + std::to_string(NH));
  const int G = NH / NKV;
  const int bo = shape.batch_offset, ho = shape.head_offset, NHt = shape.NH_total > 0 ? shape.NH_total : NH;
  const int64_t KV = int64_t(NKV) * hd, W = C + 2 * KV, TT = int64_t(T) * T;
  const bool causal = shape.causal, use_mask = key_mask.extent(0) > 0, use_dropout = dropout_p > S(0);
  const S scale = S(1) / kmath::sqrt(S(hd));
  // S[b,h] = scale · q_h · k_{h/G}ᵀ  → att
  Kokkos::fence();
  for (int b = 0; b < B; ++b) {
    const S* q = qkv.data() + int64_t(b) * T * W;
    for (int r = 0; r < G; ++r)
      gemm_model_strided_batched<S>(Trans::No, Trans::Yes, T, T, hd, scale, q + int64_t(r) * hd, W, G * int64_t(hd),
                              q + C, W, hd, S(0), att.data() + (int64_t(b) * NH + r) * TT, T, G * TT, NKV);
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
  // out[b, :, h] = P'[b,h] · v_{h/G}
  const S* probs = use_dropout ? attd.data() : att.data();
  for (int b = 0; b < B; ++b) {
    const S* v = qkv.data() + int64_t(b) * T * W + C + KV;
    for (int r = 0; r < G; ++r)
      gemm_model_strided_batched<S>(Trans::No, Trans::No, T, hd, T, S(1), probs + (int64_t(b) * NH + r) * TT, T, G * TT,
                              v, W, hd, S(0), out.data() + int64_t(b) * T * C + int64_t(r) * hd, C,
                              G * int64_t(hd), NKV);
  }
  Kokkos::fence();
}

template <class S>
void attention_backward(View1<S> dqkv, View1<S> scratch, ConstView1<S> dout, ConstView1<S> qkv, ConstView1<S> att,
                        ConstView1<S> attd, const AttentionShape& shape, S dropout_p, RngKey dropout_key) {
  const int B = shape.B, T = shape.T, C = shape.C, NH = shape.NH, hd = C / NH;
  const int NKV = shape.NKV > 0 ? shape.NKV : NH;
  require(NH % NKV == 0, "attention_backward: NKV=" + std::to_string(NKV) + " must divide NH=" + std::to_string(NH));
  const int G = NH / NKV;
  const int bo = shape.batch_offset, ho = shape.head_offset, NHt = shape.NH_total > 0 ? shape.NH_total : NH;
  const int64_t KV = int64_t(NKV) * hd, W = C + 2 * KV, TT = int64_t(T) * T, Ghd = G * int64_t(hd);
  const bool use_dropout = dropout_p > S(0);
  const S scale = S(1) / kmath::sqrt(S(hd));
  const S* probs = use_dropout ? attd.data() : att.data();
  Kokkos::fence();
  for (int b = 0; b < B; ++b) {
    const int64_t qo = int64_t(b) * T * W, ao = int64_t(b) * NH * TT;
    const S* dob = dout.data() + int64_t(b) * T * C;
    // dv_{h/G} += P'_hᵀ · dout_h   (group members r in sequence: they share dv)
    for (int r = 0; r < G; ++r)
      gemm_model_strided_batched<S>(Trans::Yes, Trans::No, T, hd, T, S(1), probs + ao + r * TT, T, G * TT,
                              dob + int64_t(r) * hd, C, Ghd, S(1), dqkv.data() + qo + C + KV, W, hd, NKV);
    // dP'_h = dout_h · v_{h/G}ᵀ → scratch
    for (int r = 0; r < G; ++r)
      gemm_model_strided_batched<S>(Trans::No, Trans::Yes, T, T, hd, S(1), dob + int64_t(r) * hd, C, Ghd,
                              qkv.data() + qo + C + KV, W, hd, S(0), scratch.data() + ao + r * TT, T, G * TT, NKV);
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
    const int64_t qo = int64_t(b) * T * W, ao = int64_t(b) * NH * TT;
    const S* q = qkv.data() + qo;
    // dq_h += scale · dS_h · k_{h/G} ;  dk_{h/G} += scale · dS_hᵀ · q_h  (group members in sequence)
    for (int r = 0; r < G; ++r)
      gemm_model_strided_batched<S>(Trans::No, Trans::No, T, hd, T, scale, scratch.data() + ao + r * TT, T, G * TT, q + C,
                              W, hd, S(1), dqkv.data() + qo + int64_t(r) * hd, W, Ghd, NKV);
    for (int r = 0; r < G; ++r)
      gemm_model_strided_batched<S>(Trans::Yes, Trans::No, T, hd, T, scale, scratch.data() + ao + r * TT, T, G * TT,
                              q + int64_t(r) * hd, W, Ghd, S(1), dqkv.data() + qo + C, W, hd, NKV);
  }
  Kokkos::fence();
}

template <class S>
void attention_forward_cached(View1<S> out, ConstView1<S> qkv, View1<S> k_cache, View1<S> v_cache,
                              ConstView1<int32_t> key_mask, int B, int T_new, int64_t pos0, int T_max, int NH,
                              int NKV, int hd, bool causal) {
  require(NKV > 0 && NH % NKV == 0,
          "attention_forward_cached: NKV=" + std::to_string(NKV) + " must divide NH=" + std::to_string(NH));
  require(pos0 >= 0 && pos0 + T_new <= T_max, "attention_forward_cached: positions " + std::to_string(pos0) + ".." +
                                                  std::to_string(pos0 + T_new) + " exceed the cache length " +
                                                  std::to_string(T_max));
  const int G = NH / NKV;
  const int64_t C = int64_t(NH) * hd, KV = int64_t(NKV) * hd, W = C + 2 * KV, L = pos0 + T_new;
  const bool use_mask = key_mask.extent(0) > 0;
  // Append this call's k, v rows: cache[b, kh, pos0 + t, d] = qkv[b, t, C (+KV) + kh·hd + d].
  Kokkos::parallel_for(
      "attention_cache_append", RangePolicy(0, int64_t(B) * T_new * KV), KOKKOS_LAMBDA(const int64_t i) {
        const int64_t d = i % hd, kh = (i / hd) % NKV, t = (i / KV) % T_new, b = i / (KV * T_new);
        const int64_t src = (b * T_new + t) * W + C + kh * hd + d;
        const int64_t dst = ((b * NKV + kh) * T_max + pos0 + t) * hd + d;
        k_cache(dst) = qkv(src);
        v_cache(dst) = qkv(src + KV);
      });
  Kokkos::fence();
  // One thread per (b, h, t): pass 1 the max score, pass 2 Σ e^{s−max} and Σ e^{s−max}·v into the out row.
  const S scale = S(1) / kmath::sqrt(S(hd));
  Kokkos::parallel_for(
      "attention_forward_cached", RangePolicy(0, int64_t(B) * NH * T_new), KOKKOS_LAMBDA(const int64_t row) {
        const int64_t t = row % T_new, h = (row / T_new) % NH, b = row / (int64_t(T_new) * NH), kh = h / G;
        const S* q = qkv.data() + (b * T_new + t) * W + h * hd;
        const S* kc = k_cache.data() + (b * NKV + kh) * T_max * hd;
        const S* vc = v_cache.data() + (b * NKV + kh) * T_max * hd;
        S* y = out.data() + (b * T_new + t) * C + h * hd;
        const int64_t jend = causal ? pos0 + t + 1 : L;
        auto score = [&](int64_t j) {
          S s = 0;
          for (int d = 0; d < hd; ++d) s += q[d] * kc[j * hd + d];
          return s * scale;
        };
        bool any = false;
        S mx = 0;
        for (int64_t j = 0; j < jend; ++j) {
          if (use_mask && key_mask(b * T_max + j) == 0) continue;
          const S s = score(j);
          mx = (!any || s > mx) ? s : mx;
          any = true;
        }
        for (int d = 0; d < hd; ++d) y[d] = S(0);
        if (!any) return;  // every key masked: output 0, as attention_forward
        S sum = 0;
        for (int64_t j = 0; j < jend; ++j) {
          if (use_mask && key_mask(b * T_max + j) == 0) continue;
          const S e = kmath::fast_exp(score(j) - mx);
          sum += e;
          for (int d = 0; d < hd; ++d) y[d] += e * vc[j * hd + d];
        }
        const S inv = S(1) / sum;
        for (int d = 0; d < hd; ++d) y[d] *= inv;
      });
  Kokkos::fence();
}

#define TESSERA_INSTANTIATE(S)                                                                                     \
  template void attention_forward<S>(View1<S>, View1<S>, View1<S>, ConstView1<S>, ConstView1<int32_t>,            \
                                     const AttentionShape&, S, RngKey);                                            \
  template void attention_backward<S>(View1<S>, View1<S>, ConstView1<S>, ConstView1<S>, ConstView1<S>,            \
                                      ConstView1<S>, const AttentionShape&, S, RngKey);                            \
  template void attention_forward_cached<S>(View1<S>, ConstView1<S>, View1<S>, View1<S>, ConstView1<int32_t>, int, \
                                            int, int64_t, int, int, int, int, bool);
TESSERA_INSTANTIATE(float)
TESSERA_INSTANTIATE(double)

}  // namespace tessera
