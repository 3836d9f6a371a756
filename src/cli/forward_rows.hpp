// Encoded task rows and their head logits, sharded over the ranks (predict, calibrate).
#pragma once
#include <mpi.h>
#include <cstdint>
#include <string>
#include <vector>

#include "src/model/transformer.hpp"

namespace tessera {

// Encoded rows: B·T ids, masks and types; per input, the rows it owns.
struct Encoded {
  int64_t T = 0;
  std::vector<int32_t> ids, mask, types;
  // Auxiliary features per row (a feature head; io/auxiliary_features.hpp): [rows, D], [rows, M].
  int64_t D = 0, M = 0;
  std::vector<float> dense;
  std::vector<int32_t> categorical;
  int64_t rows() const { return T > 0 ? int64_t(ids.size()) / T : 0; }
};

void append_row(Encoded& e, const std::vector<int32_t>& ids, int32_t pad);
// Encoded rows of a task dataset split: ids, mask, types and its auxiliary features.
struct TaskFeatures;
Encoded encoded_rows(const TaskFeatures& f);

// Dropout during the forward (MC dropout): off by default. Pass p of global batch g
// uses the dropout key (seed, step = p·batches + g), so the masks of a row do not
// depend on the number of ranks.
struct Dropout {
  bool on = false;
  uint64_t seed = 0, pass = 0;
};

// The input of a sequence classifier's last linear layer (its "features") after a
// forward of B rows × T (mask [B, T], right padding), [B, n_embd] on the host:
//   BERT     the pooler output tanh(W_p h[CLS] + b_p)        → classifier [K, C] + bias
//   RoBERTa  tanh(classifier.dense(h[<s>]))                  → classifier.out_proj [K, C] + bias
//   GPT-2, Llama  the final hidden state of the last non-pad token → score [K, C], no bias
// (evaluation mode: the classifier dropout is off). RoBERTa's dense layer is applied on
// the host in double from the float weights. With a feature head, every family: the
// feature head's output (its last hidden layer, or [pooled ; dense ; embeddings] without
// hidden layers) → the same last linear layer [K, W].
// Width of those features: n_embd, or the feature head's output width (features.output_dim).
int64_t classifier_input_width(const TransformerConfig& mc);
class ClassifierFeatures {
 public:
  explicit ClassifierFeatures(Transformer<float>& model);
  std::vector<float> operator()(const int32_t* mask, int B, int T) const;

 private:
  Transformer<float>& model_;
  std::vector<double> dense_w_, dense_b_;
};
// The last linear layer of the sequence-classification head ("classifier",
// "classifier.out_proj" or "score"); it has a bias for BERT / RoBERTa only.
std::string classifier_output_layer(const TransformerConfig& mc);

// Logits of every row, in row order, on rank 0 (empty elsewhere): global batch g of B
// rows runs on rank g mod size; short batches are padded with one-token dummy rows.
// pooled: collect the classifier features [rows, W] (ClassifierFeatures; per_row = W = classifier_input_width) instead.
std::vector<float> forward_rows(Transformer<float>& model, const Encoded& enc, int B, int64_t per_row,
                                int32_t pad, MPI_Comm comm, const Dropout& dropout = {}, bool pooled = false);

}  // namespace tessera
