// Encoded task rows and their head logits, sharded over the ranks (predict, calibrate).
#pragma once
#include <mpi.h>
#include <cstdint>
#include <vector>

#include "src/model/transformer.hpp"

namespace tessera {

// Encoded rows: B·T ids, masks and types; per input, the rows it owns.
struct Encoded {
  int64_t T = 0;
  std::vector<int32_t> ids, mask, types;
  int64_t rows() const { return T > 0 ? int64_t(ids.size()) / T : 0; }
};

void append_row(Encoded& e, const std::vector<int32_t>& ids, int32_t pad);

// Dropout during the forward (MC dropout): off by default. Pass p of global batch g
// uses the dropout key (seed, step = p·batches + g), so the masks of a row do not
// depend on the number of ranks.
struct Dropout {
  bool on = false;
  uint64_t seed = 0, pass = 0;
};

// Logits of every row, in row order, on rank 0 (empty elsewhere): global batch g of B
// rows runs on rank g mod size; short batches are padded with one-token dummy rows.
// pooled: collect the BERT pooler output [rows, n_embd] (per_row = n_embd) instead.
std::vector<float> forward_rows(Transformer<float>& model, const Encoded& enc, int B, int64_t per_row,
                                int32_t pad, MPI_Comm comm, const Dropout& dropout = {}, bool pooled = false);

}  // namespace tessera
