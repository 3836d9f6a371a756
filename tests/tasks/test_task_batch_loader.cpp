// TaskBatchLoader over small task datasets written by hand: labels per head, the
// data-parallel split of each global micro-batch, the dropped tail, epoch order from
// epoch_order, exact resume from (epoch, cursor), and evaluation mode visiting every
// row once with padded dummy samples. Plus the task dataset's optional contents
// (examples, tokenizer files, encoding options) and is_task_dataset.
#include "io/task_dataset.hpp"  // first: see the kIgnoreIndex note there
#include <gtest/gtest.h>
#include <mpi.h>
#include <algorithm>
#include <set>
#include "src/runtime/error.hpp"
#include "src/train/task_batch_loader.hpp"
#include "test_support.hpp"

using namespace tessera;
using namespace tessera_test;

namespace {

constexpr int64_t L = 4;

// Row r: ids (r, r+1, ...) mod 50 + 1, mask 1 on the first 3 tokens, types 0 0 1 1.
TaskFeatures rows_of(int64_t n, const std::string& task) {
  TaskFeatures f;
  f.max_len = L;
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t t = 0; t < L; ++t) {
      f.input_ids.push_back(int32_t((r + t) % 50 + 1));
      f.attention_mask.push_back(t < 3 ? 1 : 0);
      f.token_type_ids.push_back(t < 2 ? 0 : 1);
      if (task == "token-classification") f.labels.push_back(t == 0 ? kIgnoreIndex : int32_t((r + t) % 3));
      if (task == "question-answering") {
        f.offsets.push_back(t == 0 ? -1 : 2 * t);
        f.offsets.push_back(t == 0 ? -1 : 2 * t + 1);
      }
    }
    if (task == "sequence-classification") f.labels.push_back(int32_t(r % 3 == 0 ? 0 : 1));
    if (task == "question-answering") {
      f.start_positions.push_back(int32_t(r % 4));
      f.end_positions.push_back(int32_t(std::min<int64_t>(r % 4 + 1, L - 1)));
    }
    f.example_index.push_back(r);
  }
  return f;
}

TaskDatasetInfo info_for(const std::string& task) {
  TaskDatasetInfo info;
  info.task = task;
  info.tokenizer = "wordpiece";
  info.vocab_size = 64;
  info.pad_id = 0;
  info.max_len = L;
  if (task == "sequence-classification") info.label_names = {"no", "yes"};
  if (task == "token-classification") info.label_names = {"O", "B-X", "I-X"};
  return info;
}

std::string write_dataset(const std::string& name, const std::string& task, int64_t n,
                          const std::map<std::string, TaskExamples>& examples = {},
                          const TaskDatasetInfo* given = nullptr) {
  const auto path = (fresh_dir("task_batch_loader_" + name) / "d.h5").string();
  write_task_dataset(path, given ? *given : info_for(task), {{"train", rows_of(n, task)}, {"validation", rows_of(5, task)}},
                     MPI_COMM_NULL, examples);
  return path;
}

std::vector<int32_t> row_ids(int64_t r) {
  std::vector<int32_t> v;
  for (int64_t t = 0; t < L; ++t) v.push_back(int32_t((r + t) % 50 + 1));
  return v;
}

}  // namespace

TEST(TaskBatchLoader, SequentialRanksSplitEachGlobalBatchAndDropTheTail) {
  TaskDataset d(write_dataset("seq", "sequence-classification", 10), MPI_COMM_NULL);
  // B = 2, dp = 2: global batches {0,1 | 2,3}, {4,5 | 6,7}; rows 8, 9 dropped.
  TaskBatchLoader r0(d, "train", 2, false, 1, 0, 2), r1(d, "train", 2, false, 1, 1, 2);
  EXPECT_EQ(r0.batches_per_epoch(), 2);
  EXPECT_EQ(r0.num_samples(), 10);
  MicroBatch mb;
  std::vector<std::vector<int64_t>> seen0, seen1;
  for (int i = 0; i < 3; ++i) {
    r0.next_batch(mb);
    seen0.push_back(mb.example_index);
    ASSERT_EQ(mb.B, 2);
    ASSERT_EQ(mb.T, L);
    EXPECT_TRUE(mb.has_mask && mb.has_types);
    ASSERT_EQ(mb.labels.size(), 2u);
    for (int b = 0; b < 2; ++b) {
      const int64_t r = mb.example_index[size_t(b)];
      EXPECT_EQ(std::vector<int32_t>(mb.tokens.begin() + b * L, mb.tokens.begin() + (b + 1) * L), row_ids(r));
      EXPECT_EQ(mb.labels[size_t(b)], r % 3 == 0 ? 0 : 1);
      EXPECT_EQ(mb.attention_mask[size_t(b * L + 3)], 0);
      EXPECT_EQ(mb.token_types[size_t(b * L + 2)], 1);
    }
    r1.next_batch(mb);
    seen1.push_back(mb.example_index);
  }
  EXPECT_EQ(seen0, (std::vector<std::vector<int64_t>>{{0, 1}, {4, 5}, {0, 1}}));
  EXPECT_EQ(seen1, (std::vector<std::vector<int64_t>>{{2, 3}, {6, 7}, {2, 3}}));
  EXPECT_EQ(r0.epoch(), 1);
  EXPECT_EQ(r0.cursor(), 4);
}

TEST(TaskBatchLoader, ShuffledEpochFollowsEpochOrderAndResumesExactly) {
  TaskDataset d(write_dataset("shuffle", "sequence-classification", 11), MPI_COMM_NULL);
  const TaskFeatures f = d.read_split("train");
  for (ResampleMode mode : {ResampleMode::None, ResampleMode::Oversample, ResampleMode::Undersample}) {
    const int B = 2, dp = 2;
    std::vector<TaskBatchLoader> ranks;
    for (int r = 0; r < dp; ++r) ranks.emplace_back(d, "train", B, true, 77, r, dp, mode);
    EXPECT_EQ(ranks[0].num_samples(), epoch_length(f.labels, mode));
    for (int64_t epoch = 0; epoch < 2; ++epoch) {
      const auto order = epoch_order(f.labels, mode, 77, epoch);
      std::vector<int64_t> got;
      for (int64_t g = 0; g < ranks[0].batches_per_epoch(); ++g)
        for (auto& l : ranks) {
          MicroBatch mb;
          l.next_batch(mb);
          got.insert(got.end(), mb.example_index.begin(), mb.example_index.end());
          for (int b = 0; b < B; ++b) EXPECT_EQ(mb.labels[size_t(b)], f.labels[size_t(mb.example_index[size_t(b)])]);
        }
      EXPECT_EQ(got, std::vector<int64_t>(order.begin(), order.begin() + int64_t(got.size())))
          << resample_mode_name(mode) << " epoch " << epoch;
    }
    // Resume: a fresh loader set to the saved position continues identically.
    TaskBatchLoader a(d, "train", B, true, 77, 1, dp, mode), b(d, "train", B, true, 77, 1, dp, mode);
    MicroBatch ma, mb;
    for (int i = 0; i < 3; ++i) a.next_batch(ma);
    b.set_position(a.epoch(), a.cursor());
    for (int i = 0; i < 4; ++i) {
      a.next_batch(ma);
      b.next_batch(mb);
      EXPECT_EQ(ma.example_index, mb.example_index);
      EXPECT_EQ(ma.tokens, mb.tokens);
    }
  }
}

TEST(TaskBatchLoader, LabelsPerHead) {
  {
    TaskDataset d(write_dataset("tok", "token-classification", 6), MPI_COMM_NULL);
    TaskBatchLoader l(d, "train", 3, false, 0);
    MicroBatch mb;
    l.next_batch(mb);
    ASSERT_EQ(mb.labels.size(), size_t(3 * L));
    for (int b = 0; b < 3; ++b)
      for (int64_t t = 0; t < L; ++t)
        EXPECT_EQ(mb.labels[size_t(b * L + t)], t == 0 ? kIgnoreIndex : int32_t((b + t) % 3));
    EXPECT_THROW(TaskBatchLoader(d, "train", 3, true, 0, 0, 1, ResampleMode::Oversample), Error);
  }
  {
    TaskDataset d(write_dataset("qa", "question-answering", 6), MPI_COMM_NULL);
    TaskBatchLoader l(d, "train", 3, false, 0);
    MicroBatch mb;
    l.next_batch(mb);
    l.next_batch(mb);
    ASSERT_EQ(mb.labels.size(), 6u);
    for (int b = 0; b < 3; ++b) {
      const int64_t r = 3 + b;
      EXPECT_EQ(mb.example_index[size_t(b)], r);
      EXPECT_EQ(mb.labels[size_t(2 * b)], int32_t(r % 4));
      EXPECT_EQ(mb.labels[size_t(2 * b + 1)], int32_t(std::min<int64_t>(r % 4 + 1, L - 1)));
    }
  }
}

TEST(TaskBatchLoader, EvaluationVisitsEveryRowOncePaddingTheLastBatch) {
  for (const std::string task : {"sequence-classification", "token-classification", "question-answering"}) {
    TaskDataset d(write_dataset("eval", task, 10), MPI_COMM_NULL);
    const int B = 2, dp = 3;  // global batch 6: two batches, the second has 4 rows and 2 dummies
    std::vector<int64_t> rows;
    int dummies = 0;
    for (int r = 0; r < dp; ++r) {
      TaskBatchLoader l = TaskBatchLoader::for_evaluation(d, "train", B, r, dp);
      ASSERT_EQ(l.eval_batches(), 2);
      for (int64_t i = 0; i < l.eval_batches(); ++i) {
        MicroBatch mb;
        l.next_batch(mb);
        for (int b = 0; b < B; ++b) {
          const int64_t row = mb.example_index[size_t(b)];
          if (row >= 0) {
            rows.push_back(row);
            EXPECT_EQ(row, i * B * dp + r * B + b) << task;  // in order
            continue;
          }
          ++dummies;
          const int64_t per = labels_per_sample(task_head_kind(task), int(L));
          for (int64_t k = 0; k < per; ++k) EXPECT_EQ(mb.labels[size_t(b * per + k)], kIgnoreIndex);
          for (int64_t t = 0; t < L; ++t) {
            EXPECT_EQ(mb.tokens[size_t(b * L + t)], 0);
            EXPECT_EQ(mb.attention_mask[size_t(b * L + t)], t == 0 ? 1 : 0);
          }
        }
      }
    }
    std::sort(rows.begin(), rows.end());
    std::vector<int64_t> all(10);
    for (int64_t i = 0; i < 10; ++i) all[size_t(i)] = i;
    EXPECT_EQ(rows, all) << task;
    EXPECT_EQ(dummies, 2) << task;
  }
}

TEST(TaskBatchLoader, TooSmallSplitIsAnError) {
  TaskDataset d(write_dataset("small", "sequence-classification", 3), MPI_COMM_NULL);
  try {
    TaskBatchLoader l(d, "train", 2, false, 0, 0, 2);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fewer than one global micro-batch"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(TaskBatchLoader::for_evaluation(d, "train", 2, 1, 2));  // evaluation pads instead
  EXPECT_THROW(TaskBatchLoader(d, "test", 1, false, 0), Error);
}

TEST(TaskDatasetFile, ExamplesAndPrepareOptionsRoundTrip) {
  TaskDatasetInfo info = info_for("question-answering");
  info.tokenizer_files = {"/abs/vocab.txt"};
  info.doc_stride = 16;
  info.max_question_len = 32;
  TaskExamples ex;
  for (int i = 0; i < 10; ++i) {
    ex.ids.push_back("q" + std::to_string(i));
    ex.questions.push_back("who?\n\"quoted\"");
    ex.contexts.push_back("Moses — and Aaron " + std::to_string(i));
    ex.answers.push_back(i % 2 ? std::vector<std::string>{"Moses", "Aaron"} : std::vector<std::string>{});
  }
  TaskExamples val = ex;
  val.ids.resize(5), val.questions.resize(5), val.contexts.resize(5), val.answers.resize(5);
  const std::string path =
      write_dataset("examples", "question-answering", 10, {{"train", ex}, {"validation", val}}, &info);
  EXPECT_TRUE(is_task_dataset(path));
  TaskDataset d(path, MPI_COMM_NULL);
  EXPECT_EQ(d.info().tokenizer_files, info.tokenizer_files);
  EXPECT_EQ(d.info().doc_stride, 16);
  EXPECT_EQ(d.info().max_question_len, 32);
  ASSERT_TRUE(d.has_examples("train"));
  const TaskExamples got = d.read_examples("train");
  EXPECT_EQ(got.ids, ex.ids);
  EXPECT_EQ(got.questions, ex.questions);
  EXPECT_EQ(got.contexts, ex.contexts);
  EXPECT_EQ(got.answers, ex.answers);

  // A file without the optional parts (as older prepares wrote) stays readable.
  TaskDataset old(write_dataset("old", "question-answering", 10), MPI_COMM_NULL);
  EXPECT_TRUE(old.info().tokenizer_files.empty());
  EXPECT_EQ(old.info().doc_stride, 0);
  EXPECT_FALSE(old.has_examples("train"));
  try {
    old.read_examples("train");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/train/examples"), std::string::npos) << e.what();
  }
  // Too few examples for the rows' example_index.
  val.ids.resize(2), val.questions.resize(2), val.contexts.resize(2), val.answers.resize(2);
  EXPECT_THROW(write_dataset("short", "question-answering", 10, {{"validation", val}}), Error);
}

TEST(TaskDatasetFile, IsTaskDatasetOnlyForTaskFiles) {
  const auto dir = fresh_dir("is_task_dataset");
  write_file(dir / "text.h5", "not hdf5 at all");
  EXPECT_FALSE(is_task_dataset((dir / "text.h5").string()));
  EXPECT_FALSE(is_task_dataset((dir / "missing.h5").string()));
  EXPECT_TRUE(is_task_dataset(write_dataset("is_task", "token-classification", 4)));
  EXPECT_EQ(task_head_kind("token-classification"), HeadKind::TokenClassification);
  EXPECT_THROW(task_head_kind("summarisation"), Error);
}
