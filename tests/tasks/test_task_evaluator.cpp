// TaskEvaluator on hand-made logits: a perfect predictor scores 1 (100 for SQuAD), a
// constant predictor scores the majority-class accuracy and the F1 a plain count gives;
// NER entities and token accuracy; QA picks the best span across two windows.
#include "io/task_dataset.hpp"  // first: see the kIgnoreIndex note there
#include <gtest/gtest.h>
#include <mpi.h>
#include <cmath>
#include <vector>
#include "src/runtime/error.hpp"
#include "src/tasks/task_evaluator.hpp"
#include "src/train/batch_source.hpp"

using namespace tessera;

namespace {

// Feeds rows in micro-batches of B (the last padded with example_index -1) with
// logits from `row_logits(row)` (per_row floats each).
template <class Fn>
void feed(TaskEvaluator& ev, int64_t rows, int B, int T, int64_t per_row, Fn row_logits) {
  for (int64_t r0 = 0; r0 < rows; r0 += B) {
    MicroBatch mb;
    mb.B = B;
    mb.T = T;
    mb.example_index.assign(size_t(B), -1);
    std::vector<float> logits(size_t(B * per_row), 123.f);  // padding rows: garbage
    for (int b = 0; b < B && r0 + b < rows; ++b) {
      mb.example_index[size_t(b)] = r0 + b;
      const std::vector<float> z = row_logits(r0 + b);
      std::copy(z.begin(), z.end(), logits.begin() + b * per_row);
    }
    ev.add_batch(mb, logits.data());
  }
}

TaskDatasetInfo classification_info(int64_t L) {
  TaskDatasetInfo info;
  info.task = "sequence-classification";
  info.tokenizer = "wordpiece";
  info.vocab_size = 10;
  info.max_len = L;
  info.label_names = {"a", "b", "c"};
  return info;
}

TaskFeatures classification_features(const std::vector<int32_t>& labels, int64_t L) {
  TaskFeatures f;
  f.max_len = L;
  const size_t n = labels.size();
  f.input_ids.assign(n * size_t(L), 1);
  f.attention_mask.assign(n * size_t(L), 1);
  f.token_type_ids.assign(n * size_t(L), 0);
  f.labels = labels;
  for (size_t i = 0; i < n; ++i) f.example_index.push_back(int64_t(i));
  return f;
}

}  // namespace

TEST(TaskEvaluator, PerfectClassifierScoresOne) {
  const std::vector<int32_t> labels = {0, 1, 2, 0, 0, 1, 2};
  const auto info = classification_info(4);
  const auto f = classification_features(labels, 4);
  TaskEvaluator ev(HeadKind::SequenceClassification, info, f);
  feed(ev, 7, 3, 4, 3, [&](int64_t r) {
    std::vector<float> z(3, -1.f);
    z[size_t(labels[size_t(r)])] = 2.f;
    return z;
  });
  const auto m = ev.finish(MPI_COMM_NULL);
  EXPECT_DOUBLE_EQ(m.at("accuracy"), 1.0);
  EXPECT_DOUBLE_EQ(m.at("macro_f1"), 1.0);
  EXPECT_DOUBLE_EQ(m.at("micro_f1"), 1.0);
  EXPECT_DOUBLE_EQ(m.at("weighted_f1"), 1.0);
  for (const char* c : {"a", "b", "c"}) EXPECT_DOUBLE_EQ(m.at(std::string("f1/") + c), 1.0);
  const auto rep = ev.report();
  EXPECT_EQ(rep["rows"], 7);
  EXPECT_EQ(rep["confusion_matrix"], nlohmann::json({{3, 0, 0}, {0, 2, 0}, {0, 0, 2}}));
  EXPECT_EQ(rep["per_class"]["a"]["support"], 3);
}

TEST(TaskEvaluator, ConstantClassifierScoresTheMajorityShare) {
  const std::vector<int32_t> labels = {0, 1, 2, 0, 0, 1, 2};
  const auto info = classification_info(4);
  const auto f = classification_features(labels, 4);
  TaskEvaluator ev(HeadKind::SequenceClassification, info, f);
  feed(ev, 7, 2, 4, 3, [&](int64_t) { return std::vector<float>{0.5f, 0.1f, 0.1f}; });
  const auto m = ev.finish(MPI_COMM_WORLD);  // one rank: the same as MPI_COMM_NULL

  // Independent plain counts: predicted class 0 for everything.
  int64_t n0 = 0;
  for (int32_t y : labels) n0 += (y == 0);
  const double n = double(labels.size());
  const double p0 = double(n0) / n, r0 = 1.0, f0 = 2 * p0 * r0 / (p0 + r0);
  EXPECT_DOUBLE_EQ(m.at("accuracy"), double(n0) / n);
  EXPECT_NEAR(m.at("f1/a"), f0, 1e-12);
  EXPECT_DOUBLE_EQ(m.at("f1/b"), 0.0);
  EXPECT_NEAR(m.at("macro_f1"), f0 / 3.0, 1e-12);
  EXPECT_NEAR(m.at("micro_f1"), double(n0) / n, 1e-12);                            // = accuracy (single-label)
  EXPECT_NEAR(m.at("weighted_f1"), f0 * double(n0) / n, 1e-12);                    // other classes' f1 are 0
  EXPECT_EQ(ev.report()["confusion_matrix"], nlohmann::json({{3, 0, 0}, {2, 0, 0}, {2, 0, 0}}));
}

TEST(TaskEvaluator, RowsSeenTwiceCountOnce) {
  const std::vector<int32_t> labels = {0, 1};
  TaskEvaluator ev(HeadKind::SequenceClassification, classification_info(4), classification_features(labels, 4));
  MicroBatch mb;
  mb.B = 2;
  mb.T = 4;
  mb.example_index = {0, 0};
  const std::vector<float> z = {1, 0, 0, 1, 0, 0};
  ev.add_batch(mb, z.data());
  const auto m = ev.finish(MPI_COMM_NULL);
  EXPECT_EQ(ev.report()["rows"], 1);
  EXPECT_DOUBLE_EQ(m.at("accuracy"), 1.0);
  mb.example_index = {0, 5};  // row 5 does not exist
  EXPECT_THROW(ev.add_batch(mb, z.data()), Error);
}

TEST(TaskEvaluator, NerEntitiesOnNonIgnoredPositions) {
  // Tags O B-PER I-PER B-LOC; two rows of L = 6 with [CLS] / continuation / padding ignored.
  TaskDatasetInfo info;
  info.task = "token-classification";
  info.tokenizer = "wordpiece";
  info.vocab_size = 10;
  info.max_len = 6;
  info.label_names = {"O", "B-PER", "I-PER", "B-LOC"};
  const int32_t X = kIgnoreIndex;
  TaskFeatures f = classification_features({0, 0}, 6);
  f.labels = {X, 1, 2, X, 0, X,   // [CLS] Moses(B-PER) Aaron(I-PER) ##x went(O) [SEP]
              X, 0, 3, 0, X, X};  // [CLS] unto Egypt(B-LOC) . [SEP] pad
  const int64_t L = 6, K = 4;
  auto one_hot = [&](int64_t r, bool perfect) {
    std::vector<float> z(size_t(L * K), 0.f);
    for (int64_t t = 0; t < L; ++t) {
      const int32_t y = f.labels[size_t(r * L + t)];
      const int32_t k = y == X ? 3 : (perfect ? y : 0);  // ignored positions: a wrong tag that must not count
      z[size_t(t * K + k)] = 5.f;
    }
    return z;
  };
  {
    TaskEvaluator ev(HeadKind::TokenClassification, info, f);
    feed(ev, 2, 1, 6, L * K, [&](int64_t r) { return one_hot(r, true); });
    const auto m = ev.finish(MPI_COMM_NULL);
    EXPECT_DOUBLE_EQ(m.at("entity_f1"), 1.0);
    EXPECT_DOUBLE_EQ(m.at("entity_precision"), 1.0);
    EXPECT_DOUBLE_EQ(m.at("token_accuracy"), 1.0);
    EXPECT_DOUBLE_EQ(m.at("f1/PER"), 1.0);
    EXPECT_DOUBLE_EQ(m.at("f1/LOC"), 1.0);
    EXPECT_EQ(ev.report()["tokens"], 6);
  }
  {
    TaskEvaluator ev(HeadKind::TokenClassification, info, f);
    feed(ev, 2, 3, 6, L * K, [&](int64_t r) { return one_hot(r, false); });  // always O
    const auto m = ev.finish(MPI_COMM_NULL);
    EXPECT_DOUBLE_EQ(m.at("entity_recall"), 0.0);
    EXPECT_DOUBLE_EQ(m.at("entity_f1"), 0.0);
    EXPECT_DOUBLE_EQ(m.at("token_accuracy"), 3.0 / 6.0);  // the three gold O tokens
  }
}

TEST(TaskEvaluator, QaBestSpanAcrossTwoWindows) {
  // Example 0: "In the beginning God created the heaven" in two windows of L = 8:
  //   row 0: [CLS] q [SEP] In the beginning God [SEP]
  //   row 1: [CLS] q [SEP] God created the heaven [SEP]
  // Example 1: "Let there be light" in one window (row 2).
  const std::string c0 = "In the beginning God created the heaven", c1 = "Let there be light";
  const int64_t L = 8;
  TaskDatasetInfo info;
  info.task = "question-answering";
  info.tokenizer = "wordpiece";
  info.vocab_size = 10;
  info.max_len = L;
  TaskFeatures f = classification_features({0, 0, 0}, L);
  f.labels.clear();
  f.example_index = {0, 0, 1};
  f.start_positions = {0, 5, 3};
  f.end_positions = {0, 6, 3};
  f.offsets.assign(size_t(3 * L * 2), -1);
  auto span = [&](int64_t row, int64_t t, int64_t b, int64_t e) {
    f.offsets[size_t((row * L + t) * 2)] = b;
    f.offsets[size_t((row * L + t) * 2 + 1)] = e;
  };
  span(0, 3, 0, 2), span(0, 4, 3, 6), span(0, 5, 7, 16), span(0, 6, 17, 20);
  span(1, 3, 17, 20), span(1, 4, 21, 28), span(1, 5, 29, 32), span(1, 6, 33, 39);
  span(2, 3, 0, 3), span(2, 4, 4, 9), span(2, 5, 10, 12), span(2, 6, 13, 18);
  TaskExamples ex;
  ex.ids = {"q0", "q1"};
  ex.questions = {"what was created?", "let there be what?"};
  ex.contexts = {c0, c1};
  ex.answers = {{"the heaven", "heaven"}, {"light"}};

  // logits[t*2 + 0] = start, [t*2 + 1] = end.
  auto window = [&](std::vector<std::pair<int64_t, float>> starts, std::vector<std::pair<int64_t, float>> ends) {
    std::vector<float> z(size_t(L * 2), 0.f);
    for (auto [t, v] : starts) z[size_t(t * 2)] = v;
    for (auto [t, v] : ends) z[size_t(t * 2 + 1)] = v;
    return z;
  };
  EXPECT_THROW(TaskEvaluator(HeadKind::QuestionAnswering, info, f), Error);  // no examples
  {
    TaskEvaluator ev(HeadKind::QuestionAnswering, info, f, ex);
    feed(ev, 3, 2, int(L), L * 2, [&](int64_t r) {
      if (r == 0) return window({{5, 2.f}}, {{5, 2.f}});  // "beginning": 4
      if (r == 1) return window({{5, 5.f}}, {{6, 5.f}});  // "the heaven": 10 (the best overall)
      return window({{6, 3.f}}, {{6, 3.f}});              // "light"
    });
    const auto m = ev.finish(MPI_COMM_NULL);
    EXPECT_DOUBLE_EQ(m.at("exact_match"), 100.0);
    EXPECT_DOUBLE_EQ(m.at("f1"), 100.0);
    EXPECT_EQ(ev.report()["examples"], 2);
  }
  {
    TaskEvaluator ev(HeadKind::QuestionAnswering, info, f, ex);
    feed(ev, 3, 3, int(L), L * 2, [&](int64_t r) {
      if (r == 0) return window({{5, 6.f}}, {{5, 6.f}});  // "beginning": 12 beats the other window
      if (r == 1) return window({{5, 5.f}}, {{6, 5.f}});
      return window({{5, 3.f}}, {{6, 3.f}});  // "be light": F1 2·(1/2·1)/(1/2+1) = 2/3
    });
    const auto m = ev.finish(MPI_COMM_NULL);
    EXPECT_DOUBLE_EQ(m.at("exact_match"), 0.0);
    EXPECT_NEAR(m.at("f1"), 100.0 * (0.0 + 2.0 / 3.0) / 2.0, 1e-9);
  }
}
