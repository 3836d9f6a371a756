// Linear layers on packed (weight-only quantised) matrices, dequantised inside the
// kernel: y[n, o] = Σ_i x[n, i] · W[o, i] (+ b[o]) with W never expanded whole.
// A PackedMatrix holds rows × cols weights row by row, each row a run of blocks:
//   int8  per output channel: cols int8 bytes per row + one float scale per row
//         (v = q · scale[o])
//   Q8_0 / Q4_0 / Q4_1: ggml blocks of 32 input columns (layouts in io/dequantize.hpp),
//         bytes as GGUF stores them.
// Few rows (decoding, N ≤ kPackedDotRows): one Kokkos thread per (n, o) walks the
// row's blocks and accumulates the dot product from the packed bytes. More rows
// (prefill, evaluation): a Kokkos kernel dequantises a tile of kPackedTileRows
// weight rows into a scratch buffer, one GEMM multiplies it; peak extra memory is
// one tile, never the whole matrix.
#pragma once
#include <cstdint>
#include <string>
#include "kernels/views.hpp"

namespace tessera {

enum class PackedFormat : int { Int8 = 0, Q8_0 = 1, Q4_0 = 2, Q4_1 = 3 };

inline constexpr int64_t kPackedDotRows = 4;
inline constexpr int64_t kPackedTileRows = 128;

// "int8", "q8_0", "q4_0", "q4_1".
const char* packed_format_name(PackedFormat f);
// Parses the names above; throws tessera::Error naming `what` otherwise.
PackedFormat parse_packed_format(const std::string& name, const std::string& what);
// Input columns one block covers (1 for int8, 32 otherwise) and its bytes.
int64_t packed_block_cols(PackedFormat f);
int64_t packed_block_bytes(PackedFormat f);
// Bytes of one packed row of `cols` weights (cols must be a multiple of the block).
int64_t packed_row_bytes(PackedFormat f, int64_t cols);
// The ggml type id of a block format (Q8_0 8, Q4_0 2, Q4_1 3); -1 for int8.
int packed_ggml_type(PackedFormat f);

struct PackedMatrix {
  PackedFormat format = PackedFormat::Q8_0;
  int64_t rows = 0, cols = 0;  // this rank's slice
  View1<uint8_t> bytes;        // rows · packed_row_bytes(format, cols)
  View1<float> row_scale;      // [rows], int8 only
  size_t memory_bytes() const { return bytes.span() + row_scale.span() * sizeof(float); }
};

// out[n, 0:rows] (row stride ldo) = inp[n, 0:cols] (stride ldi) · Wᵀ (+ b), n < N.
template <class S>
void packed_linear_forward(View1<S> out, int64_t ldo, const View1<S>& inp, int64_t ldi, const PackedMatrix& w,
                           const View1<S>& b, int64_t N);

// Dequantises rows [r0, r0+nr) of w into out[(r - r0) · cols + i] (tests, export, pruning).
template <class S>
void packed_dequantize_rows(View1<S> out, const PackedMatrix& w, int64_t r0, int64_t nr);

}  // namespace tessera
