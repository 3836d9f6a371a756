// Where training and evaluation micro-batches come from: a language-model token
// stream (TokenBatchLoader) or a tokenised task dataset (TaskBatchLoader). Each
// data-parallel rank reads its own B samples of every global micro-batch; the
// position (epoch, cursor) counts global samples and is saved in checkpoints, so
// a resumed run continues exactly.
#pragma once
#include <cstdint>
#include <vector>
#include "src/model/transformer.hpp"

namespace tessera {

// One micro-batch in host memory, row-major [B,T]; labels as ModelInputs::labels.
struct MicroBatch {
  int B = 0, T = 0;
  std::vector<int32_t> tokens, token_types, attention_mask, labels;
  std::vector<int64_t> example_index;  // task datasets: the dataset row of each sample (-1 = padding sample)
  // Auxiliary features (task datasets with a feature schema): [B, D] and [B, M]; empty = none.
  std::vector<float> dense_features;
  std::vector<int32_t> categorical_features;
  bool has_types = false, has_mask = false;

  ModelInputs inputs() const {
    ModelInputs in;
    in.tokens = tokens.data();
    in.token_types = has_types ? token_types.data() : nullptr;
    in.attention_mask = has_mask ? attention_mask.data() : nullptr;
    in.labels = labels.empty() ? nullptr : labels.data();
    in.dense_features = dense_features.empty() ? nullptr : dense_features.data();
    in.categorical_features = categorical_features.empty() ? nullptr : categorical_features.data();
    return in;
  }
};

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Fills the next micro-batch of this rank and advances the position.
  virtual void next_batch(MicroBatch& mb) = 0;
  virtual int64_t num_samples() const = 0;         // samples per epoch (after resampling)
  virtual int64_t batches_per_epoch() const = 0;   // global micro-batches per epoch
  virtual int64_t epoch() const = 0;
  virtual int64_t cursor() const = 0;
  virtual void set_position(int64_t epoch, int64_t cursor) = 0;
};

}  // namespace tessera
