// LayerNorm and token+position embedding: forward against direct formulas,
// backward against central differences in double (tolerance 1e-6), grads accumulate into random buffers.
#include <cmath>
#include "kernels/embedding.hpp"
#include "kernels/layernorm.hpp"
#include "kernel_test_util.hpp"

using namespace tessera;
using namespace ktest;

TEST(KernelsLayerNorm, ForwardMatchesFormula) {
  std::mt19937 rng(10);
  const int64_t N = 7;
  const int C = 10;
  const double eps = 1e-5;
  auto x = randvec(N * C, rng, -2, 2), w = randvec(C, rng), b = randvec(C, rng);
  View1<double> out("out", N * C), mean("mean", N), rstd("rstd", N);
  layernorm_forward<double>(out, mean, rstd, to_view(x), to_view(w), to_view(b), N, C, eps);
  auto y = to_vec(out), mu = to_vec(mean), rs = to_vec(rstd);
  for (int64_t n = 0; n < N; ++n) {
    double m = 0, v = 0;
    for (int c = 0; c < C; ++c) m += x[n * C + c] / C;
    for (int c = 0; c < C; ++c) v += (x[n * C + c] - m) * (x[n * C + c] - m) / C;
    EXPECT_NEAR(mu[n], m, 1e-14);
    EXPECT_NEAR(rs[n], 1 / std::sqrt(v + eps), 1e-12);
    for (int c = 0; c < C; ++c) EXPECT_NEAR(y[n * C + c], (x[n * C + c] - m) / std::sqrt(v + eps) * w[c] + b[c], 1e-12);
  }
  // float instantiation agrees with double
  std::vector<float> xf(x.begin(), x.end()), wf(w.begin(), w.end()), bf(b.begin(), b.end());
  View1<float> outf("outf", N * C), meanf("meanf", N), rstdf("rstdf", N);
  layernorm_forward<float>(outf, meanf, rstdf, to_view(xf), to_view(wf), to_view(bf), N, C, 1e-5f);
  auto yf = to_vec(outf);
  for (int64_t i = 0; i < N * C; ++i) EXPECT_NEAR(yf[i], y[i], 1e-5);
}

TEST(KernelsLayerNorm, Gradcheck) {
  std::mt19937 rng(11);
  for (auto [N, C] : {std::pair<int64_t, int>{10, 12}, {7, 10}, {3, 37}}) {
    auto x = randvec(N * C, rng, -2, 2), w = randvec(C, rng, 0.5, 1.5), b = randvec(C, rng);
    auto wl = randvec(N * C, rng);
    auto gx0 = randvec(N * C, rng), gw0 = randvec(C, rng), gb0 = randvec(C, rng);
    View1<double> out("out", N * C), mean("mean", N), rstd("rstd", N);
    auto loss = [&] {
      layernorm_forward<double>(out, mean, rstd, to_view(x), to_view(w), to_view(b), N, C, 1e-5);
      return dot(to_vec(out), wl);
    };
    loss();
    auto dx = to_view(gx0), dw = to_view(gw0), db = to_view(gb0);
    layernorm_backward<double>(dx, dw, db, to_view(wl), to_view(x), to_view(w), mean, rstd, N, C);
    expect_grad_close(minus(to_vec(dx), gx0), numeric_grad(x, loss), "layernorm dinp");
    expect_grad_close(minus(to_vec(dw), gw0), numeric_grad(w, loss), "layernorm dweight");
    expect_grad_close(minus(to_vec(db), gb0), numeric_grad(b, loss), "layernorm dbias");
  }
}

// Tokens include repeats (rows hit several times) and, for the vocab-parallel shard, ids outside it.
TEST(KernelsEmbedding, ForwardAndGradcheck) {
  std::mt19937 rng(12);
  struct Case { int B, T, C; int64_t V, vstart, vlocal; bool wpe; };
  for (Case k : {Case{2, 5, 12, 61, 0, 61, true}, Case{1, 7, 10, 37, 0, 37, true}, Case{2, 5, 12, 61, 20, 25, true},
                 Case{2, 3, 8, 37, 0, 37, false}}) {
    const int64_t BT = int64_t(k.B) * k.T;
    std::vector<int32_t> tok(BT);
    std::uniform_int_distribution<int32_t> ud(0, int32_t(k.V - 1));
    for (auto& t : tok) t = ud(rng);
    tok[BT - 1] = tok[0];  // a repeated id
    auto wte = randvec(k.vlocal * k.C, rng), wpe = k.wpe ? randvec(int64_t(k.T) * k.C, rng) : std::vector<double>{};
    auto wl = randvec(BT * k.C, rng), gte0 = randvec(wte.size(), rng), gpe0 = randvec(wpe.size(), rng);
    View1<double> out("out", BT * k.C);
    auto tv = to_view(tok);
    auto loss = [&] {
      embedding_forward<double>(out, tv, to_view(wte), to_view(wpe), k.B, k.T, k.C, k.vstart, k.vlocal);
      return dot(to_vec(out), wl);
    };
    loss();
    auto y = to_vec(out);
    for (int64_t bt = 0; bt < BT; ++bt)
      for (int c = 0; c < k.C; ++c) {
        const int64_t row = tok[bt] - k.vstart;
        double ref = (row >= 0 && row < k.vlocal) ? wte[row * k.C + c] : 0.0;
        if (k.wpe) ref += wpe[(bt % k.T) * k.C + c];
        EXPECT_DOUBLE_EQ(y[bt * k.C + c], ref);
      }
    auto dte = to_view(gte0), dpe = to_view(gpe0);
    embedding_backward<double>(dte, dpe, to_view(wl), tv, k.B, k.T, k.C, k.vstart, k.vlocal);
    auto num_te = numeric_grad(wte, loss);
    bool any_row = false;
    for (double g : num_te) any_row |= g != 0.0;
    if (any_row) expect_grad_close(minus(to_vec(dte), gte0), num_te, "embedding dwte");
    else EXPECT_EQ(minus(to_vec(dte), gte0), num_te);
    if (k.wpe) expect_grad_close(minus(to_vec(dpe), gpe0), numeric_grad(wpe, loss), "embedding dwpe");
  }
}
