// SMOTE with the feature head (src/model/smote_rows.hpp, append_smote_rows): the head
// input SMOTE interpolates is [pooled ; dense features] (width C + D); a synthetic row
// takes its source row's categories. Checked against a plain-loop reference: an
// independent SmoteRows on [h[CLS] ; dense] (the same options, step and rank) gives the
// synthetic rows, the BERT head (pooler tanh, embedding lookup, classifier) is evaluated
// by hand in double, and the mean cross-entropy over real + synthetic rows must equal the
// model's loss; with the dense part of every synthetic row (as the model uses it) a row
// interpolated between its source and a neighbour.
#include <gtest/gtest.h>
#include <cmath>
#include <memory>
#include <random>
#include <vector>
#include "src/model/smote_rows.hpp"
#include "src/model/transformer.hpp"
#include "tiny_transformer_config.hpp"

using namespace tessera;

namespace {

std::vector<double> host_copy(const View1<double>& v) {
  auto h = Kokkos::create_mirror_view(v);
  Kokkos::deep_copy(h, v);
  return std::vector<double>(h.data(), h.data() + h.extent(0));
}

}  // namespace

TEST(FeatureHeadSmote, InterpolatesDenseFeaturesAndCopiesCategories) {
  const int B = 4, T = 6;
  TransformerConfig cfg = tessera_test::tiny_transformer_config(Family::BERT, HeadKind::SequenceClassification);
  cfg.features.dense_dim = 2;
  cfg.features.categorical_cardinalities = {3};
  cfg.features.embedding_dim = 2;
  const int64_t C = cfg.n_embd, D = 2, E = 2, K = cfg.num_labels;
  Transformer<double> model(cfg);
  model.init_weights(31);
  std::vector<int32_t> tokens, mask, labels = {1, 1, 0, 1}, cat = {1, 2, 0, 1};
  std::vector<float> dense = {0.5f, -1.0f, 2.0f, 0.25f, -0.75f, 1.5f, 1.0f, 1.0f};
  std::mt19937_64 rng(8);
  std::uniform_int_distribution<int32_t> tok(2, cfg.vocab_size - 1);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) tokens.push_back(tok(rng)), mask.push_back(t < T - b ? 1 : 0);
  ModelInputs in;
  in.tokens = tokens.data();
  in.attention_mask = mask.data();
  in.labels = labels.data();
  in.dense_features = dense.data();
  in.categorical_features = cat.data();
  ForwardOptions opt;
  opt.training = true;  // no dropout configured: only SMOTE differs from evaluation
  opt.seed = 5;
  opt.step = 3;
  SmoteOptions so;
  so.ratio = 1;
  so.k = 2;
  so.minority = {0, 1, 0};
  so.seed = 11;
  model.set_smote(std::make_shared<SmoteRows>(so, C + D));
  const double loss = model.forward(in, B, T, opt);

  // Reference: the synthetic rows from [h[CLS] ; dense].
  const std::vector<double> hs = host_copy(model.hidden_states());
  std::vector<double> x(size_t(B * (C + D)));
  for (int b = 0; b < B; ++b) {
    for (int64_t c = 0; c < C; ++c) x[size_t(b * (C + D) + c)] = hs[size_t(int64_t(b) * T * C + c)];
    for (int64_t j = 0; j < D; ++j) x[size_t(b * (C + D) + C + j)] = double(dense[size_t(b * D + j)]);
  }
  SmoteRows ref(so, C + D);
  const SmoteBatch sb = ref.synthesize(x.data(), labels.data(), B, B, opt.step, 0);
  ASSERT_GT(sb.count(), 0);
  // Every synthetic row lies on the segment from its source row to another class-1 row.
  for (int64_t s = 0; s < sb.count(); ++s) {
    const int src = sb.source[size_t(s)];
    bool on_segment = false;
    for (int nb = 0; nb < B; ++nb) {
      if (nb == src || labels[size_t(nb)] != 1) continue;
      double err = 0;
      for (int64_t c = 0; c < C + D; ++c) {
        const double want = x[size_t(src * (C + D) + c)] +
                            sb.lambda[size_t(s)] * (x[size_t(nb * (C + D) + c)] - x[size_t(src * (C + D) + c)]);
        err = std::max(err, std::abs(sb.rows[size_t(s * (C + D) + c)] - want));
      }
      on_segment = on_segment || err < 1e-12;
    }
    EXPECT_TRUE(on_segment) << "synthetic row " << s;
  }
  // The head by hand on real + synthetic rows.
  auto value = [&](const std::string& n) { return host_copy(model.params().value(n)); };
  const std::vector<double> wp = value("pooler.dense.weight"), bp = value("pooler.dense.bias");
  const std::vector<double> wc = value("classifier.weight"), bc = value("classifier.bias");
  const std::vector<double> table = value("feature_head.categorical_embedding.weight");
  const int64_t Din = C + D + E;
  ASSERT_EQ(int64_t(wc.size()), K * Din);
  double total = 0;
  const int64_t rows = B + sb.count();
  for (int64_t r = 0; r < rows; ++r) {
    const bool real = r < B;
    const double* xr = real ? &x[size_t(r * (C + D))] : &sb.rows[size_t((r - B) * (C + D))];
    const int32_t c0 = real ? cat[size_t(r)] : cat[size_t(sb.source[size_t(r - B)])];
    const int32_t label = real ? labels[size_t(r)] : sb.labels[size_t(r - B)];
    std::vector<double> u(static_cast<size_t>(Din));
    for (int64_t o = 0; o < C; ++o) {
      double a = bp[size_t(o)];
      for (int64_t i = 0; i < C; ++i) a += wp[size_t(o * C + i)] * xr[i];
      u[size_t(o)] = std::tanh(a);
    }
    for (int64_t j = 0; j < D; ++j) u[size_t(C + j)] = xr[C + j];
    for (int64_t e = 0; e < E; ++e) u[size_t(C + D + e)] = table[size_t(c0 * E + e)];
    std::vector<double> z(static_cast<size_t>(K));
    double mx = -1e300;
    for (int64_t k = 0; k < K; ++k) {
      z[size_t(k)] = bc[size_t(k)];
      for (int64_t i = 0; i < Din; ++i) z[size_t(k)] += wc[size_t(k * Din + i)] * u[size_t(i)];
      mx = std::max(mx, z[size_t(k)]);
    }
    double se = 0;
    for (double v : z) se += std::exp(v - mx);
    total += mx + std::log(se) - z[size_t(label)];
  }
  EXPECT_NEAR(loss, total / double(rows), 1e-10);
  // Without SMOTE the loss is the real rows' alone (a different value).
  model.set_smote(nullptr);
  EXPECT_GT(std::abs(model.forward(in, B, T, opt) - loss), 1e-8);
}
