// explain over a feature-head classifier (src/explain/text_model.hpp): the auxiliary
// feature columns are players after the words. On a tiny random-init model with a feature
// head (a numeric column, a text-derived feature, a categorical column), every family
// (BERT, RoBERTa, GPT-2, Llama) for SHAP and IG:
//   - the value of a coalition equals a plain forward of the hand-built row (removed words
//     [MASK], removed dense columns standardised 0 with the missing indicator off, a
//     removed categorical column in the unknown bucket)
//   - exact SHAP and KernelSHAP with every coalition enumerated equal the Shapley values
//     of a brute force over all subsets (the |S|!(N−|S|−1)!/N! formula, one plain forward
//     per subset), and satisfy efficiency Σφ = v(N) − v(∅)
//   - integrated gradients: the dense columns get gradient × (x − baseline), the
//     categorical column is excluded (NaN), completeness holds
//   - feature_schema_difference names the first differing column
#include <gtest/gtest.h>
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <cmath>
#include <numeric>

#include "explain/explain_fixture.hpp"
#include "io/auxiliary_features.hpp"
#include "src/explain/integrated_gradients.hpp"
#include "src/explain/shapley.hpp"

using namespace tessera;
using namespace tessera::explain;
using namespace explain_test;

namespace {

FeatureSchema schema() {
  FeatureSchema s;
  s.numeric.push_back({"amount", 50.0, 20.0, {}});
  s.text.push_back({"words", 2.0, 1.5, {}});
  s.categorical.push_back({"city", {"oslo", "rome"}});
  return s;
}

struct FeatureClassifier {
  explicit FeatureClassifier(Family f = Family::BERT) : family(f) { model.init_weights(7); }
  Family family;
  TransformerConfig cfg = [this] {
    TransformerConfig c = tiny_config(family, HeadKind::SequenceClassification);
    c.features.dense_dim = 3;  // amount, amount:missing, text:words
    c.features.categorical_cardinalities = {3};
    c.features.embedding_dim = 4;
    c.features.hidden = {8};
    c.features.activation = "tanh";
    return c;
  }();
  Transformer<float> model{cfg};
  TextModel tm{model, kMask, kPad, 5, MPI_COMM_SELF};  // batch 5: coalitions cut into uneven batches
};

const Family kFamilies[] = {Family::BERT, Family::RoBERTa, Family::GPT2, Family::Llama};


TextInstance instance(const std::string& text, const std::string& amount, const std::string& city,
                      Family family = Family::BERT) {
  const TaskTokenizer tok = toy_tokenizer(family == Family::BERT || family == Family::RoBERTa);
  TextInstance x = make_text_instance(text, tok, 40, Granularity::Word);
  const FeatureSchema s = schema();
  const FeatureMatrix m = compute_features(s, {{text, "", {amount, city}, {0, 0}, "test:1"}},
                                           [&](const std::string& t) { return int64_t(tok.encode(t).ids.size()); });
  attach_feature_columns(x, s, m.dense.data(), m.categorical.data(), {amount, city}, {0, 0});
  return x;
}

// p(label) of the coalition `keep` (players: words, then amount, text:words, city), by hand.
double plain_value(FeatureClassifier& c, const TextInstance& x, const std::vector<uint8_t>& keep, int label) {
  std::vector<int32_t> ids = x.ids, mask(ids.size(), 1), types(ids.size(), 0);
  for (int f = 0; f < x.M(); ++f)
    if (!keep[size_t(f)])
      for (int t : x.feature_tokens[size_t(f)]) ids[size_t(t)] = kMask;
  std::vector<float> dense = x.dense;
  std::vector<int32_t> cat = x.categorical;
  const size_t M = size_t(x.M());
  if (!keep[M]) dense[0] = 0, dense[1] = 0;  // amount: the training mean, indicator off
  if (!keep[M + 1]) dense[2] = 0;            // text:words: the training mean
  if (!keep[M + 2]) cat[0] = 0;              // city: the unknown bucket
  ModelInputs in;
  in.tokens = ids.data();
  in.attention_mask = mask.data();
  in.token_types = types.data();
  in.dense_features = dense.data();
  in.categorical_features = cat.data();
  c.model.forward(in, 1, int(ids.size()), ForwardOptions{});
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), c.model.logits());
  const int64_t K = c.cfg.num_labels;
  double mx = -INFINITY, z = 0;
  for (int64_t k = 0; k < K; ++k) mx = std::max(mx, double(h(size_t(k))));
  for (int64_t k = 0; k < K; ++k) z += std::exp(double(h(size_t(k))) - mx);
  return std::exp(double(h(size_t(label))) - mx) / z;
}

// Shapley values by the subset formula over every subset (plain forwards).
std::vector<double> brute_force_shapley(FeatureClassifier& c, const TextInstance& x, int label) {
  const int N = x.players();
  std::vector<double> v(size_t(1) << N);
  for (uint32_t s = 0; s < v.size(); ++s) {
    std::vector<uint8_t> keep(static_cast<size_t>(N));
    for (int i = 0; i < N; ++i) keep[size_t(i)] = (s >> i) & 1u;
    v[s] = plain_value(c, x, keep, label);
  }
  std::vector<double> fact(size_t(N) + 1, 1.0);
  for (int i = 1; i <= N; ++i) fact[size_t(i)] = fact[size_t(i - 1)] * i;
  std::vector<double> phi(size_t(N), 0.0);
  for (int i = 0; i < N; ++i)
    for (uint32_t s = 0; s < v.size(); ++s) {
      if ((s >> i) & 1u) continue;
      const int k = __builtin_popcount(s);
      phi[size_t(i)] += fact[size_t(k)] * fact[size_t(N - k - 1)] / fact[size_t(N)] * (v[s | (1u << i)] - v[s]);
    }
  return phi;
}

}  // namespace

TEST(FeatureHeadExplain, ColumnsArePlayersAfterTheWords) {
  const TextInstance x = instance("ab cd ef", "80", "rome");
  ASSERT_EQ(x.M(), 3);
  ASSERT_EQ(x.players(), 6);
  ASSERT_EQ(x.columns.size(), 3u);
  EXPECT_EQ(x.columns[0].name, "amount");
  EXPECT_EQ(x.columns[0].kind, "numeric");
  EXPECT_EQ(x.columns[0].value, "80");
  EXPECT_EQ(x.columns[0].dense, (std::vector<int>{0, 1}));
  EXPECT_EQ(x.columns[1].name, "text:words");
  EXPECT_EQ(x.columns[1].value, "3");
  EXPECT_EQ(x.columns[2].name, "city");
  EXPECT_EQ(x.columns[2].categorical, 0);
  EXPECT_FLOAT_EQ(x.dense[0], 1.5f);  // (80 − 50) / 20
  EXPECT_EQ(x.categorical[0], 2);     // "rome": index 1 of the values, +1 for the unknown bucket
  FeatureClassifier c;
  // Removed columns take their baselines.
  const FeatureRows f = c.tm.feature_rows(x, {Mask{1, 1, 1, 0, 1, 0}, Mask{1, 1, 1}});
  EXPECT_EQ(f.dense, (std::vector<float>{0, 0, x.dense[2], x.dense[0], x.dense[1], x.dense[2]}));
  EXPECT_EQ(f.categorical, (std::vector<int32_t>{0, 2}));
}

// Every family's head path (BERT pooler, RoBERTa dense, GPT-2 / Llama last token).
TEST(FeatureHeadExplain, ShapOverWordsAndColumnsEqualsBruteForce) {
  for (const Family fam : kFamilies) {
  SCOPED_TRACE(tessera::family_name(fam));
  FeatureClassifier c(fam);
  const TextInstance x = instance("ab cd ef", "80", "rome", fam);
  const int N = x.players(), label = 1;
  TextTarget t;
  t.label = label;
  const ValueFunction v = c.tm.value_function(x, t, Removal::Mask);
  // The value function is the plain forward of the hand-built rows.
  const std::vector<Mask> some = {full_mask(N), empty_mask(N), Mask{1, 0, 1, 0, 1, 0}, Mask{0, 1, 0, 1, 0, 1}};
  const std::vector<double> got = v(some);
  for (size_t k = 0; k < some.size(); ++k) EXPECT_NEAR(got[k], plain_value(c, x, some[k], label), 1e-6) << k;

  const std::vector<double> ref = brute_force_shapley(c, x, label);
  const Attribution exact = exact_shapley(v, N);
  const Attribution kernel = kernel_shap(v, N, (int64_t(1) << N) - 2, 3);  // every coalition enumerated
  double sum = 0;
  for (int i = 0; i < N; ++i) {
    EXPECT_NEAR(exact.phi[size_t(i)], ref[size_t(i)], 1e-6) << i;
    EXPECT_NEAR(kernel.phi[size_t(i)], ref[size_t(i)], 1e-6) << i;
    sum += ref[size_t(i)];
  }
  // Efficiency; the columns matter (the feature head reads them).
  EXPECT_NEAR(sum, plain_value(c, x, full_mask(N), label) - plain_value(c, x, empty_mask(N), label), 1e-6);
  EXPECT_NEAR(exact.efficiency_gap(), 0.0, 1e-12);
  EXPECT_NEAR(kernel.efficiency_gap(), 0.0, 1e-12);
  for (int i = x.M(); i < N; ++i) EXPECT_GT(std::fabs(ref[size_t(i)]), 1e-5) << "column " << i - x.M();
  }
}

TEST(FeatureHeadExplain, IntegratedGradientsOverDenseColumns) {
  for (const Family fam : kFamilies) {
  SCOPED_TRACE(tessera::family_name(fam));
  FeatureClassifier c(fam);
  const TextInstance x = instance("ab cd ef gh", "95", "oslo", fam);
  const IgResult g = integrated_gradients(c.tm, x, 2, 128, Quadrature::GaussLegendre);
  ASSERT_EQ(g.column_attr.size(), 3u);
  EXPECT_TRUE(std::isnan(g.column_attr[2]));  // categorical: excluded (kept at the input's category)
  EXPECT_GT(std::fabs(g.column_attr[0]), 1e-4);
  EXPECT_GT(std::fabs(g.column_attr[1]), 1e-5);
  // Completeness: Σ words + Σ dense columns = F(x) − F(x'), x' = masked words, dense at the
  // baseline, the input's city. F(x') from the plain forward.
  std::vector<uint8_t> base(size_t(x.players()), 0);
  base.back() = 1;
  EXPECT_NEAR(g.f_baseline, std::log(plain_value(c, x, base, 2)), 1e-5);
  EXPECT_NEAR(g.f_input, std::log(plain_value(c, x, full_mask(x.players()), 2)), 1e-5);
  EXPECT_LT(std::fabs(g.gap()), 1e-3 * std::max(1.0, std::fabs(g.f_input - g.f_baseline))) << g.gap();
  // Without the dense columns' share the sum misses F(x) − F(x') by their attribution.
  const double words = std::accumulate(g.feature_attr.begin(), g.feature_attr.end(), 0.0);
  EXPECT_GT(std::fabs(words - (g.f_input - g.f_baseline)), 10 * std::fabs(g.gap()));
  }
}

TEST(FeatureHeadExplain, SchemaDifferenceNamesTheFirstColumn) {
  const FeatureSchema a = schema();
  EXPECT_EQ(feature_schema_difference(a, a), "");
  FeatureSchema b = a;
  b.numeric[0].mean = 51;
  EXPECT_NE(feature_schema_difference(a, b).find("numeric column 'amount': mean 50 vs 51"), std::string::npos)
      << feature_schema_difference(a, b);
  b = a;
  b.categorical[0].values = {"oslo", "paris"};
  EXPECT_NE(feature_schema_difference(a, b).find("'city': values differ at index 2 ('rome' vs 'paris')"),
            std::string::npos)
      << feature_schema_difference(a, b);
  b = a;
  b.numeric.push_back({"price", 1, 1, {}});
  EXPECT_NE(feature_schema_difference(a, b).find("'price'"), std::string::npos) << feature_schema_difference(a, b);
  b = a;
  b.text[0].name = "tokens";
  EXPECT_NE(feature_schema_difference(a, b).find("'words' vs 'tokens'"), std::string::npos)
      << feature_schema_difference(a, b);
}
