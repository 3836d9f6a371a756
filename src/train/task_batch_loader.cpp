#include "io/task_dataset.hpp"  // first: see the kIgnoreIndex note there
#include "src/train/task_batch_loader.hpp"
#include <algorithm>
#include <numeric>
#include "src/runtime/error.hpp"

namespace tessera {

TaskBatchLoader::TaskBatchLoader(const TaskDataset& data, const std::string& split, int micro_batch, int dp_rank,
                                 int dp_size, bool evaluation)
    : split_(split), B_(micro_batch), evaluation_(evaluation), dp_rank_(dp_rank), dp_size_(dp_size) {
  const std::string where = data.path() + ": split '" + split + "'";
  require(data.has_split(split), data.path() + ": no split '" + split + "'");
  require(micro_batch >= 1, where + ": micro-batch size must be >= 1, got " + std::to_string(micro_batch));
  require(dp_size >= 1 && dp_rank >= 0 && dp_rank < dp_size,
          where + ": bad data-parallel rank " + std::to_string(dp_rank) + " of " + std::to_string(dp_size));
  features_ = std::make_unique<TaskFeatures>(data.read_split(split));
  head_ = task_head_kind(data.info().task);
  T_ = static_cast<int>(data.info().max_len);
  pad_id_ = data.info().pad_id;
  rows_ = features_->size();
}

TaskBatchLoader::TaskBatchLoader(const TaskDataset& data, const std::string& split, int micro_batch, bool shuffle,
                                 uint64_t seed, int dp_rank, int dp_size, ResampleMode mode)
    : TaskBatchLoader(data, split, micro_batch, dp_rank, dp_size, false) {
  shuffle_ = shuffle;
  seed_ = seed;
  mode_ = mode;
  const std::string where = data.path() + ": split '" + split + "'";
  if (head_ == HeadKind::SequenceClassification) {
    sampling_labels_ = features_->labels;
  } else {
    require(mode == ResampleMode::None, where + ": resampling (" + std::string(resample_mode_name(mode)) +
                                            ") needs a sequence-classification dataset");
    sampling_labels_.assign(static_cast<size_t>(rows_), 0);
  }
  num_samples_ = epoch_length(sampling_labels_, mode_);
  const int64_t global = int64_t(B_) * dp_size_;
  require(num_samples_ >= global, where + " has " + std::to_string(num_samples_) +
                                      " samples per epoch, fewer than one global micro-batch (micro_batch " +
                                      std::to_string(B_) + " x dp " + std::to_string(dp_size_) + " = " +
                                      std::to_string(global) + ")");
  build_order();
}

TaskBatchLoader TaskBatchLoader::for_evaluation(const TaskDataset& data, const std::string& split, int micro_batch,
                                                int dp_rank, int dp_size) {
  TaskBatchLoader l(data, split, micro_batch, dp_rank, dp_size, true);
  l.num_samples_ = l.rows_;
  return l;
}

TaskBatchLoader::TaskBatchLoader(TaskBatchLoader&&) noexcept = default;
TaskBatchLoader& TaskBatchLoader::operator=(TaskBatchLoader&&) noexcept = default;
TaskBatchLoader::~TaskBatchLoader() = default;

int64_t TaskBatchLoader::eval_batches() const {
  const int64_t global = int64_t(B_) * dp_size_;
  return (rows_ + global - 1) / global;
}

int64_t TaskBatchLoader::batches_per_epoch() const {
  return evaluation_ ? eval_batches() : num_samples_ / (int64_t(B_) * dp_size_);
}

void TaskBatchLoader::build_order() {
  if (evaluation_) return;
  if (!shuffle_ && mode_ == ResampleMode::None) {
    order_.resize(static_cast<size_t>(rows_));
    std::iota(order_.begin(), order_.end(), int64_t(0));
  } else {
    order_ = epoch_order(sampling_labels_, mode_, seed_, epoch_);
  }
}

void TaskBatchLoader::set_position(int64_t epoch, int64_t cursor) {
  const int64_t limit = evaluation_ ? eval_batches() * int64_t(B_) * dp_size_ : num_samples_;
  require(epoch >= 0 && cursor >= 0 && cursor <= limit,
          "task data loader: invalid position (epoch " + std::to_string(epoch) + ", cursor " + std::to_string(cursor) +
              ") for split '" + split_ + "' of " + std::to_string(limit) + " samples per epoch");
  epoch_ = epoch;
  cursor_ = cursor;
  build_order();
}

void TaskBatchLoader::fill_sample(MicroBatch& mb, int b, int64_t row) const {
  const size_t T = size_t(T_), o = size_t(b) * T;
  const int64_t per = labels_per_sample(head_, T_);
  int32_t* lab = mb.labels.data() + size_t(b) * size_t(per);
  mb.example_index[size_t(b)] = row;  // the dataset row (-1: dummy)
  const size_t D = size_t(features_->dense_feature_dim), M = size_t(features_->categorical_feature_dim);
  if (row < 0) {  // dummy sample: pad tokens, one attended token, nothing to score
    std::fill_n(mb.tokens.data() + o, T, pad_id_);
    std::fill_n(mb.token_types.data() + o, T, 0);
    std::fill_n(mb.attention_mask.data() + o, T, 0);
    mb.attention_mask[o] = 1;
    std::fill_n(lab, size_t(per), kIgnoreIndex);
    std::fill_n(mb.dense_features.data() + size_t(b) * D, D, 0.0f);
    std::fill_n(mb.categorical_features.data() + size_t(b) * M, M, 0);
    return;
  }
  std::copy_n(features_->dense_features.data() + size_t(row) * D, D, mb.dense_features.data() + size_t(b) * D);
  std::copy_n(features_->categorical_features.data() + size_t(row) * M, M,
              mb.categorical_features.data() + size_t(b) * M);
  const size_t src = size_t(row) * T;
  std::copy_n(features_->input_ids.data() + src, T, mb.tokens.data() + o);
  std::copy_n(features_->token_type_ids.data() + src, T, mb.token_types.data() + o);
  std::copy_n(features_->attention_mask.data() + src, T, mb.attention_mask.data() + o);
  switch (head_) {
    case HeadKind::SequenceClassification: lab[0] = features_->labels[size_t(row)]; break;
    case HeadKind::TokenClassification: std::copy_n(features_->labels.data() + src, T, lab); break;
    case HeadKind::QuestionAnswering:
      lab[0] = features_->start_positions[size_t(row)];
      lab[1] = features_->end_positions[size_t(row)];
      break;
    default: throw Error("task data loader: unsupported head " + std::string(head_name(head_)));
  }
}

void TaskBatchLoader::next_batch(MicroBatch& mb) {
  const int64_t global = int64_t(B_) * dp_size_;
  const int64_t per_epoch = evaluation_ ? eval_batches() * global : num_samples_;
  if (cursor_ + global > per_epoch) {  // training: the tail that does not fill a global batch is dropped
    ++epoch_;
    cursor_ = 0;
    build_order();
  }
  const size_t n = size_t(B_) * size_t(T_);
  mb.B = B_;
  mb.T = T_;
  mb.tokens.resize(n);
  mb.token_types.resize(n);
  mb.attention_mask.resize(n);
  mb.labels.resize(size_t(B_) * size_t(labels_per_sample(head_, T_)));
  mb.example_index.resize(size_t(B_));
  mb.dense_features.resize(size_t(B_) * size_t(features_->dense_feature_dim));
  mb.categorical_features.resize(size_t(B_) * size_t(features_->categorical_feature_dim));
  mb.has_types = mb.has_mask = true;
  for (int b = 0; b < B_; ++b) {
    const int64_t pos = cursor_ + int64_t(dp_rank_) * B_ + b;
    const int64_t row = evaluation_ ? (pos < rows_ ? pos : -1) : order_[size_t(pos)];
    fill_sample(mb, b, row);
  }
  cursor_ += global;
}

}  // namespace tessera
