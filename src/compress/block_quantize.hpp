// Host quantisers of one weight row into the packed formats of
// kernels/packed_linear.hpp, bit-compatible with ggml's reference quantisation
// (ggml-quants.c quantize_row_*_ref, which the GGUF spec and the PyPI gguf
// package's gguf.quants follow):
//   Q8_0: d = max|x|/127, q = round(x/d) (half away from zero), d stored as half
//   Q4_0: d = x_amax/−8 (the value of largest magnitude, with its sign),
//         q = min(15, trunc(x/d + 8.5)), v = (q − 8)·d
//   Q4_1: d = (max − min)/15, m = min, q = min(15, trunc((x − m)/d + 0.5)), v = q·d + m
//   int8 per output channel: s = max|row|/127 (float), q = round(x/s), v = q·s
// GPTQ (src/compress/gptq.hpp) chooses the codes itself on a block grid: the grid of
// a block (d and m, rounded to half as stored) and the codes are written with
// write_block().
#pragma once
#include <cstdint>
#include "kernels/packed_linear.hpp"

namespace tessera {

// out = packed_row_bytes(f, cols) bytes; row_scale written for int8 only.
void quantize_row(PackedFormat f, const float* x, int64_t cols, uint8_t* out, float* row_scale);
// Inverse: cols floats (host; the independent check of the kernels' block math).
void dequantize_row(PackedFormat f, const uint8_t* in, float row_scale, int64_t cols, float* x);

// The value grid of one 32-weight block: v(q) = (q − zero)·d + m for q in [0, qmax].
struct BlockGrid {
  float d = 0, m = 0;
  int zero = 0, qmax = 0;
  int code(float x) const;            // nearest code, clamped
  float value(int q) const { return float(q - zero) * d + m; }
};
// Grid of a block format for these 32 values (scales as half, as stored).
BlockGrid block_grid(PackedFormat f, const float* x32);
// One block's bytes from its grid and 32 codes.
void write_block(PackedFormat f, const BlockGrid& g, const int* codes, uint8_t* out);

}  // namespace tessera
