// SMOTE in the head's input space (train.smote_ratio, train.smote_k; docs/fine_tuning.md
// "SMOTE on pooled representations").
//
// During a training forward of a sequence-classification model, for every row b of the
// micro-batch whose label is a minority class (a class with fewer training samples than
// the largest one), SmoteRows::synthesize appends n_b synthetic head-input rows:
//   n_b = floor(ratio) + [u_b < frac(ratio)]              (u_b uniform, seeded)
//   x̃  = x_b + λ·(x_nn − x_b),  λ ~ U[0, 1)
// x_b is the row's pooled vector (the [CLS] / last-token hidden state the head reads) and
// x_nn one of its k nearest neighbours (squared Euclidean distance) among the pooled vectors of
// the same class: a bank of the most recent `bank_size` minority rows of earlier
// micro-batches (stored detached, as computed at their step; oldest first) followed by
// the other same-class rows of this micro-batch (ties: the earlier candidate). The
// neighbour is one of the k drawn uniformly. A row with no same-class candidate gets no
// synthetic row. At most `max_rows` synthetic rows per micro-batch (rows in batch order).
// The current rows then enter the bank (FIFO per class).
//
// The synthetic rows carry the row's label and go through the head (dense / pooler,
// dropout, classifier, loss) with the real rows; the loss is the (class-weighted) mean
// over real + synthetic rows. Their gradient reaches the head's parameters only: the
// model propagates d(head input) back into the encoder for the real rows alone.
//
// Randomness: counter RNG keyed by (seed, step, rank) — the same on every tensor-parallel
// rank, so replicated heads stay identical; a resumed run starts with an empty bank.
#pragma once
#include <cstdint>
#include <deque>
#include <vector>

namespace tessera {

struct SmoteOptions {
  double ratio = 0;          // synthetic rows per minority row (0 = off)
  int k = 5;                 // neighbours to choose from
  int bank_size = 256;       // remembered minority vectors per class
  std::vector<char> minority;  // [num_labels]: 1 = a class SMOTE augments
  uint64_t seed = 0;
};

struct SmoteBatch {
  std::vector<double> rows;     // [S, C] synthetic head inputs
  std::vector<int32_t> labels;  // [S]
  std::vector<int32_t> source;  // [S] the batch row each synthetic row starts from
  std::vector<double> lambda;   // [S] interpolation weights
  int64_t count() const { return int64_t(labels.size()); }
};

// Minority classes of a training label list: every class with fewer samples than the
// largest (labels outside [0, num_labels) are ignored).
std::vector<char> minority_classes(const std::vector<int32_t>& labels, int num_labels);

// Indices of the k nearest of `candidates` ([n, C]) to x (squared Euclidean distance,
// ties broken by the lower index), nearest first. Plain loops: the reference is a sort.
std::vector<int64_t> nearest_neighbours(const double* x, const std::vector<double>& candidates, int64_t C, int k);

class SmoteRows {
 public:
  SmoteRows(SmoteOptions opt, int64_t width);
  // pooled [B, C] (row-major), labels [B] (negative = ignored); step and rank key the RNG.
  SmoteBatch synthesize(const double* pooled, const int32_t* labels, int B, int max_rows, uint64_t step,
                        uint64_t rank);
  const SmoteOptions& options() const { return opt_; }
  int64_t width() const { return C_; }
  int64_t bank_rows(int32_t label) const;

 private:
  SmoteOptions opt_;
  int64_t C_;
  std::vector<std::deque<std::vector<double>>> bank_;  // per class, oldest first
};

}  // namespace tessera
