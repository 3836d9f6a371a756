// Attention on fused qkv: forward against a naive per-head softmax loop (causal, key padding incl. a
// fully masked row, attention dropout); backward (dqkv) against central differences in double,
// tolerance 1e-6 norm-wise (kernel_test_util.hpp), accumulating into a random dqkv. Grouped-query attention
// (NKV < NH) against the same loop on kv heads repeated per group; the KV-cache path against full sequences.
#include <cmath>
#include "kernels/attention.hpp"
#include "kernel_test_util.hpp"

using namespace tessera;
using namespace ktest;

namespace {

struct Case {
  int B, T, C, NH;
  bool causal;
  bool padding;
  double p;
};

std::vector<int32_t> make_mask(const Case& k) {
  if (!k.padding) return {};
  std::vector<int32_t> m(int64_t(k.B) * k.T, 1);
  m[0] = 0;                              // b=0: key 0 padded → causal row 0 is fully masked
  m[k.T - 1] = 0;                        // b=0: last key padded
  if (k.B > 1) m[int64_t(k.T) + 2] = 0;  // b=1: a middle key padded
  return m;
}

// Naive reference: out[b,i,h] = Σ_j P'[b,h,i,j] v[b,j,h]; P masked softmax of q·k/√hd.
void reference(const Case& k, const std::vector<double>& qkv, const std::vector<int32_t>& mask, RngKey key,
               std::vector<double>& out, std::vector<double>& probs) {
  const int hd = k.C / k.NH, C3 = 3 * k.C;
  out.assign(int64_t(k.B) * k.T * k.C, 0.0);
  probs.assign(int64_t(k.B) * k.NH * k.T * k.T, 0.0);
  for (int b = 0; b < k.B; ++b)
    for (int h = 0; h < k.NH; ++h)
      for (int i = 0; i < k.T; ++i) {
        std::vector<double> s(k.T, 0.0);
        std::vector<bool> live(k.T, false);
        double mx = -1e300;
        for (int j = 0; j < k.T; ++j) {
          live[j] = !(k.causal && j > i) && (mask.empty() || mask[b * k.T + j] != 0);
          if (!live[j]) continue;
          for (int d = 0; d < hd; ++d)
            s[j] += qkv[(b * k.T + i) * C3 + h * hd + d] * qkv[(b * k.T + j) * C3 + k.C + h * hd + d];
          s[j] /= std::sqrt(double(hd));
          mx = std::max(mx, s[j]);
        }
        double z = 0;
        for (int j = 0; j < k.T; ++j) z += live[j] ? std::exp(s[j] - mx) : 0.0;
        for (int j = 0; j < k.T; ++j) {
          const int64_t idx = ((int64_t(b) * k.NH + h) * k.T + i) * k.T + j;
          const double pj = live[j] ? std::exp(s[j] - mx) / z : 0.0;
          probs[idx] = pj;
          double pd = pj;
          if (k.p > 0) pd = rng_uniform(key, idx) >= k.p ? pj / (1 - k.p) : 0.0;
          for (int d = 0; d < hd; ++d) out[(b * k.T + i) * k.C + h * hd + d] += pd * qkv[(b * k.T + j) * C3 + 2 * k.C + h * hd + d];
        }
      }
}

const Case kCases[] = {
    {2, 5, 12, 3, true, false, 0.0}, {1, 7, 10, 2, true, false, 0.0}, {2, 5, 12, 3, true, true, 0.0},
    {1, 7, 10, 2, false, true, 0.0}, {2, 5, 12, 3, false, false, 0.0}, {2, 5, 12, 3, true, false, 0.2},
    {2, 6, 10, 2, true, true, 0.3},
};

}  // namespace

TEST(KernelsAttention, ForwardMatchesNaiveLoop) {
  std::mt19937 rng(20);
  const RngKey key{5, 11, 3, 2};
  for (const Case& k : kCases) {
    auto qkv = randvec(int64_t(k.B) * k.T * 3 * k.C, rng, -1.5, 1.5);
    auto mask = make_mask(k);
    const int64_t natt = int64_t(k.B) * k.NH * k.T * k.T;
    View1<double> out("out", int64_t(k.B) * k.T * k.C), att("att", natt), attd("attd", k.p > 0 ? natt : 0);
    attention_forward<double>(out, att, attd, to_view(qkv), to_view(mask), {k.B, k.T, k.C, k.NH, k.causal}, k.p, key);
    std::vector<double> ref_out, ref_p;
    reference(k, qkv, mask, key, ref_out, ref_p);
    auto y = to_vec(out), P = to_vec(att);
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_TRUE(std::isfinite(y[i]));
      EXPECT_NEAR(y[i], ref_out[i], 1e-12) << "out[" << i << "]";
    }
    for (size_t i = 0; i < P.size(); ++i) EXPECT_NEAR(P[i], ref_p[i], 1e-13) << "att[" << i << "]";
    if (k.padding && k.causal) {
      for (int j = 0; j < k.T; ++j) EXPECT_EQ(P[j], 0.0) << "fully masked row must be all zero";
    }
    // float instantiation agrees
    std::vector<float> qf(qkv.begin(), qkv.end());
    View1<float> outf("outf", y.size()), attf("attf", natt), attdf("attdf", k.p > 0 ? natt : 0);
    attention_forward<float>(outf, attf, attdf, to_view(qf), to_view(mask), {k.B, k.T, k.C, k.NH, k.causal},
                             float(k.p), key);
    auto yf = to_vec(outf);
    for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(yf[i], y[i], 2e-5);
  }
}

TEST(KernelsAttention, GradcheckQKV) {
  std::mt19937 rng(21);
  const RngKey key{8, 2, 1, 4};
  for (const Case& k : kCases) {
    const int64_t nqkv = int64_t(k.B) * k.T * 3 * k.C, nout = int64_t(k.B) * k.T * k.C;
    const int64_t natt = int64_t(k.B) * k.NH * k.T * k.T;
    auto qkv = randvec(nqkv, rng, -1.5, 1.5), w = randvec(nout, rng), g0 = randvec(nqkv, rng);
    auto mask = make_mask(k);
    auto mv = to_view(mask);
    const AttentionShape shape{k.B, k.T, k.C, k.NH, k.causal};
    View1<double> out("out", nout), att("att", natt), attd("attd", k.p > 0 ? natt : 0), scratch("scratch", natt);
    auto loss = [&] {
      attention_forward<double>(out, att, attd, to_view(qkv), mv, shape, k.p, key);
      return dot(to_vec(out), w);
    };
    loss();
    auto dqkv = to_view(g0);
    attention_backward<double>(dqkv, scratch, to_view(w), to_view(qkv), att, attd, shape, k.p, key);
    auto analytic = minus(to_vec(dqkv), g0);
    auto numeric = numeric_grad(qkv, loss);
    expect_grad_close(analytic, numeric,
                      "attention dqkv B=" + std::to_string(k.B) + " T=" + std::to_string(k.T) +
                          " C=" + std::to_string(k.C) + " NH=" + std::to_string(k.NH) +
                          (k.causal ? " causal" : "") + (k.padding ? " padded" : "") + " p=" + std::to_string(k.p));
  }
}

// ---- Grouped-query attention (NKV < NH): qkv rows [q (NH·hd) | k (NKV·hd) | v (NKV·hd)], q head h reads kv
// head h / (NH/NKV). Reference: repeat each kv head for its group's q heads into a plain [B,T,3C] buffer and
// run the naive multi-head loop above.

namespace {

struct GqaCase {
  int B, T, NH, NKV, hd;
  bool causal, padding;
  double p;
};

const GqaCase kGqaCases[] = {
    {2, 5, 4, 2, 3, true, false, 0.0},  {2, 5, 4, 2, 3, false, false, 0.0}, {2, 6, 6, 2, 2, true, true, 0.0},
    {2, 6, 6, 2, 2, false, true, 0.0},  {2, 5, 4, 2, 3, true, true, 0.2},   {1, 4, 3, 1, 4, true, false, 0.0},
    {2, 4, 4, 4, 2, true, true, 0.0},
};

Case as_mha(const GqaCase& g) { return {g.B, g.T, g.NH * g.hd, g.NH, g.causal, g.padding, g.p}; }

std::vector<double> repeat_kv(const GqaCase& g, const std::vector<double>& qkv) {
  const int C = g.NH * g.hd, KV = g.NKV * g.hd, W = C + 2 * KV, G = g.NH / g.NKV;
  std::vector<double> full(int64_t(g.B) * g.T * 3 * C);
  for (int64_t n = 0; n < int64_t(g.B) * g.T; ++n)
    for (int h = 0; h < g.NH; ++h)
      for (int d = 0; d < g.hd; ++d) {
        const int kh = h / G;
        full[n * 3 * C + h * g.hd + d] = qkv[n * W + h * g.hd + d];
        full[n * 3 * C + C + h * g.hd + d] = qkv[n * W + C + kh * g.hd + d];
        full[n * 3 * C + 2 * C + h * g.hd + d] = qkv[n * W + C + KV + kh * g.hd + d];
      }
  return full;
}

std::string gqa_tag(const GqaCase& g) {
  return "B=" + std::to_string(g.B) + " T=" + std::to_string(g.T) + " NH=" + std::to_string(g.NH) +
         " NKV=" + std::to_string(g.NKV) + (g.causal ? " causal" : "") + (g.padding ? " padded" : "") +
         " p=" + std::to_string(g.p);
}

AttentionShape gqa_shape(const GqaCase& g) {
  AttentionShape s{g.B, g.T, g.NH * g.hd, g.NH, g.causal};
  s.NKV = g.NKV;
  return s;
}

}  // namespace

TEST(KernelsAttention, GQAForwardMatchesRepeatedKVReference) {
  std::mt19937 rng(22);
  const RngKey key{5, 11, 3, 2};
  for (const GqaCase& g : kGqaCases) {
    const int C = g.NH * g.hd, W = C + 2 * g.NKV * g.hd;
    const int64_t natt = int64_t(g.B) * g.NH * g.T * g.T;
    auto qkv = randvec(int64_t(g.B) * g.T * W, rng, -1.5, 1.5);
    auto mask = make_mask(as_mha(g));
    View1<double> out("out", int64_t(g.B) * g.T * C), att("att", natt), attd("attd", g.p > 0 ? natt : 0);
    attention_forward<double>(out, att, attd, to_view(qkv), to_view(mask), gqa_shape(g), g.p, key);
    std::vector<double> ref_out, ref_p;
    reference(as_mha(g), repeat_kv(g, qkv), mask, key, ref_out, ref_p);
    auto y = to_vec(out), P = to_vec(att);
    for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], ref_out[i], 1e-12) << "out[" << i << "] " << gqa_tag(g);
    for (size_t i = 0; i < P.size(); ++i) EXPECT_NEAR(P[i], ref_p[i], 1e-13) << "att[" << i << "] " << gqa_tag(g);
    std::vector<float> qf(qkv.begin(), qkv.end());
    View1<float> outf("outf", y.size()), attf("attf", natt), attdf("attdf", g.p > 0 ? natt : 0);
    attention_forward<float>(outf, attf, attdf, to_view(qf), to_view(mask), gqa_shape(g), float(g.p), key);
    auto yf = to_vec(outf);
    for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(yf[i], y[i], 2e-5) << gqa_tag(g);
  }
}

TEST(KernelsAttention, GQAGradcheckQKV) {
  std::mt19937 rng(23);
  const RngKey key{8, 2, 1, 4};
  for (const GqaCase& g : kGqaCases) {
    const int C = g.NH * g.hd, W = C + 2 * g.NKV * g.hd;
    const int64_t nqkv = int64_t(g.B) * g.T * W, nout = int64_t(g.B) * g.T * C;
    const int64_t natt = int64_t(g.B) * g.NH * g.T * g.T;
    auto qkv = randvec(nqkv, rng, -1.5, 1.5), w = randvec(nout, rng), g0 = randvec(nqkv, rng);
    auto mask = make_mask(as_mha(g));
    auto mv = to_view(mask);
    const AttentionShape shape = gqa_shape(g);
    View1<double> out("out", nout), att("att", natt), attd("attd", g.p > 0 ? natt : 0), scratch("scratch", natt);
    auto loss = [&] {
      attention_forward<double>(out, att, attd, to_view(qkv), mv, shape, g.p, key);
      return dot(to_vec(out), w);
    };
    loss();
    auto dqkv = to_view(g0);
    attention_backward<double>(dqkv, scratch, to_view(w), to_view(qkv), att, attd, shape, g.p, key);
    expect_grad_close(minus(to_vec(dqkv), g0), numeric_grad(qkv, loss), "GQA attention dqkv " + gqa_tag(g));
  }
}

// KV-cache inference: feeding a sequence in chunks (5, 1, 1, 1 tokens) through attention_forward_cached equals
// causal attention_forward on the whole sequence; one chunk of everything equals it without the causal mask too.
TEST(KernelsAttention, CachedChunksMatchFullSequence) {
  std::mt19937 rng(24);
  const RngKey key{0, 0, 0, 0};
  struct CacheCase { int B, NH, NKV, hd; bool padding; };
  for (const CacheCase& k : {CacheCase{2, 4, 2, 3, false}, CacheCase{2, 6, 2, 2, true}, CacheCase{2, 3, 3, 4, true},
                             CacheCase{1, 4, 1, 2, false}}) {
    const int T = 8, T_max = 11, C = k.NH * k.hd, KV = k.NKV * k.hd, W = C + 2 * KV;
    const std::string tag = "NH=" + std::to_string(k.NH) + " NKV=" + std::to_string(k.NKV) +
                            (k.padding ? " padded" : "");
    auto qkv = randvec(int64_t(k.B) * T * W, rng, -1.5, 1.5);
    std::vector<int32_t> mask, mask_max;  // [B,T] for the full pass, [B,T_max] for the cache
    if (k.padding) {
      mask = make_mask({k.B, T, C, k.NH, true, true, 0.0});
      mask_max.assign(int64_t(k.B) * T_max, 1);
      for (int b = 0; b < k.B; ++b)
        for (int j = 0; j < T; ++j) mask_max[b * T_max + j] = mask[b * T + j];
    }
    for (bool causal : {true, false}) {
      AttentionShape shape{k.B, T, C, k.NH, causal};
      shape.NKV = k.NKV;
      const int64_t natt = int64_t(k.B) * k.NH * T * T;
      View1<double> full("full", int64_t(k.B) * T * C), att("att", natt), attd("attd", 0);
      attention_forward<double>(full, att, attd, to_view(qkv), to_view(mask), shape, 0.0, key);
      auto ref = to_vec(full);
      const std::vector<int> chunks = causal ? std::vector<int>{5, 1, 1, 1} : std::vector<int>{T};
      View1<double> kc("k_cache", int64_t(k.B) * k.NKV * T_max * k.hd), vc("v_cache", kc.extent(0));
      int pos0 = 0;
      for (int tn : chunks) {
        std::vector<double> part(int64_t(k.B) * tn * W);
        for (int b = 0; b < k.B; ++b)
          for (int t = 0; t < tn; ++t)
            for (int c = 0; c < W; ++c) part[(int64_t(b) * tn + t) * W + c] = qkv[(int64_t(b) * T + pos0 + t) * W + c];
        View1<double> out("out", int64_t(k.B) * tn * C);
        attention_forward_cached<double>(out, to_view(part), kc, vc, to_view(mask_max), k.B, tn, pos0, T_max, k.NH,
                                         k.NKV, k.hd, causal);
        auto y = to_vec(out);
        for (int b = 0; b < k.B; ++b)
          for (int t = 0; t < tn; ++t)
            for (int c = 0; c < C; ++c)
              EXPECT_NEAR(y[(int64_t(b) * tn + t) * C + c], ref[(int64_t(b) * T + pos0 + t) * C + c], 1e-12)
                  << tag << (causal ? " causal" : "") << " b=" << b << " pos=" << pos0 + t << " c=" << c;
        // float agrees with the double result
        std::vector<float> pf(part.begin(), part.end());
        View1<float> kcf("kcf", kc.extent(0)), vcf("vcf", kc.extent(0)), outf("outf", y.size());
        if (pos0 == 0) {
          attention_forward_cached<float>(outf, to_view(pf), kcf, vcf, to_view(mask_max), k.B, tn, 0, T_max, k.NH,
                                          k.NKV, k.hd, causal);
          auto yf = to_vec(outf);
          for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(yf[i], y[i], 2e-5) << tag;
        }
        pos0 += tn;
      }
      // the caches hold every k and v row at its position
      auto kh = to_vec(kc), vh = to_vec(vc);
      for (int b = 0; b < k.B; ++b)
        for (int h = 0; h < k.NKV; ++h)
          for (int t = 0; t < T; ++t)
            for (int d = 0; d < k.hd; ++d) {
              const int64_t ci = ((int64_t(b) * k.NKV + h) * T_max + t) * k.hd + d, qi = (int64_t(b) * T + t) * W;
              EXPECT_EQ(kh[ci], qkv[qi + C + h * k.hd + d]);
              EXPECT_EQ(vh[ci], qkv[qi + C + KV + h * k.hd + d]);
            }
    }
  }
}
