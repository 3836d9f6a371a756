// Bad input to src/metrics throws tessera::Error naming the problem.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "src/metrics/metrics.hpp"
#include "src/runtime/error.hpp"

namespace mx = tessera::metrics;

namespace {

// Runs fn, expects tessera::Error whose message contains every needle.
void expect_error(const std::function<void()>& fn, std::initializer_list<const char*> needles) {
  try {
    fn();
    ADD_FAILURE() << "no tessera::Error thrown";
  } catch (const tessera::Error& e) {
    const std::string msg = e.what();
    for (const char* n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
  }
}

}  // namespace

TEST(MetricsBadInput, ClassificationLengthMismatch) {
  const std::vector<int64_t> a{1, 2, 3}, b{1, 2};
  expect_error([&] { mx::accuracy_score(a, b); }, {"accuracy_score", "3 samples", "2"});
  expect_error([&] { mx::precision_recall_fscore_support(a, b); }, {"precision_recall_fscore_support", "3"});
  expect_error([&] { mx::confusion_matrix(a, b); }, {"confusion_matrix"});
}

TEST(MetricsBadInput, ClassificationEmptyAndBadLabels) {
  const std::vector<int64_t> none;
  expect_error([&] { mx::accuracy_score(none, none); }, {"empty"});
  const std::vector<int64_t> t{1, 1}, p{2, 2};
  expect_error([&] { mx::precision_recall_fscore_support(t, p, std::vector<int64_t>{}); }, {"at least one label"});
  expect_error([&] { mx::precision_recall_fscore_support(t, p, std::vector<int64_t>{1, 2, 1}); },
               {"duplicate label", "1"});
  expect_error([&] { mx::confusion_matrix(t, p, std::vector<int64_t>{3}); }, {"must be in y_true"});
}

TEST(MetricsBadInput, EntityUnknownPrefix) {
  const std::vector<std::vector<std::string>> gold{{"B-PER", "O"}, {"X-PER", "O"}};
  const std::vector<std::vector<std::string>> pred{{"B-PER", "O"}, {"O", "O"}};
  expect_error([&] { mx::entity_classification_report(gold, pred); },
               {"unknown tag prefix", "X-PER", "sentence 1", "position 0"});
  expect_error([&] { mx::entity_classification_report(pred, gold, mx::EntityMode::StrictIOB2); },
               {"unknown tag prefix", "X-PER"});
  // IOBES prefixes and glued prefixes are not BIO either
  expect_error([&] { mx::extract_entities({{"E-PER"}}, mx::EntityMode::Default); }, {"unknown tag prefix", "E-PER"});
  expect_error([&] { mx::extract_entities({{"BPER"}}, mx::EntityMode::Default); }, {"unknown tag prefix", "BPER"});
  expect_error([&] { mx::extract_entities({{"O-PER"}}, mx::EntityMode::Default); }, {"O-PER"});
  expect_error([&] { mx::extract_entities({{"B-PER", ""}}, mx::EntityMode::Default); }, {"empty tag", "position 1"});
}

TEST(MetricsBadInput, EntityLengthMismatch) {
  expect_error([] { mx::entity_classification_report({{"O"}, {"O"}}, {{"O"}}); }, {"2 sentences", "1"});
  expect_error([] { mx::entity_classification_report({{"O", "B-PER"}}, {{"O"}}); },
               {"sentence 0", "2 gold tags", "1 predicted"});
}

TEST(MetricsBadInput, Squad) {
  expect_error([] { mx::squad_v1_evaluate({"a", "b"}, {{"a"}}); }, {"2 predictions", "1 question"});
  expect_error([] { mx::squad_v1_evaluate({"a"}, {{}}); }, {"question 0", "no ground-truth"});
  expect_error([] { mx::squad_v1_evaluate({}, {}); }, {"no questions"});
  expect_error([] { mx::squad_normalize_answer("bad \xff byte"); }, {"invalid UTF-8", "byte 4"});
}

TEST(MetricsBadInput, Bleu) {
  expect_error([] { mx::corpus_bleu({"a", "b"}, {{"a", "b"}, {"a"}}); },
               {"reference stream 1", "1 segments", "2 hypotheses"});
  expect_error([] { mx::corpus_bleu({"a"}, {}); }, {"no reference streams"});
  expect_error([] { mx::corpus_bleu({}, {{}}); }, {"no hypotheses"});
  expect_error([] { mx::sentence_bleu("a", {}); }, {"no references"});
  expect_error([] { mx::corpus_bleu({"ok \xc3"}, {{"ok"}}); }, {"invalid UTF-8"});
}

TEST(MetricsBadInput, Perplexity) {
  expect_error([] { mx::perplexity({}); }, {"no tokens"});
  expect_error([] { mx::perplexity({1.0, std::numeric_limits<double>::infinity()}); }, {"token 1", "non-finite"});
  expect_error([] { mx::perplexity_from_sum(1.0, 0); }, {"token_count", "0"});
}
