// Kernels of the Llama and BERT families: RMSNorm, RoPE (against HF's rotate_half formula), SwiGLU, erf-GELU,
// row gather, bias on a column slice. Forward against plain loops (double, and float against the double
// reference), backward against central differences in double (tolerance 1e-6, kernel_test_util.hpp), each
// accumulating backward starting from a random non-zero gradient buffer.
#include <cmath>
#include "kernels/bias.hpp"
#include "kernels/gather_rows.hpp"
#include "kernels/gelu.hpp"
#include "kernels/rmsnorm.hpp"
#include "kernels/rope.hpp"
#include "kernels/swiglu.hpp"
#include "kernel_test_util.hpp"

using namespace tessera;
using namespace ktest;

namespace {

std::vector<float> to_float(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

void expect_float_close(const std::vector<float>& f, const std::vector<double>& ref, double tol,
                        const std::string& what) {
  ASSERT_EQ(f.size(), ref.size()) << what;
  for (size_t i = 0; i < f.size(); ++i)
    EXPECT_NEAR(double(f[i]), ref[i], tol * std::max(1.0, std::abs(ref[i]))) << what << "[" << i << "]";
}

// ---- RMSNorm reference: y = x / sqrt(mean(x²) + eps) · w
std::vector<double> rmsnorm_ref(const std::vector<double>& x, const std::vector<double>& w, int64_t N, int C,
                                double eps, std::vector<double>* rstd = nullptr) {
  std::vector<double> y(x.size());
  if (rstd) rstd->resize(N);
  for (int64_t n = 0; n < N; ++n) {
    double ss = 0;
    for (int c = 0; c < C; ++c) ss += x[n * C + c] * x[n * C + c];
    const double r = 1.0 / std::sqrt(ss / C + eps);
    if (rstd) (*rstd)[n] = r;
    for (int c = 0; c < C; ++c) y[n * C + c] = x[n * C + c] * r * w[c];
  }
  return y;
}

// ---- RoPE reference, HF transformers LlamaRotaryEmbedding + apply_rotary_pos_emb literally:
// inv_freq = 1/theta^(arange(0,hd,2)/hd); emb = cat(freqs, freqs); x·cos(emb) + rotate_half(x)·sin(emb),
// rotate_half(x) = cat(−x[hd/2:], x[:hd/2]); applied to the q and k heads of each row.
std::vector<double> rope_ref(const std::vector<double>& qkv, int64_t N, int T, int64_t pos_offset, int NH, int NKV,
                             int hd, double theta) {
  std::vector<double> y = qkv;
  const int64_t W = int64_t(NH + 2 * NKV) * hd;
  const int half = hd / 2;
  for (int64_t n = 0; n < N; ++n) {
    const double p = double(pos_offset + n % T);
    std::vector<double> cos_e(hd), sin_e(hd);
    for (int k = 0; k < hd; ++k) {
      const int i = k % half;  // emb = cat(freqs, freqs)
      const double inv_freq = 1.0 / std::pow(theta, double(2 * i) / hd);
      cos_e[k] = std::cos(p * inv_freq);
      sin_e[k] = std::sin(p * inv_freq);
    }
    for (int h = 0; h < NH + NKV; ++h) {
      const double* x = qkv.data() + n * W + int64_t(h) * hd;
      double* o = y.data() + n * W + int64_t(h) * hd;
      for (int k = 0; k < hd; ++k) {
        const double rot = k < half ? -x[k + half] : x[k - half];
        o[k] = x[k] * cos_e[k] + rot * sin_e[k];
      }
    }
  }
  return y;
}

double sigmoid(double g) { return 1.0 / (1.0 + std::exp(-g)); }

}  // namespace

TEST(KernelsLlamaBert, RMSNormForwardAndGradcheck) {
  std::mt19937 rng(31);
  for (auto [N, C] : {std::pair<int64_t, int>{3, 8}, {5, 37}, {2, 48}}) {
    const double eps = 1e-5;
    auto x = randvec(N * C, rng, -2, 2), w = randvec(C, rng, 0.5, 1.5), dy = randvec(N * C, rng);
    auto gx0 = randvec(N * C, rng), gw0 = randvec(C, rng);
    View1<double> out("out", N * C), rstd("rstd", N);
    rmsnorm_forward<double>(out, rstd, to_view(x), to_view(w), N, C, eps);
    std::vector<double> ref_rstd;
    auto ref = rmsnorm_ref(x, w, N, C, eps, &ref_rstd);
    auto y = to_vec(out), r = to_vec(rstd);
    for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], ref[i], 1e-13) << "rmsnorm out[" << i << "]";
    for (int64_t n = 0; n < N; ++n) EXPECT_NEAR(r[n], ref_rstd[n], 1e-13 * ref_rstd[n]);
    // float forward
    auto xf = to_float(x), wf = to_float(w);
    View1<float> outf("outf", N * C), rstdf("rstdf", N);
    rmsnorm_forward<float>(outf, rstdf, to_view(xf), to_view(wf), N, C, 1e-5f);
    expect_float_close(to_vec(outf), ref, 1e-5, "rmsnorm float out");
    // backward
    auto dinp = to_view(gx0), dw = to_view(gw0);
    rmsnorm_backward<double>(dinp, dw, to_view(dy), to_view(x), to_view(w), rstd, N, C);
    auto loss = [&] { return dot(rmsnorm_ref(x, w, N, C, eps), dy); };
    const std::string tag = " N=" + std::to_string(N) + " C=" + std::to_string(C);
    expect_grad_close(minus(to_vec(dinp), gx0), numeric_grad(x, loss), "rmsnorm dinp" + tag);
    expect_grad_close(minus(to_vec(dw), gw0), numeric_grad(w, loss), "rmsnorm dweight" + tag);
    // the kernel's own forward gives the same numeric gradient as the reference loop
    auto kloss = [&] {
      rmsnorm_forward<double>(out, rstd, to_view(x), to_view(w), N, C, eps);
      return dot(to_vec(out), dy);
    };
    expect_grad_close(minus(to_vec(dinp), gx0), numeric_grad(x, kloss), "rmsnorm dinp (kernel forward)" + tag);
  }
}

TEST(KernelsLlamaBert, RoPEMatchesHFRotateHalfAndGradcheck) {
  std::mt19937 rng(32);
  struct Case { int B, T; int64_t pos_offset; int NH, NKV, hd; double theta; };
  for (const Case& k : {Case{2, 5, 0, 2, 2, 8, 10000.0}, Case{1, 7, 3, 4, 2, 6, 10000.0},
                        Case{2, 3, 11, 6, 2, 4, 500000.0}, Case{1, 200, 4000, 1, 1, 16, 10000.0}}) {
    const int64_t N = int64_t(k.B) * k.T, W = int64_t(k.NH + 2 * k.NKV) * k.hd;
    auto x = randvec(N * W, rng, -1.5, 1.5);
    auto ref = rope_ref(x, N, k.T, k.pos_offset, k.NH, k.NKV, k.hd, k.theta);
    auto v = to_view(x);
    rope_forward<double>(v, N, k.T, k.pos_offset, k.NH, k.NKV, k.hd, k.theta);
    auto y = to_vec(v);
    const std::string tag = " NH=" + std::to_string(k.NH) + " NKV=" + std::to_string(k.NKV) +
                            " hd=" + std::to_string(k.hd) + " pos_offset=" + std::to_string(k.pos_offset);
    for (int64_t i = 0; i < N * W; ++i) {
      EXPECT_NEAR(y[i], ref[i], 1e-12) << "rope out[" << i << "]" << tag;
      if (i % W >= int64_t(k.NH + k.NKV) * k.hd) {
        EXPECT_EQ(y[i], x[i]) << "v must be untouched" << tag;
      }
    }
    // float forward
    auto vf = to_view(to_float(x));
    rope_forward<float>(vf, N, k.T, k.pos_offset, k.NH, k.NKV, k.hd, k.theta);
    expect_float_close(to_vec(vf), ref, 1e-6, "rope float" + tag);
    // backward: rotation by −a undoes the forward, and is the gradient of L = Σ w·rope(x)
    auto back = to_view(y);
    rope_backward<double>(back, N, k.T, k.pos_offset, k.NH, k.NKV, k.hd, k.theta);
    auto xb = to_vec(back);
    for (int64_t i = 0; i < N * W; ++i) EXPECT_NEAR(xb[i], x[i], 1e-12) << "rope inverse" << tag;
    if (N * W > 2000) continue;  // the long-position case checks values only
    auto w = randvec(N * W, rng);
    auto dq = to_view(w);
    rope_backward<double>(dq, N, k.T, k.pos_offset, k.NH, k.NKV, k.hd, k.theta);
    auto num = numeric_grad(x, [&] {
      auto t = to_view(x);
      rope_forward<double>(t, N, k.T, k.pos_offset, k.NH, k.NKV, k.hd, k.theta);
      return dot(to_vec(t), w);
    });
    expect_grad_close(to_vec(dq), num, "rope dqkv" + tag);
  }
}

TEST(KernelsLlamaBert, SwiGLUForwardAndGradcheck) {
  std::mt19937 rng(33);
  for (auto [N, F] : {std::pair<int64_t, int64_t>{3, 5}, {4, 17}}) {
    auto gu = randvec(N * 2 * F, rng, -4, 4), dy = randvec(N * F, rng), g0 = randvec(N * 2 * F, rng);
    auto ref_fn = [&] {
      std::vector<double> y(N * F);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t f = 0; f < F; ++f) {
          const double g = gu[n * 2 * F + f], u = gu[n * 2 * F + F + f];
          y[n * F + f] = g * sigmoid(g) * u;
        }
      return y;
    };
    auto ref = ref_fn();
    View1<double> out("out", N * F);
    swiglu_forward<double>(out, to_view(gu), N, F);
    auto y = to_vec(out);
    for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], ref[i], 1e-14) << "swiglu out[" << i << "]";
    View1<float> outf("outf", N * F);
    swiglu_forward<float>(outf, to_view(to_float(gu)), N, F);
    expect_float_close(to_vec(outf), ref, 1e-5, "swiglu float");
    auto dgu = to_view(g0);
    swiglu_backward<double>(dgu, to_view(gu), to_view(dy), N, F);
    auto num = numeric_grad(gu, [&] {
      swiglu_forward<double>(out, to_view(gu), N, F);
      return dot(to_vec(out), dy);
    });
    expect_grad_close(minus(to_vec(dgu), g0), num, "swiglu dgate_up F=" + std::to_string(F));
  }
}

TEST(KernelsLlamaBert, GeluErfForwardAndGradcheck) {
  std::mt19937 rng(34);
  for (int64_t n : {1, 13, 61}) {
    auto x = randvec(n, rng, -4, 4), dy = randvec(n, rng), g0 = randvec(n, rng);
    std::vector<double> ref(n);
    for (int64_t i = 0; i < n; ++i) ref[i] = 0.5 * x[i] * (1 + std::erf(x[i] / std::sqrt(2.0)));
    View1<double> out("out", n);
    gelu_erf_forward<double>(out, to_view(x), n);
    auto y = to_vec(out);
    for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(y[i], ref[i], 1e-14) << "gelu_erf out[" << i << "]";
    View1<float> outf("outf", n);
    gelu_erf_forward<float>(outf, to_view(to_float(x)), n);
    expect_float_close(to_vec(outf), ref, 1e-6, "gelu_erf float");
    auto dinp = to_view(g0);
    gelu_erf_backward<double>(dinp, to_view(x), to_view(dy), n);
    auto num = numeric_grad(x, [&] {
      gelu_erf_forward<double>(out, to_view(x), n);
      return dot(to_vec(out), dy);
    });
    expect_grad_close(minus(to_vec(dinp), g0), num, "gelu_erf dinp n=" + std::to_string(n));
  }
}

TEST(KernelsLlamaBert, GatherRowsForwardAndGradcheckWithRepeats) {
  std::mt19937 rng(35);
  const int64_t R = 7, M = 5;
  const int C = 19;
  const std::vector<int32_t> rows = {3, 0, 6, 3, 3};  // row 3 three times: backward must sum
  auto x = randvec(R * C, rng), dy = randvec(M * C, rng), g0 = randvec(R * C, rng);
  auto rv = to_view(rows);
  View1<double> out("out", M * C);
  gather_rows_forward<double>(out, to_view(x), rv, M, C);
  auto y = to_vec(out);
  for (int64_t m = 0; m < M; ++m)
    for (int c = 0; c < C; ++c) EXPECT_EQ(y[m * C + c], x[rows[m] * C + c]);
  View1<float> outf("outf", M * C);
  gather_rows_forward<float>(outf, to_view(to_float(x)), rv, M, C);
  expect_float_close(to_vec(outf), y, 1e-7, "gather_rows float");
  auto dinp = to_view(g0);
  gather_rows_backward<double>(dinp, to_view(dy), rv, M, C);
  auto num = numeric_grad(x, [&] {
    gather_rows_forward<double>(out, to_view(x), rv, M, C);
    return dot(to_vec(out), dy);
  });
  expect_grad_close(minus(to_vec(dinp), g0), num, "gather_rows dinp");
  // rows never gathered keep their initial gradient exactly
  auto d = to_vec(dinp);
  for (int c = 0; c < C; ++c) EXPECT_EQ(d[1 * C + c], g0[1 * C + c]);
}

TEST(KernelsLlamaBert, BiasOnColumnSliceOfWiderBuffer) {
  std::mt19937 rng(36);
  // a [N, LD] buffer (e.g. fused qkv), bias on columns [col0, col0 + OC)
  const int64_t N = 6, LD = 45, col0 = 12, OC = 21;
  auto base = randvec(N * LD, rng), b = randvec(OC, rng), dy = randvec(N * LD, rng), g0 = randvec(OC, rng);
  auto run = [&](const std::vector<double>& bias) {
    auto buf = to_view(base);
    bias_add_forward<double>(slice(buf, col0, (N - 1) * LD + OC), to_view(bias), N, OC, LD);
    return to_vec(buf);
  };
  auto y = run(b);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < LD; ++c) {
      const bool in = c >= col0 && c < col0 + OC;
      EXPECT_EQ(y[n * LD + c], base[n * LD + c] + (in ? b[c - col0] : 0.0)) << n << "," << c;
    }
  auto db = to_view(g0);
  auto dyv = to_view(dy);
  bias_backward<double>(db, slice(dyv, col0, (N - 1) * LD + OC), N, OC, LD);
  auto num = numeric_grad(b, [&] { return dot(run(b), dy); });
  expect_grad_close(minus(to_vec(db), g0), num, "bias dbias on a column slice");
  // ld = 0 keeps the dense behaviour (2 rows of OC)
  auto dense = to_view(base);
  bias_add_forward<double>(dense, to_view(b), 2, OC);
  auto yd = to_vec(dense);
  for (int64_t i = 0; i < 2 * OC; ++i) EXPECT_EQ(yd[i], base[i] + b[i % OC]);
}
