// Tiled attention kernels (see tiled_attention.hpp). Scratch tiles are carved from one team-scratch block;
// per-row tiles (one row per thread) use the padded stride hp = hd+1 (even hd) so GPU threads reading
// row r, column d hit different shared-memory banks; shared tiles that every thread reads at the same
// address (broadcast) are unpadded, stored transposed where the inner loop runs over keys / rows, so the
// host compiler vectorises the inner loops without reassociating sums.
#include "kernels/tiled_attention.hpp"
#include <limits>
#include <string>
#include <type_traits>
#include "kernels/kernel_math.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

namespace {

using TeamPolicy = Kokkos::TeamPolicy<ExecSpace>;
using Member = TeamPolicy::member_type;
template <class S>
using Scratch = Kokkos::View<S*, ExecSpace::scratch_memory_space, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;

constexpr bool kHostTeams = Kokkos::SpaceAccessibility<Kokkos::HostSpace, MemSpace>::accessible;

// Team size: one thread on the host backends (the league is the parallelism), one per tile row on a GPU.
inline int team_threads() { return kHostTeams ? 1 : kTileQ; }
inline int padded(int hd) { return hd % 2 == 0 ? hd + 1 : hd; }

template <class S>
TeamPolicy team_policy(int64_t league, size_t scratch_elems, int& level) {
  require(league <= int64_t(std::numeric_limits<int>::max()),
          "tiled attention: " + std::to_string(league) + " teams exceed the int league size");
  const size_t bytes = Scratch<S>::shmem_size(scratch_elems);
  level = (kHostTeams || bytes <= 40 * 1024) ? 0 : 1;
  TeamPolicy policy(int(league), team_threads());
  return policy.set_scratch_size(level, Kokkos::PerTeam(bytes));
}

// Host compilers (GCC/clang with AVX): the register loops below in GCC vector types, so the accumulators stay
// in registers (plain local arrays get spilled to the stack on every FMA). Device compilers take the loops.
#if defined(__GNUC__) && defined(__AVX__) && !defined(__CUDA_ARCH__) && !defined(__HIP_DEVICE_COMPILE__)
#define TESSERA_HOST_VECTOR 1
typedef float HostVecF __attribute__((vector_size(32)));   // 8 floats
typedef double HostVecD __attribute__((vector_size(32)));  // 4 doubles
template <class S> struct HostVec;
template <> struct HostVec<float> { using type = HostVecF; };
template <> struct HostVec<double> { using type = HostVecD; };
template <class V, class S>
inline V vload(const S* p) {
  V v;
  __builtin_memcpy(&v, p, sizeof(V));
  return v;
}
template <class V, class S>
inline void vstore(S* p, const V& v) {
  __builtin_memcpy(p, &v, sizeof(V));
}
#endif

// o[d] = corr·o[d] + Σ_{c<n} w[c]·V[c·ld + d] for d < hd, 16 columns of o held in registers at a time.
template <class S>
KOKKOS_INLINE_FUNCTION void scale_add_rows(S* KOKKOS_RESTRICT o, const S corr, const S* KOKKOS_RESTRICT w,
                                           const S* KOKKOS_RESTRICT V, const int n, const int ld, const int hd) {
  constexpr int kW = 16;
  int d0 = 0;
#ifdef TESSERA_HOST_VECTOR
  {
    using Vec = typename HostVec<S>::type;
    constexpr int L = int(sizeof(Vec) / sizeof(S));
    for (; d0 + 4 * L <= hd; d0 += 4 * L) {
      Vec o0 = vload<Vec>(o + d0) * corr, o1 = vload<Vec>(o + d0 + L) * corr, o2 = vload<Vec>(o + d0 + 2 * L) * corr,
          o3 = vload<Vec>(o + d0 + 3 * L) * corr;
      for (int c = 0; c < n; ++c) {
        const S wc = w[c];
        const S* v = V + c * ld + d0;
        o0 += wc * vload<Vec>(v);
        o1 += wc * vload<Vec>(v + L);
        o2 += wc * vload<Vec>(v + 2 * L);
        o3 += wc * vload<Vec>(v + 3 * L);
      }
      vstore(o + d0, o0);
      vstore(o + d0 + L, o1);
      vstore(o + d0 + 2 * L, o2);
      vstore(o + d0 + 3 * L, o3);
    }
  }
#endif
  for (; d0 + kW <= hd; d0 += kW) {
    S oc[kW];
    for (int k = 0; k < kW; ++k) oc[k] = o[d0 + k] * corr;
    for (int c = 0; c < n; ++c) {
      const S wc = w[c];
      const S* KOKKOS_RESTRICT v = V + c * ld + d0;
      for (int k = 0; k < kW; ++k) oc[k] += wc * v[k];
    }
    for (int k = 0; k < kW; ++k) o[d0 + k] = oc[k];
  }
  for (; d0 < hd; ++d0) {
    S x = o[d0] * corr;
    for (int c = 0; c < n; ++c) x += w[c] * V[c * ld + d0];
    o[d0] = x;
  }
}

// acc[c] = Σ_d x[d]·Mt[d·N + c] for c < N (Mt: a tile stored transposed, N = its row count).
template <class S, int N>
KOKKOS_INLINE_FUNCTION void row_times_tile(S (&acc)[N], const S* KOKKOS_RESTRICT x, const S* KOKKOS_RESTRICT Mt,
                                           const int hd) {
#ifdef TESSERA_HOST_VECTOR
  using Vec = typename HostVec<S>::type;
  constexpr int L = int(sizeof(Vec) / sizeof(S));
  if constexpr (N == 4 * L) {
    Vec a0 = {}, a1 = {}, a2 = {}, a3 = {};
    for (int d = 0; d < hd; ++d) {
      const S xd = x[d];
      const S* mt = Mt + d * N;
      a0 += xd * vload<Vec>(mt);
      a1 += xd * vload<Vec>(mt + L);
      a2 += xd * vload<Vec>(mt + 2 * L);
      a3 += xd * vload<Vec>(mt + 3 * L);
    }
    vstore(acc, a0);
    vstore(acc + L, a1);
    vstore(acc + 2 * L, a2);
    vstore(acc + 3 * L, a3);
    return;
  } else if constexpr (N == 8 * L) {
    Vec a[8] = {};
    for (int d = 0; d < hd; ++d) {
      const S xd = x[d];
      const S* mt = Mt + d * N;
      for (int k = 0; k < 8; ++k) a[k] += xd * vload<Vec>(mt + k * L);
    }
    for (int k = 0; k < 8; ++k) vstore(acc + k * L, a[k]);
    return;
  }
#endif
  for (int c = 0; c < N; ++c) acc[c] = S(0);
  for (int d = 0; d < hd; ++d) {
    const S xd = x[d];
    const S* KOKKOS_RESTRICT mt = Mt + d * N;
    for (int c = 0; c < N; ++c) acc[c] += xd * mt[c];
  }
}

// Where k and v of (batch b, key j, kv head kh) sit: k[b·bs + j·ts + kh·hs + d] (v likewise).
template <class S>
struct KVLayout {
  const S* k;
  const S* v;
  int64_t bs, ts, hs;
  int64_t L;       // keys per sequence
  int64_t pos0;    // position of query row 0 (causal: row i sees keys j ≤ pos0 + i)
  int64_t mask_T;  // key_mask row length
};

// The forward kernel shared by training (k, v in qkv) and prefill (k, v in the cache).
// q rows: qkv[(b·T + i)·W + h·hd + d]; out rows: out[(b·T + i)·ldo + h·hd + d].
template <class S>
void forward_impl(View1<S> out, int64_t ldo, View1<S> lse, ConstView1<S> qkv, int64_t W, const KVLayout<S> kv,
                  ConstView1<int32_t> key_mask, int B, int T, int NH, int NKV, int hd, bool causal, S dropout_p,
                  RngKey dropout_key, int bo, int ho, int NHt) {
  const int G = NH / NKV, hp = padded(hd);
  const int nqt = (T + kTileQ - 1) / kTileQ;
  const bool use_mask = key_mask.extent(0) > 0, use_dropout = dropout_p > S(0), want_lse = lse.extent(0) > 0;
  const S scale = S(1) / kmath::sqrt(S(hd)), big = std::numeric_limits<S>::max();
  const double pd = double(dropout_p);
  const S keep_scale = use_dropout ? S(1) / (S(1) - dropout_p) : S(1);
  const size_t n_scr = size_t(2 * kTileQ * hp + 2 * kTileK * hd + 2 * kTileQ);
  int level = 0;
  const TeamPolicy policy = team_policy<S>(int64_t(B) * NH * nqt, n_scr, level);
  Kokkos::parallel_for(
      "tiled_attention_forward", policy, KOKKOS_LAMBDA(const Member& m) {
        Scratch<S> buf(m.team_scratch(level), n_scr);
        S* Qs = buf.data();          // [kTileQ][hp]  q rows · 1/√hd
        S* Os = Qs + kTileQ * hp;    // [kTileQ][hp]  output accumulators
        S* Kt = Os + kTileQ * hp;    // [hd][kTileK]  key tile, transposed
        S* Vs = Kt + hd * kTileK;    // [kTileK][hd]  value tile
        S* ms = Vs + kTileK * hd;    // [kTileQ] running max
        S* ls = ms + kTileQ;           // [kTileQ] running denominator
        const int64_t lr = m.league_rank();
        const int qt = int(lr % nqt);
        const int64_t bh = lr / nqt;
        const int h = int(bh % NH), b = int(bh / NH), kh = h / G;
        const int q0 = qt * kTileQ, nr = T - q0 < kTileQ ? T - q0 : kTileQ;
        Kokkos::parallel_for(Kokkos::TeamThreadRange(m, kTileQ), [&](const int r) {
          for (int d = 0; d < hd; ++d) {
            Qs[r * hp + d] = r < nr ? qkv((int64_t(b) * T + q0 + r) * W + int64_t(h) * hd + d) * scale : S(0);
            Os[r * hp + d] = S(0);
          }
        });
        Kokkos::parallel_for(Kokkos::TeamThreadRange(m, kTileQ), [&](const int r) {
          ms[r] = -big;
          ls[r] = S(0);
        });
        const int64_t jend = causal ? (kv.pos0 + q0 + nr < kv.L ? kv.pos0 + q0 + nr : kv.L) : kv.L;
        for (int64_t k0 = 0; k0 < jend; k0 += kTileK) {
          const int nc = jend - k0 < kTileK ? int(jend - k0) : kTileK;
          m.team_barrier();  // every row is done with the previous tile
          Kokkos::parallel_for(Kokkos::TeamThreadRange(m, kTileK), [&](const int c) {
            for (int d = 0; d < hd; ++d) {
              const int64_t src = int64_t(b) * kv.bs + (k0 + c) * kv.ts + int64_t(kh) * kv.hs + d;
              Kt[d * kTileK + c] = c < nc ? kv.k[src] : S(0);
              Vs[c * hd + d] = c < nc ? kv.v[src] : S(0);
            }
          });
          m.team_barrier();
          Kokkos::parallel_for(Kokkos::TeamThreadRange(m, nr), [&](const int r) {
            const int64_t i = q0 + r;
            // Columns [0, ncol) of this tile are causally visible to row i.
            const int64_t vis = causal ? kv.pos0 + i + 1 - k0 : int64_t(nc);
            const int ncol = vis < nc ? int(vis) : nc;
            if (ncol <= 0) return;
            S s[kTileK];  // scores, then dropped weights
            row_times_tile<S, kTileK>(s, Qs + r * hp, Kt, hd);
            auto live = [&](int c) { return c < ncol && (!use_mask || key_mask(b * kv.mask_T + k0 + c) != 0); };
            bool any = false;
            S tmax = -big;
            for (int c = 0; c < ncol; ++c)
              if (live(c)) {
                tmax = s[c] > tmax ? s[c] : tmax;
                any = true;
              }
            if (!any) return;
            const S mold = ms[r], mnew = tmax > mold ? tmax : mold;
            const S corr = ls[r] > S(0) ? kmath::fast_exp(mold - mnew) : S(0);
            const uint64_t g0 = ((uint64_t(b + bo) * NHt + h + ho) * kv.L + i) * kv.L + k0;
            S lsum = 0;
            for (int c = 0; c < kTileK; ++c) {
              const S e = live(c) ? kmath::fast_exp(s[c] - mnew) : S(0);
              lsum += e;
              s[c] = use_dropout ? (rng_uniform(dropout_key, g0 + c) >= pd ? e * keep_scale : S(0)) : e;
            }
            ls[r] = ls[r] * corr + lsum;
            ms[r] = mnew;
            scale_add_rows<S>(Os + r * hp, corr, s, Vs, ncol, hd, hd);
          });
        }
        m.team_barrier();
        Kokkos::parallel_for(Kokkos::TeamThreadRange(m, nr), [&](const int r) {
          for (int d = 0; d < hd; ++d) {
            const S inv = ls[r] > S(0) ? S(1) / ls[r] : S(0);
            out((int64_t(b) * T + q0 + r) * ldo + int64_t(h) * hd + d) = Os[r * hp + d] * inv;
          }
        });
        if (want_lse)
          Kokkos::parallel_for(Kokkos::TeamThreadRange(m, nr), [&](const int r) {
            lse((int64_t(b) * NH + h) * T + q0 + r) = ls[r] > S(0) ? ms[r] + kmath::log(ls[r]) : big;
          });
      });
  Kokkos::fence();
}

void check_groups(int NH, int NKV, const char* what) {
  require(NKV > 0 && NH % NKV == 0,
          std::string(what) + ": NKV=" + std::to_string(NKV) + " must divide NH=" + std::to_string(NH));
}

}  // namespace

template <class S>
void tiled_attention_forward(View1<S> out, View1<S> lse, ConstView1<S> qkv, ConstView1<int32_t> key_mask,
                             const AttentionShape& shape, S dropout_p, RngKey dropout_key) {
  const int B = shape.B, T = shape.T, C = shape.C, NH = shape.NH, hd = C / NH;
  const int NKV = shape.NKV > 0 ? shape.NKV : NH;
  check_groups(NH, NKV, "tiled_attention_forward");
  const int64_t KV = int64_t(NKV) * hd, W = C + 2 * KV;
  require(lse.extent(0) >= size_t(int64_t(B) * NH * T), "tiled_attention_forward: lse holds " +
                                                           std::to_string(lse.extent(0)) + " rows, needs B·NH·T = " +
                                                           std::to_string(int64_t(B) * NH * T));
  const KVLayout<S> kv{qkv.data() + C, qkv.data() + C + KV, int64_t(T) * W, W, hd, T, 0, T};
  Kokkos::fence();
  forward_impl<S>(out, C, lse, qkv, W, kv, key_mask, B, T, NH, NKV, hd, shape.causal, dropout_p, dropout_key,
                  shape.batch_offset, shape.head_offset, shape.NH_total > 0 ? shape.NH_total : NH);
}

template <class S>
void tiled_attention_backward(View1<S> dqkv, View1<S> delta, ConstView1<S> dout, ConstView1<S> qkv,
                              ConstView1<S> out, ConstView1<S> lse, ConstView1<int32_t> key_mask,
                              const AttentionShape& shape, S dropout_p, RngKey dropout_key) {
  const int B = shape.B, T = shape.T, C = shape.C, NH = shape.NH, hd = C / NH;
  const int NKV = shape.NKV > 0 ? shape.NKV : NH;
  check_groups(NH, NKV, "tiled_attention_backward");
  const int G = NH / NKV, hp = padded(hd);
  const int bo = shape.batch_offset, ho = shape.head_offset, NHt = shape.NH_total > 0 ? shape.NH_total : NH;
  const int64_t KV = int64_t(NKV) * hd, W = C + 2 * KV, rows = int64_t(B) * NH * T;
  require(delta.extent(0) >= size_t(rows) && lse.extent(0) >= size_t(rows),
          "tiled_attention_backward: lse/delta need B·NH·T = " + std::to_string(rows) + " rows");
  const bool causal = shape.causal, use_mask = key_mask.extent(0) > 0, use_dropout = dropout_p > S(0);
  const S scale = S(1) / kmath::sqrt(S(hd)), big = std::numeric_limits<S>::max();
  const double pd = double(dropout_p);
  const S keep_scale = use_dropout ? S(1) / (S(1) - dropout_p) : S(1);
  const int nqt = (T + kTileQ - 1) / kTileQ, nkt = (T + kTileK - 1) / kTileK;
  Kokkos::fence();
  // D_i = Σ_d dout_id · out_id per (b, h, i)
  Kokkos::parallel_for(
      "tiled_attention_delta", RangePolicy(0, rows), KOKKOS_LAMBDA(const int64_t row) {
        const int64_t i = row % T, h = (row / T) % NH, b = row / (int64_t(T) * NH);
        const int64_t o = (b * T + i) * C + h * hd;
        delta(row) = kmath::lane_sum<S>(hd, [&](int64_t d) { return dout(o + d) * out(o + d); });
      });
  Kokkos::fence();

  // dk, dv: one team per (b, kv head, key tile); thread c owns key k0 + c.
  {
    const size_t n_scr = size_t(4 * kTileK * hp + 4 * hd * kTileQ + 2 * kTileQ);
    int level = 0;
    const TeamPolicy policy = team_policy<S>(int64_t(B) * NKV * nkt, n_scr, level);
    Kokkos::parallel_for(
        "tiled_attention_backward_dkdv", policy, KOKKOS_LAMBDA(const Member& m) {
          Scratch<S> buf(m.team_scratch(level), n_scr);
          S* Kc = buf.data();            // [kTileK][hp] keys · 1/√hd
          S* Vc = Kc + kTileK * hp;      // [kTileK][hp] values
          S* dK = Vc + kTileK * hp;      // [kTileK][hp] Σ dS·q
          S* dV = dK + kTileK * hp;      // [kTileK][hp]
          S* Qt = dV + kTileK * hp;      // [hd][kTileQ] query tile, transposed
          S* Qs = Qt + hd * kTileQ;      // [kTileQ][hd]
          S* dOt = Qs + kTileQ * hd;     // [hd][kTileQ]
          S* dOs = dOt + hd * kTileQ;    // [kTileQ][hd]
          S* Ls = dOs + kTileQ * hd;     // [kTileQ] lse
          S* Ds = Ls + kTileQ;           // [kTileQ] D
          const int64_t lr = m.league_rank();
          const int kt = int(lr % nkt);
          const int64_t bk = lr / nkt;
          const int kh = int(bk % NKV), b = int(bk / NKV);
          const int k0 = kt * kTileK, nc = T - k0 < kTileK ? T - k0 : kTileK;
          Kokkos::parallel_for(Kokkos::TeamThreadRange(m, kTileK), [&](const int c) {
            for (int d = 0; d < hd; ++d) {
              const int64_t src = (int64_t(b) * T + k0 + c) * W + C + int64_t(kh) * hd + d;
              Kc[c * hp + d] = c < nc ? qkv(src) * scale : S(0);
              Vc[c * hp + d] = c < nc ? qkv(src + KV) : S(0);
              dK[c * hp + d] = S(0);
              dV[c * hp + d] = S(0);
            }
          });
          const int qt0 = causal ? k0 / kTileQ : 0;
          for (int g = 0; g < G; ++g) {
            const int h = kh * G + g;
            for (int qt = qt0; qt < nqt; ++qt) {
              const int q0 = qt * kTileQ, nr = T - q0 < kTileQ ? T - q0 : kTileQ;
              m.team_barrier();
              Kokkos::parallel_for(Kokkos::TeamThreadRange(m, kTileQ), [&](const int r) {
                for (int d = 0; d < hd; ++d) {
                  const int64_t qi = (int64_t(b) * T + q0 + r) * W + int64_t(h) * hd + d;
                  const int64_t oi = (int64_t(b) * T + q0 + r) * C + int64_t(h) * hd + d;
                  const S qv = r < nr ? qkv(qi) : S(0), ov = r < nr ? dout(oi) : S(0);
                  Qt[d * kTileQ + r] = qv;
                  Qs[r * hd + d] = qv;
                  dOt[d * kTileQ + r] = ov;
                  dOs[r * hd + d] = ov;
                }
              });
              Kokkos::parallel_for(Kokkos::TeamThreadRange(m, kTileQ), [&](const int r) {
                const int64_t row = (int64_t(b) * NH + h) * T + q0 + r;
                Ls[r] = r < nr ? lse(row) : big;
                Ds[r] = r < nr ? delta(row) : S(0);
              });
              m.team_barrier();
              Kokkos::parallel_for(Kokkos::TeamThreadRange(m, nc), [&](const int c) {
                const int64_t j = k0 + c;
                if (use_mask && key_mask(int64_t(b) * T + j) == 0) return;  // padded key: P = 0 in every row
                // Rows r ≥ r0 of this tile see key j causally.
                const int r0 = causal ? (j - q0 > 0 ? int(j - q0) : 0) : 0;
                if (r0 >= nr) return;
                S pw[kTileQ], ds[kTileQ];  // scores s_ij → weights P'_ij;  dout_i·v_j → dS_ij
                row_times_tile<S, kTileQ>(pw, Kc + c * hp, Qt, hd);
                row_times_tile<S, kTileQ>(ds, Vc + c * hp, dOt, hd);
                const uint64_t gbase = (uint64_t(b + bo) * NHt + h + ho) * T;
                for (int r = 0; r < kTileQ; ++r) {
                  const bool live = r >= r0 && r < nr && Ls[r] != big;
                  const S p = live ? kmath::fast_exp(pw[r] - Ls[r]) : S(0);
                  bool keep = true;
                  if (use_dropout && live) keep = rng_uniform(dropout_key, (gbase + q0 + r) * T + j) >= pd;
                  const S kf = keep ? keep_scale : S(0);
                  pw[r] = p * kf;
                  ds[r] = p * (ds[r] * kf - Ds[r]);
                }
                scale_add_rows<S>(dV + c * hp, S(1), pw + r0, dOs + r0 * hd, nr - r0, hd, hd);
                scale_add_rows<S>(dK + c * hp, S(1), ds + r0, Qs + r0 * hd, nr - r0, hd, hd);
              });
            }
          }
          m.team_barrier();
          Kokkos::parallel_for(Kokkos::TeamThreadRange(m, nc), [&](const int c) {
            for (int d = 0; d < hd; ++d) {
              const int64_t dst = (int64_t(b) * T + k0 + c) * W + C + int64_t(kh) * hd + d;
              dqkv(dst) += dK[c * hp + d] * scale;
              dqkv(dst + KV) += dV[c * hp + d];
            }
          });
        });
    Kokkos::fence();
  }

  // dq: one team per (b, q head, query tile); thread r owns query row q0 + r.
  {
    const size_t n_scr = size_t(3 * kTileQ * hp + 3 * kTileK * hd);
    int level = 0;
    const TeamPolicy policy = team_policy<S>(int64_t(B) * NH * nqt, n_scr, level);
    Kokkos::parallel_for(
        "tiled_attention_backward_dq", policy, KOKKOS_LAMBDA(const Member& m) {
          Scratch<S> buf(m.team_scratch(level), n_scr);
          S* Qs = buf.data();            // [kTileQ][hp] q · 1/√hd
          S* dOs = Qs + kTileQ * hp;     // [kTileQ][hp]
          S* dQ = dOs + kTileQ * hp;     // [kTileQ][hp] Σ dS·k
          S* Kt = dQ + kTileQ * hp;      // [hd][kTileK]
          S* Ks = Kt + hd * kTileK;      // [kTileK][hd]
          S* Vt = Ks + kTileK * hd;      // [hd][kTileK]
          const int64_t lr = m.league_rank();
          const int qt = int(lr % nqt);
          const int64_t bh = lr / nqt;
          const int h = int(bh % NH), b = int(bh / NH), kh = h / G;
          const int q0 = qt * kTileQ, nr = T - q0 < kTileQ ? T - q0 : kTileQ;
          Kokkos::parallel_for(Kokkos::TeamThreadRange(m, kTileQ), [&](const int r) {
            for (int d = 0; d < hd; ++d) {
              Qs[r * hp + d] = r < nr ? qkv((int64_t(b) * T + q0 + r) * W + int64_t(h) * hd + d) * scale : S(0);
              dOs[r * hp + d] = r < nr ? dout((int64_t(b) * T + q0 + r) * C + int64_t(h) * hd + d) : S(0);
              dQ[r * hp + d] = S(0);
            }
          });
          const int jend = causal ? q0 + nr : T;
          for (int k0 = 0; k0 < jend; k0 += kTileK) {
            const int nc = jend - k0 < kTileK ? jend - k0 : kTileK;
            m.team_barrier();
            Kokkos::parallel_for(Kokkos::TeamThreadRange(m, kTileK), [&](const int c) {
              for (int d = 0; d < hd; ++d) {
                const int64_t src = (int64_t(b) * T + k0 + c) * W + C + int64_t(kh) * hd + d;
                const S kv = c < nc ? qkv(src) : S(0), vv = c < nc ? qkv(src + KV) : S(0);
                Kt[d * kTileK + c] = kv;
                Ks[c * hd + d] = kv;
                Vt[d * kTileK + c] = vv;
              }
            });
            m.team_barrier();
            Kokkos::parallel_for(Kokkos::TeamThreadRange(m, nr), [&](const int r) {
              const int64_t i = q0 + r, row = (int64_t(b) * NH + h) * T + i;
              const S L = lse(row), Di = delta(row);
              if (L == big) return;  // fully masked row
              const int64_t vis = causal ? i + 1 - k0 : int64_t(nc);
              const int ncol = vis < nc ? int(vis) : nc;
              if (ncol <= 0) return;
              S s[kTileK], dp[kTileK];  // scores → dS;  dout_i·v_j
              row_times_tile<S, kTileK>(s, Qs + r * hp, Kt, hd);
              row_times_tile<S, kTileK>(dp, dOs + r * hp, Vt, hd);
              const uint64_t g0 = ((uint64_t(b + bo) * NHt + h + ho) * T + i) * T + k0;
              for (int c = 0; c < kTileK; ++c) {
                const bool live = c < ncol && (!use_mask || key_mask(int64_t(b) * T + k0 + c) != 0);
                const S p = live ? kmath::fast_exp(s[c] - L) : S(0);
                bool keep = true;
                if (use_dropout && live) keep = rng_uniform(dropout_key, g0 + c) >= pd;
                s[c] = p * (dp[c] * (keep ? keep_scale : S(0)) - Di);
              }
              scale_add_rows<S>(dQ + r * hp, S(1), s, Ks, ncol, hd, hd);
            });
          }
          m.team_barrier();
          Kokkos::parallel_for(Kokkos::TeamThreadRange(m, nr), [&](const int r) {
            for (int d = 0; d < hd; ++d) {
              dqkv((int64_t(b) * T + q0 + r) * W + int64_t(h) * hd + d) += dQ[r * hp + d] * scale;
            }
          });
        });
    Kokkos::fence();
  }
}

template <class S>
void tiled_attention_forward_cached(View1<S> out, ConstView1<S> qkv, View1<S> k_cache, View1<S> v_cache,
                                    ConstView1<int32_t> key_mask, int B, int T_new, int64_t pos0, int T_max,
                                    int NH, int NKV, int hd, bool causal) {
  check_groups(NH, NKV, "tiled_attention_forward_cached");
  require(pos0 >= 0 && pos0 + T_new <= T_max, "tiled_attention_forward_cached: positions " + std::to_string(pos0) +
                                                  ".." + std::to_string(pos0 + T_new) +
                                                  " exceed the cache length " + std::to_string(T_max));
  const int64_t C = int64_t(NH) * hd, KV = int64_t(NKV) * hd, W = C + 2 * KV;
  Kokkos::fence();
  Kokkos::parallel_for(
      "tiled_attention_cache_append", RangePolicy(0, int64_t(B) * T_new * KV), KOKKOS_LAMBDA(const int64_t i) {
        const int64_t d = i % hd, kh = (i / hd) % NKV, t = (i / KV) % T_new, b = i / (KV * T_new);
        const int64_t src = (b * T_new + t) * W + C + kh * hd + d;
        const int64_t dst = ((b * NKV + kh) * T_max + pos0 + t) * hd + d;
        k_cache(dst) = qkv(src);
        v_cache(dst) = qkv(src + KV);
      });
  Kokkos::fence();
  const KVLayout<S> kv{k_cache.data(), v_cache.data(), int64_t(NKV) * T_max * hd, hd, int64_t(T_max) * hd,
                       pos0 + T_new, pos0, T_max};
  forward_impl<S>(out, C, View1<S>(), qkv, W, kv, key_mask, B, T_new, NH, NKV, hd, causal, S(0), RngKey{}, 0, 0,
                  NH);
}

#define TESSERA_INSTANTIATE(S)                                                                                    \
  template void tiled_attention_forward<S>(View1<S>, View1<S>, ConstView1<S>, ConstView1<int32_t>,               \
                                           const AttentionShape&, S, RngKey);                                     \
  template void tiled_attention_backward<S>(View1<S>, View1<S>, ConstView1<S>, ConstView1<S>, ConstView1<S>,     \
                                            ConstView1<S>, ConstView1<int32_t>, const AttentionShape&, S, RngKey); \
  template void tiled_attention_forward_cached<S>(View1<S>, ConstView1<S>, View1<S>, View1<S>,                   \
                                                  ConstView1<int32_t>, int, int, int64_t, int, int, int, int, bool);
TESSERA_INSTANTIATE(float)
TESSERA_INSTANTIATE(double)

}  // namespace tessera
