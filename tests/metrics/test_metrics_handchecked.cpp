// Tiny cases worked out by hand (the arithmetic is in the comments), so the
// metrics are checked against something other than the Python references too.
#include <gtest/gtest.h>

#include <cmath>

#include "metrics_test_util.hpp"
#include "src/metrics/metrics.hpp"

namespace mx = tessera::metrics;
using metrics_test::kTol;

TEST(MetricsHand, ClassificationThreeClasses) {
  // y_true = 0 0 1 1 2, y_pred = 0 1 1 1 0
  //   class 0: tp 1, predicted 2 (pos 0, 4), true 2 -> P 1/2, R 1/2, F 2*1/(2+2) = 1/2
  //   class 1: tp 2, predicted 3, true 2            -> P 2/3, R 1,   F 2*2/(2+3) = 4/5
  //   class 2: tp 0, predicted 0, true 1            -> P 0 (0/0 -> 0), R 0, F 0
  //   accuracy 3/5; micro: tp 3, pred 5, true 5 -> 3/5 everywhere
  //   macro P (1/2+2/3+0)/3 = 7/18, R (1/2+1+0)/3 = 1/2, F (1/2+4/5+0)/3 = 13/30
  //   weighted (2,2,1)/5: P (1+4/3)/5 = 7/15, R (1+2)/5 = 3/5, F (1+8/5)/5 = 13/25
  const std::vector<int64_t> t{0, 0, 1, 1, 2}, p{0, 1, 1, 1, 0};
  const auto m = mx::classification_metrics(t, p);
  EXPECT_NEAR(m.accuracy, 0.6, kTol);
  ASSERT_EQ(m.prf.labels, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_NEAR(m.prf.per_class[0].precision, 0.5, kTol);
  EXPECT_NEAR(m.prf.per_class[1].precision, 2.0 / 3.0, kTol);
  EXPECT_NEAR(m.prf.per_class[1].recall, 1.0, kTol);
  EXPECT_NEAR(m.prf.per_class[1].f1, 0.8, kTol);
  EXPECT_EQ(m.prf.per_class[2].precision, 0.0);
  EXPECT_EQ(m.prf.per_class[2].f1, 0.0);
  EXPECT_EQ(m.prf.per_class[2].support, 1);
  EXPECT_NEAR(m.prf.micro.f1, 0.6, kTol);
  EXPECT_NEAR(m.prf.macro.precision, 7.0 / 18.0, kTol);
  EXPECT_NEAR(m.prf.macro.recall, 0.5, kTol);
  EXPECT_NEAR(m.prf.macro.f1, 13.0 / 30.0, kTol);
  EXPECT_NEAR(m.prf.weighted.precision, 7.0 / 15.0, kTol);
  EXPECT_NEAR(m.prf.weighted.recall, 0.6, kTol);
  EXPECT_NEAR(m.prf.weighted.f1, 13.0 / 25.0, kTol);
  EXPECT_EQ(m.prf.weighted.support, 5);
  // rows = true label, columns = predicted
  EXPECT_EQ(m.confusion.counts, (std::vector<std::vector<int64_t>>{{1, 1, 0}, {0, 2, 0}, {1, 0, 0}}));
}

TEST(MetricsHand, ClassificationExplicitLabelsAndStrings) {
  // labels = [b, z]: z never occurs -> zeros; micro over b only: tp 1, pred 1, true 2 -> P 1, R 1/2, F 2/3
  const std::vector<std::string> t{"a", "b", "b"}, p{"a", "b", "a"};
  const auto r = mx::precision_recall_fscore_support(t, p, std::vector<std::string>{"b", "z"});
  ASSERT_EQ(r.labels, (std::vector<std::string>{"b", "z"}));
  EXPECT_EQ(r.per_class[1].support, 0);
  EXPECT_NEAR(r.micro.precision, 1.0, kTol);
  EXPECT_NEAR(r.micro.recall, 0.5, kTol);
  EXPECT_NEAR(r.micro.f1, 2.0 / 3.0, kTol);
  // confusion over [b, z]: the (b -> a) and (a -> a) samples are dropped
  const auto cm = mx::confusion_matrix(t, p, std::vector<std::string>{"b", "z"});
  EXPECT_EQ(cm.counts, (std::vector<std::vector<int64_t>>{{1, 0}, {0, 0}}));
}

TEST(MetricsHand, EntitiesDefaultVersusStrict) {
  // tags: B-PER I-PER O I-LOC I-LOC (gold), B-PER I-PER O B-LOC I-LOC (pred)
  // default (conlleval): the I-LOC after O starts LOC[3,5) -> gold {PER[0,2), LOC[3,5)} = pred: all 1.0
  // strict IOB2: the stray I-LOC run is no entity -> gold {PER}, pred {PER, LOC}
  //   PER 1/1/1 (support 1), LOC P 0/1 = 0, R 0/0 -> 0, F 0 (support 0)
  //   micro: tp 1, pred 2, true 1 -> P 1/2, R 1, F 2*(1/2)*1/(3/2) = 2/3
  //   macro: P (1+0)/2, R (1+0)/2, F (1+0)/2 = 1/2; weighted (weights 0, 1 by support): all 1
  const std::vector<std::vector<std::string>> gold{{"B-PER", "I-PER", "O", "I-LOC", "I-LOC"}};
  const std::vector<std::vector<std::string>> pred{{"B-PER", "I-PER", "O", "B-LOC", "I-LOC"}};

  const auto d = mx::entity_classification_report(gold, pred, mx::EntityMode::Default);
  ASSERT_EQ(d.per_type.size(), 2u);
  EXPECT_EQ(d.per_type[0].type, "LOC");
  EXPECT_EQ(d.micro.f1, 1.0);
  EXPECT_EQ(d.macro.f1, 1.0);

  const auto s = mx::entity_classification_report(gold, pred, mx::EntityMode::StrictIOB2);
  ASSERT_EQ(s.per_type.size(), 2u);
  EXPECT_EQ(s.per_type[0].type, "LOC");
  EXPECT_EQ(s.per_type[0].scores.support, 0);
  EXPECT_EQ(s.per_type[0].scores.f1, 0.0);
  EXPECT_EQ(s.per_type[1].scores.f1, 1.0);
  EXPECT_NEAR(s.micro.precision, 0.5, kTol);
  EXPECT_NEAR(s.micro.recall, 1.0, kTol);
  EXPECT_NEAR(s.micro.f1, 2.0 / 3.0, kTol);
  EXPECT_NEAR(s.macro.f1, 0.5, kTol);
  EXPECT_NEAR(s.weighted.f1, 1.0, kTol);
  EXPECT_EQ(s.micro.support, 1);

  const auto spans = mx::extract_entities(gold, mx::EntityMode::Default);
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0], (mx::Entity{0, 0, 2, "PER"}));
  EXPECT_EQ(spans[1], (mx::Entity{0, 3, 5, "LOC"}));
  EXPECT_EQ(mx::extract_entities(gold, mx::EntityMode::StrictIOB2).size(), 1u);
}

TEST(MetricsHand, EntitiesNothingAtAll) {
  // No entity anywhere (and no sentences at all): micro 0 (0/0 -> 0), macro NaN
  // (mean of no types, as seqeval), weighted 0.
  for (const auto& y : {std::vector<std::vector<std::string>>{{"O", "O"}}, std::vector<std::vector<std::string>>{}}) {
    const auto r = mx::entity_classification_report(y, y);
    EXPECT_TRUE(r.per_type.empty());
    EXPECT_EQ(r.micro.f1, 0.0);
    EXPECT_TRUE(std::isnan(r.macro.f1));
    EXPECT_EQ(r.weighted.f1, 0.0);
  }
}

TEST(MetricsHand, SquadNormalisationAndScores) {
  // "The Big Apple!" -> lower "the big apple!" -> no punctuation "the big apple"
  //   -> articles " big apple" -> whitespace "big apple": EM 1 against "big apple", F1 1
  EXPECT_EQ(mx::squad_normalize_answer("The Big Apple!"), "big apple");
  EXPECT_EQ(mx::squad_normalize_answer("  An  apple, a day... "), "apple day");
  EXPECT_EQ(mx::squad_normalize_answer("theatre"), "theatre");  // articles only as whole words
  // "a cat sat" vs "the cat sat down": tokens {cat, sat} vs {cat, sat, down}: common 2,
  //   P 2/2, R 2/3, F1 2*(2/3)/(5/3) = 4/5
  EXPECT_NEAR(mx::squad_f1("a cat sat", "the cat sat down"), 0.8, kTol);
  EXPECT_FALSE(mx::squad_exact_match("a cat sat", "the cat sat down"));
  // both questions: EM (1 + 0)/2 = 50 %, F1 (1 + 0.8)/2 = 90 % (the second question's
  // best ground truth is "the cat sat down")
  const auto s = mx::squad_v1_evaluate({"The Big Apple!", "a cat sat"}, {{"big apple"}, {"dog", "the cat sat down"}});
  EXPECT_NEAR(s.exact_match, 50.0, kTol);
  EXPECT_NEAR(s.f1, 90.0, kTol);
  // empty answers: EM counts them equal, F1 is 0 (no common token), as the official script
  EXPECT_TRUE(mx::squad_exact_match("the", ""));
  EXPECT_EQ(mx::squad_f1("the", ""), 0.0);
}

TEST(MetricsHand, PythonLower) {
  EXPECT_EQ(mx::python_lower("ΟΔΟΣ"), "οδος");        // final sigma
  EXPECT_EQ(mx::python_lower("ΣΑ"), "σα");            // not final
  EXPECT_EQ(mx::python_lower("İ"), "i\xcc\x87");      // U+0130 -> i + U+0307
  EXPECT_EQ(mx::python_lower("ÀB"), "àb");
  EXPECT_EQ(mx::python_split(" a\u00a0b\tc  "), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(MetricsHand, Tokenize13a) {
  // " Hello, world! It costs $3.50. ": ! and $ padded; "o," -> "o , "; ". " -> " . "; "3.50" kept
  EXPECT_EQ(mx::tokenize_13a("Hello, world! It costs $3.50."), "Hello , world ! It costs $ 3.50 .");
  EXPECT_EQ(mx::tokenize_13a("5-6 1,000 a-b"), "5 - 6 1,000 a-b");
  EXPECT_EQ(mx::tokenize_13a("A &amp; B"), "A & B");
}

TEST(MetricsHand, Bleu) {
  // identical 6-token sentence: counts 6/5/4/3 of 6/5/4/3 -> every precision 100 -> BLEU 100
  auto b = mx::corpus_bleu({"the cat sat on the mat"}, {{"the cat sat on the mat"}});
  EXPECT_NEAR(b.score, 100.0, 1e-9);
  EXPECT_EQ(b.counts, (std::array<int64_t, 4>{6, 5, 4, 3}));

  // "a b c d" vs "a b x d": 1-grams 3/4 = 75 %, 2-grams {ab} 1/3 = 33.3 %,
  // 3-grams 0/2 -> exp smoothing 100/(2*2) = 25 %, 4-grams 0/1 -> 100/(4*1) = 25 %
  // BLEU = (75 * 100/3 * 25 * 25)^(1/4) = 1562500^(1/4) = 25*sqrt(2); bp = 1
  b = mx::corpus_bleu({"a b c d"}, {{"a b x d"}});
  EXPECT_NEAR(b.score, 25.0 * std::sqrt(2.0), 1e-9);
  EXPECT_NEAR(b.precisions[2], 25.0, 1e-12);

  // "the cat" vs a 6-token reference: 1-/2-gram precision 100, no 3-grams:
  // corpus BLEU (all 4 orders) is 0; sentence BLEU (effective order 2) is
  // 100 * bp = 100 * exp(1 - 6/2) = 100 e^-2
  b = mx::corpus_bleu({"the cat"}, {{"the cat sat on the mat"}});
  EXPECT_EQ(b.score, 0.0);
  EXPECT_NEAR(b.bp, std::exp(-2.0), 1e-15);
  b = mx::sentence_bleu("the cat", {"the cat sat on the mat"});
  EXPECT_NEAR(b.score, 100.0 * std::exp(-2.0), 1e-9);

  // empty hypothesis: no matches at all -> 0, bp 0
  b = mx::corpus_bleu({""}, {{"a b"}});
  EXPECT_EQ(b.score, 0.0);
  EXPECT_EQ(b.bp, 0.0);
}

TEST(MetricsHand, Perplexity) {
  // mean NLL (ln 2 + ln 8)/2 = ln 4 -> perplexity 4
  EXPECT_NEAR(mx::perplexity({std::log(2.0), std::log(8.0)}), 4.0, 1e-12);
  EXPECT_NEAR(mx::perplexity_from_sum(3 * std::log(2.0), 3), 2.0, 1e-12);
}
