// Micro-batches from one split of a task dataset (io/task_dataset.hpp), read once into
// memory. T = the dataset's max_len; tokens / attention_mask / token_types [B,T] and the
// labels of the dataset's head: sequence classification [B] (label id), token
// classification [B,T] (kIgnoreIndex where ignored), QA [B,2] (start, end token);
// MicroBatch::example_index holds each sample's dataset row.
//
// Training: each epoch visits epoch_order(labels, mode, seed, epoch)
// (src/train/resampling_sampler.hpp; identity when shuffle = false and mode = None);
// data-parallel rank r reads samples [r·B, (r+1)·B) of each global micro-batch of B·dp,
// and the tail of an epoch that does not fill a global micro-batch is dropped.
// Evaluation (for_evaluation): the rows in order, each exactly once per pass of
// eval_batches() global micro-batches; the last one is padded with dummy samples
// (example_index −1, every label kIgnoreIndex, pad tokens, attention on the first
// token only) so every rank runs the same number of batches.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include "src/train/batch_source.hpp"
#include "src/train/resampling_sampler.hpp"

namespace tessera {

class TaskDataset;
struct TaskFeatures;

class TaskBatchLoader : public BatchSource {
 public:
  // Resampling needs a sequence-classification split (Error otherwise); a split with
  // fewer samples than one global micro-batch is an Error.
  TaskBatchLoader(const TaskDataset& data, const std::string& split, int micro_batch, bool shuffle, uint64_t seed,
                  int dp_rank = 0, int dp_size = 1, ResampleMode mode = ResampleMode::None);
  static TaskBatchLoader for_evaluation(const TaskDataset& data, const std::string& split, int micro_batch,
                                        int dp_rank = 0, int dp_size = 1);
  TaskBatchLoader(TaskBatchLoader&&) noexcept;
  TaskBatchLoader& operator=(TaskBatchLoader&&) noexcept;
  ~TaskBatchLoader() override;

  void next_batch(MicroBatch& mb) override;
  int64_t num_samples() const override { return num_samples_; }
  // Training: full global micro-batches per epoch; evaluation: eval_batches().
  int64_t batches_per_epoch() const override;
  int64_t epoch() const override { return epoch_; }
  int64_t cursor() const override { return cursor_; }
  void set_position(int64_t epoch, int64_t cursor) override;

  // Global micro-batches that cover every row once: ceil(rows / (B·dp)).
  int64_t eval_batches() const;
  bool evaluation() const { return evaluation_; }
  HeadKind head() const { return head_; }
  int seq_len() const { return T_; }
  int micro_batch() const { return B_; }
  const TaskFeatures& features() const { return *features_; }

 private:
  TaskBatchLoader(const TaskDataset& data, const std::string& split, int micro_batch, int dp_rank, int dp_size,
                  bool evaluation);
  void build_order();
  void fill_sample(MicroBatch& mb, int b, int64_t row) const;

  std::unique_ptr<TaskFeatures> features_;
  std::string split_;
  HeadKind head_ = HeadKind::SequenceClassification;
  int B_ = 1, T_ = 0;
  bool shuffle_ = false, evaluation_ = false;
  uint64_t seed_ = 0;
  int dp_rank_ = 0, dp_size_ = 1;
  ResampleMode mode_ = ResampleMode::None;
  int32_t pad_id_ = 0;
  int64_t rows_ = 0, num_samples_ = 0;
  int64_t epoch_ = 0, cursor_ = 0;
  std::vector<int32_t> sampling_labels_;  // what epoch_order draws classes from
  std::vector<int64_t> order_;
};

}  // namespace tessera
