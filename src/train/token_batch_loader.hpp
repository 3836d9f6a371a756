// Batches of (input, target) windows from a tokenized split.
// Sample s is tokens[s·T, s·T+T] (T+1 tokens: inputs are the first T, targets the
// last T). Each epoch visits every sample once in an order that is a pure function
// of (seed, epoch); the global micro-batch of B·dp samples is split so data-parallel
// rank r reads samples [r·B, (r+1)·B) of it. The position (epoch, cursor) counts
// global samples and is saved in checkpoints, so a resumed run continues exactly.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "io/token_dataset.hpp"
#include "src/train/batch_source.hpp"

namespace tessera {

class TokenBatchLoader : public BatchSource {
 public:
  TokenBatchLoader(const TokenDataset& data, std::string split, int seq_len, int micro_batch, bool shuffle,
                   uint64_t seed, int dp_rank = 0, int dp_size = 1);

  // Fills tokens and targets ([B,T] each, row-major) and advances the position.
  void next_batch(int32_t* tokens, int32_t* targets);
  // BatchSource: tokens and next-token labels (causal LM), no mask or types.
  void next_batch(MicroBatch& mb) override;

  int64_t num_samples() const override { return num_samples_; }
  int64_t batches_per_epoch() const override { return num_samples_ / (int64_t(micro_batch_) * dp_size_); }
  int64_t epoch() const override { return epoch_; }
  int64_t cursor() const override { return cursor_; }
  void set_position(int64_t epoch, int64_t cursor) override;

 private:
  void build_order();
  const TokenDataset& data_;
  std::string split_;
  int seq_len_, micro_batch_;
  bool shuffle_;
  uint64_t seed_;
  int dp_rank_, dp_size_;
  int64_t num_samples_ = 0;
  int64_t epoch_ = 0, cursor_ = 0;
  std::vector<int64_t> order_;
  std::vector<int32_t> window_;
};

}  // namespace tessera
