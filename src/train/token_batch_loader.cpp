#include "src/train/token_batch_loader.hpp"
#include <numeric>
#include "kernels/counter_rng.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

TokenBatchLoader::TokenBatchLoader(const TokenDataset& data, std::string split, int seq_len, int micro_batch,
                                   bool shuffle, uint64_t seed, int dp_rank, int dp_size)
    : data_(data), split_(std::move(split)), seq_len_(seq_len), micro_batch_(micro_batch), shuffle_(shuffle),
      seed_(seed), dp_rank_(dp_rank), dp_size_(dp_size) {
  require(data_.has_split(split_), "dataset has no split '" + split_ + "'");
  const int64_t n = data_.num_tokens(split_);
  num_samples_ = n > 1 ? (n - 1) / seq_len_ : 0;
  require(num_samples_ >= int64_t(micro_batch_) * dp_size_,
          "split '" + split_ + "' has " + std::to_string(n) + " tokens = " + std::to_string(num_samples_) +
              " samples of seq_len " + std::to_string(seq_len_) + ", fewer than one global micro-batch (" +
              std::to_string(int64_t(micro_batch_) * dp_size_) + ")");
  window_.resize(seq_len_ + 1);
  build_order();
}

// Fisher–Yates with counter-based draws: the order depends only on (seed, epoch).
void TokenBatchLoader::build_order() {
  order_.resize(num_samples_);
  std::iota(order_.begin(), order_.end(), 0);
  if (!shuffle_) return;
  const RngKey key{seed_, uint64_t(epoch_), 0, 0x5eedu};
  for (int64_t i = num_samples_ - 1; i > 0; --i) {
    const int64_t j = int64_t(rng_bits(key, uint64_t(i)) % uint64_t(i + 1));
    std::swap(order_[i], order_[j]);
  }
}

void TokenBatchLoader::set_position(int64_t epoch, int64_t cursor) {
  require(epoch >= 0 && cursor >= 0 && cursor <= num_samples_,
          "invalid data loader position in checkpoint (data_epoch " + std::to_string(epoch) + ", data_cursor " +
              std::to_string(cursor) + "; the training split has " + std::to_string(num_samples_) +
              " samples per epoch: a different dataset or data.seq_len than the run that wrote it?)");
  epoch_ = epoch;
  cursor_ = cursor;
  build_order();
}

void TokenBatchLoader::next_batch(int32_t* tokens, int32_t* targets) {
  const int64_t global = int64_t(micro_batch_) * dp_size_;
  if (cursor_ + global > num_samples_) {  // the tail that does not fill a global batch is dropped
    ++epoch_;
    cursor_ = 0;
    build_order();
  }
  for (int b = 0; b < micro_batch_; ++b) {
    const int64_t sample = order_[cursor_ + int64_t(dp_rank_) * micro_batch_ + b];
    data_.read_tokens(split_, sample * seq_len_, seq_len_ + 1, window_.data());
    for (int t = 0; t < seq_len_; ++t) {
      tokens[b * seq_len_ + t] = window_[t];
      targets[b * seq_len_ + t] = window_[t + 1];
    }
  }
  cursor_ += global;
}

void TokenBatchLoader::next_batch(MicroBatch& mb) {
  const size_t n = size_t(micro_batch_) * size_t(seq_len_);
  mb.B = micro_batch_;
  mb.T = seq_len_;
  mb.tokens.resize(n);
  mb.labels.resize(n);
  mb.has_types = mb.has_mask = false;
  next_batch(mb.tokens.data(), mb.labels.data());
}

}  // namespace tessera
