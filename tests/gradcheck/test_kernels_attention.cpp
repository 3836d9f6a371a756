// Attention on fused qkv: forward against a naive per-head softmax loop (causal, key padding incl. a
// fully masked row, attention dropout); backward (dqkv) against central differences in double,
// tolerance 1e-6 norm-wise (kernel_test_util.hpp), accumulating into a random dqkv.
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
