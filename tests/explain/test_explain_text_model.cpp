// The explainers on a tiny transformer through TextModel: exact SHAP against an
// independent brute force over all orders of the words, integrated gradients'
// completeness, feature splitting, removal choices and the bad-input messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "explain_fixture.hpp"
#include "src/explain/integrated_gradients.hpp"
#include "src/explain/shapley.hpp"
#include "src/runtime/error.hpp"

using namespace tessera;
using namespace tessera::explain;
using namespace explain_test;

namespace {

struct Classifier {
  Transformer<float> model{tiny_config(Family::BERT, HeadKind::SequenceClassification)};
  TextModel tm{model, kMask, kPad, 8, MPI_COMM_SELF};
  Classifier() { model.init_weights(7); }
};

// p(label | text with the words outside `keep` replaced by [MASK] tokens), by hand.
double masked_probability(Classifier& c, const TextInstance& x, const std::vector<uint8_t>& keep, int label) {
  std::vector<int32_t> row = x.ids;
  for (int f = 0; f < x.M(); ++f)
    if (!keep[size_t(f)])
      for (int t : x.feature_tokens[size_t(f)]) row[size_t(t)] = kMask;
  return c.tm.class_probabilities({row})[size_t(label)];
}

}  // namespace

TEST(ExplainTextModel, FeaturesFollowWordsTokensSentences) {
  const auto tok = toy_tokenizer();
  const TextInstance w = make_text_instance("ab cd. efg h!", tok, 40, Granularity::Word);
  ASSERT_EQ(w.features, (std::vector<std::string>{"ab", "cd.", "efg", "h!"}));
  EXPECT_EQ(w.feature_tokens[2], (std::vector<int>{6, 7, 8}));  // [CLS] a b c d . e f g
  EXPECT_EQ(w.ids.front(), kCls);
  EXPECT_EQ(w.ids.back(), kSep);
  const TextInstance s = make_text_instance("ab cd. efg h!", tok, 40, Granularity::Sentence);
  EXPECT_EQ(s.features, (std::vector<std::string>{"ab cd.", "efg h!"}));
  const TextInstance t = make_text_instance("ab cd", tok, 40, Granularity::Token);
  EXPECT_EQ(t.features, (std::vector<std::string>{"a", "b", "c", "d"}));
  const TextInstance cut = make_text_instance("ab cd ef gh", tok, 6, Granularity::Word);
  EXPECT_TRUE(cut.truncated);
  EXPECT_EQ(cut.M(), 2);
}

TEST(ExplainTextModel, RemovalMaskKeepsPositionsDeleteDrops) {
  Classifier c;
  const TextInstance x = make_text_instance("ab cd", toy_tokenizer(), 40, Granularity::Word);
  const auto r = c.tm.rows(x, {Mask{1, 0}}, Removal::Mask);
  EXPECT_EQ(r[0], (std::vector<int32_t>{kCls, x.ids[1], x.ids[2], kMask, kMask, kSep}));
  const auto d = c.tm.rows(x, {Mask{0, 1}}, Removal::Delete);
  EXPECT_EQ(d[0], (std::vector<int32_t>{kCls, x.ids[3], x.ids[4], kSep}));
}

TEST(ExplainTextModel, ExactShapOnModelEqualsBruteForce) {
  Classifier c;
  const TextInstance x = make_text_instance("ab cde f gh ij kl", toy_tokenizer(), 40, Granularity::Word);
  const int M = x.M(), label = 1;
  ASSERT_EQ(M, 6);
  TextTarget t;
  t.label = label;
  const Attribution a = exact_shapley(c.tm.value_function(x, t, Removal::Mask), M);
  // Brute force: average marginal contribution over all 720 orders, one forward per coalition.
  std::vector<int> order(static_cast<size_t>(M));
  std::iota(order.begin(), order.end(), 0);
  std::vector<double> ref(static_cast<size_t>(M), 0.0);
  int n = 0;
  std::map<std::vector<uint8_t>, double> memo;
  auto v = [&](const std::vector<uint8_t>& k) {
    auto it = memo.find(k);
    if (it != memo.end()) return it->second;
    return memo[k] = masked_probability(c, x, k, label);
  };
  do {
    std::vector<uint8_t> keep(static_cast<size_t>(M), 0);
    double prev = v(keep);
    for (int i : order) {
      keep[size_t(i)] = 1;
      const double cur = v(keep);
      ref[size_t(i)] += cur - prev;
      prev = cur;
    }
    ++n;
  } while (std::next_permutation(order.begin(), order.end()));
  double scale = 0;
  for (int i = 0; i < M; ++i) {
    ref[size_t(i)] /= n;
    scale = std::max(scale, std::fabs(ref[size_t(i)]));
    EXPECT_NEAR(a.phi[size_t(i)], ref[size_t(i)], 1e-6) << "word " << i;
  }
  EXPECT_GT(scale, 1e-3);  // the tiny model's attributions are not all ~0
  EXPECT_NEAR(a.full_value, v(std::vector<uint8_t>(size_t(M), 1)), 1e-5);  // float model, batch 8 vs 1
  EXPECT_LT(std::fabs(a.efficiency_gap()), 1e-9);
}

TEST(ExplainTextModel, IntegratedGradientsCompleteness) {
  Classifier c;
  const TextInstance x = make_text_instance("ab cde f gh", toy_tokenizer(), 40, Granularity::Word);
  const IgResult gl = integrated_gradients(c.tm, x, 2, 48, Quadrature::GaussLegendre);
  EXPECT_GT(std::fabs(gl.f_input - gl.f_baseline), 1e-3);
  EXPECT_LT(gl.relative_gap(), 0.01) << "gap " << gl.gap();
  // f values are log p(label) of the input and the all-[MASK] baseline.
  const double p = c.tm.class_probabilities({x.ids})[2];
  EXPECT_NEAR(gl.f_input, std::log(p), 1e-9);
  const IgResult coarse = integrated_gradients(c.tm, x, 2, 2, Quadrature::Riemann);
  const IgResult fine = integrated_gradients(c.tm, x, 2, 64, Quadrature::Riemann);
  EXPECT_LT(fine.relative_gap(), 0.01);
  EXPECT_LT(std::fabs(fine.gap()), std::fabs(coarse.gap()) + 1e-12);
  // The features' attributions are the sums of their tokens'.
  EXPECT_NEAR(gl.feature_attr[1], gl.token_attr[3] + gl.token_attr[4] + gl.token_attr[5], 1e-12);
}

TEST(ExplainTextModel, GaussLegendreRuleIsExactForPolynomials) {
  std::vector<double> x, w;
  quadrature_rule(Quadrature::GaussLegendre, 5, x, w);
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += w[i] * std::pow(x[i], 9);  // ∫₀¹ α⁹ = 0.1
  EXPECT_NEAR(s, 0.1, 1e-14);
}

TEST(ExplainTextModel, CausalLmContinuationLogProbability) {
  Transformer<float> lm(tiny_config(Family::GPT2, HeadKind::CausalLM));
  lm.init_weights(3);
  TextModel tm(lm, kPad, kPad, 4, MPI_COMM_SELF);
  const TextInstance x = make_text_instance("ab cd", toy_tokenizer(false), 40, Granularity::Word, "ef");
  ASSERT_EQ(x.continuation.size(), 2u);
  TextTarget t;
  t.head = HeadKind::CausalLM;
  t.kind = TargetKind::LogProbability;
  const Attribution a = exact_shapley(tm.value_function(x, t, Removal::Delete), x.M());
  EXPECT_LT(std::fabs(a.efficiency_gap()), 1e-9);
  EXPECT_LT(a.full_value, 0);
  // The empty coalition deletes every word: the continuation scored after nothing but itself.
  const auto rows = tm.rows(x, {empty_mask(x.M())}, Removal::Delete);
  EXPECT_EQ(rows[0], x.continuation);
}

TEST(ExplainTextModel, BadInput) {
  EXPECT_THROW(make_text_instance("   ", toy_tokenizer(), 40, Granularity::Word), Error);
  try {
    make_text_instance("  \t ", toy_tokenizer(), 40, Granularity::Word);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("empty text"), std::string::npos);
  }
  Transformer<float> lm(tiny_config(Family::GPT2, HeadKind::CausalLM));
  lm.init_weights(3);
  TextModel tm(lm, kPad, kPad, 4, MPI_COMM_SELF);
  const TextInstance x = make_text_instance("ab", toy_tokenizer(false), 40, Granularity::Word, "c");
  try {
    integrated_gradients(tm, x, 0, 8, Quadrature::GaussLegendre);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs a sequence_classification or question_answering head"), std::string::npos) << e.what();
  }
}

TEST(ExplainTextModel, TokenClassificationEntitySpans) {
  TransformerConfig c = tiny_config(Family::BERT, HeadKind::TokenClassification);
  c.num_labels = 3;
  Transformer<float> model(c);
  model.init_weights(21);
  TextModel tm(model, kMask, kPad, 8, MPI_COMM_SELF);
  const TextInstance x = make_text_instance("ab cde f gh ij", toy_tokenizer(), 40, Granularity::Word);
  const std::vector<std::string> labels{"O", "B-PER", "I-PER"};
  int T = 0;
  const std::vector<float> logits = tm.forward_logits({x.ids}, T);
  // Hand-made logits: word 1 B-PER, word 2 I-PER, others O -> one span "cde f".
  std::vector<float> fake(logits.size(), 0.f);
  for (int f = 0; f < x.M(); ++f) {
    const int tag = f == 1 ? 1 : f == 2 ? 2 : 0;
    for (int t : x.feature_tokens[size_t(f)]) fake[size_t(t) * 3 + size_t(tag)] = 5.f;
  }
  const auto spans = entity_spans(x, fake, labels);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].text, "cde f");
  EXPECT_EQ(spans[0].type, "PER");
  EXPECT_EQ(spans[0].tokens, (std::vector<int>{3, 4, 5, 6}));
  EXPECT_EQ(spans[0].tags, (std::vector<int>{1, 1, 1, 2}));  // the tag of every token of the span
  // The value of the full input is the mean log-probability of the span's tags, by hand.
  TextTarget t;
  t.head = HeadKind::TokenClassification;
  t.span_tokens = spans[0].tokens;
  t.span_tags = spans[0].tags;
  double ref = 0;
  for (size_t k = 0; k < t.span_tokens.size(); ++k) {
    const float* l = logits.data() + size_t(t.span_tokens[k]) * 3;
    double z = 0;
    for (int j = 0; j < 3; ++j) z += std::exp(double(l[j]));
    ref += double(l[t.span_tags[k]]) - std::log(z);
  }
  ref /= double(t.span_tokens.size());
  const Attribution a = exact_shapley(tm.value_function(x, t, Removal::Mask), x.M());
  EXPECT_NEAR(a.full_value, ref, 1e-5);
  EXPECT_LT(std::fabs(a.efficiency_gap()), 1e-9);
  EXPECT_THROW(tm.value_function(x, t, Removal::Delete), Error);
}
