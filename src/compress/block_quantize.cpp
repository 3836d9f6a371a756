// Host block quantisers (formulas in block_quantize.hpp).
#include "src/compress/block_quantize.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include "io/dequantize.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

namespace {

float half_rounded(float v) { return fp16_to_fp32(fp32_to_fp16(v)); }
void store_half(uint8_t* p, float v) {
  const uint16_t h = fp32_to_fp16(v);
  p[0] = uint8_t(h & 0xff);
  p[1] = uint8_t(h >> 8);
}

// ggml's reference codes for one block (the scale before rounding to half picks them).
void quantize_block(PackedFormat f, const float* x, uint8_t* out) {
  if (f == PackedFormat::Q8_0) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
    store_half(out, d);
    for (int j = 0; j < 32; ++j) out[2 + j] = uint8_t(int8_t(std::roundf(x[j] * id)));
    return;
  }
  int q[32];
  BlockGrid g;
  if (f == PackedFormat::Q4_0) {
    float amax = 0, vmax = 0;
    for (int j = 0; j < 32; ++j)
      if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); vmax = x[j]; }
    const float d = vmax / -8.0f, id = d != 0 ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; ++j) q[j] = std::min(15, int(std::trunc(x[j] * id + 8.5f)));
    g.d = d;
  } else {
    float mn = x[0], mx = x[0];
    for (int j = 1; j < 32; ++j) { mn = std::min(mn, x[j]); mx = std::max(mx, x[j]); }
    const float d = (mx - mn) / 15.0f, id = d != 0 ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; ++j) q[j] = std::min(15, int(std::trunc((x[j] - mn) * id + 0.5f)));
    g.d = d;
    g.m = mn;
  }
  write_block(f, g, q, out);
}

}  // namespace

int BlockGrid::code(float x) const {
  if (d == 0) return zero;
  const int q = int(std::lround((x - m) / d)) + zero;
  return std::clamp(q, 0, qmax);
}

BlockGrid block_grid(PackedFormat f, const float* x) {
  BlockGrid g;
  if (f == PackedFormat::Q8_0) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    g.d = half_rounded(amax / 127.0f);
    g.zero = 127;  // codes 0..254 stand for −127..127
    g.qmax = 254;
  } else if (f == PackedFormat::Q4_0) {
    float amax = 0, vmax = 0;
    for (int j = 0; j < 32; ++j)
      if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); vmax = x[j]; }
    g.d = half_rounded(vmax / -8.0f);
    g.zero = 8;
    g.qmax = 15;
  } else {
    require(f == PackedFormat::Q4_1, "block_grid: int8 has no block grid");
    float mn = x[0], mx = x[0];
    for (int j = 1; j < 32; ++j) { mn = std::min(mn, x[j]); mx = std::max(mx, x[j]); }
    g.d = half_rounded((mx - mn) / 15.0f);
    g.m = half_rounded(mn);
    g.qmax = 15;
  }
  return g;
}

void write_block(PackedFormat f, const BlockGrid& g, const int* q, uint8_t* out) {
  store_half(out, g.d);
  if (f == PackedFormat::Q8_0) {
    for (int j = 0; j < 32; ++j) out[2 + j] = uint8_t(int8_t(q[j] - g.zero));
    return;
  }
  uint8_t* qs = out + 2;
  if (f == PackedFormat::Q4_1) {
    store_half(out + 2, g.m);
    qs = out + 4;
  }
  for (int j = 0; j < 16; ++j) qs[j] = uint8_t(q[j] | (q[j + 16] << 4));
}

void quantize_row(PackedFormat f, const float* x, int64_t cols, uint8_t* out, float* row_scale) {
  if (f == PackedFormat::Int8) {
    float amax = 0;
    for (int64_t i = 0; i < cols; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float s = amax / 127.0f;
    *row_scale = s;
    for (int64_t i = 0; i < cols; ++i)
      out[i] = uint8_t(int8_t(s != 0 ? std::clamp(std::roundf(x[i] / s), -127.0f, 127.0f) : 0.0f));
    return;
  }
  const int64_t bb = packed_block_bytes(f);
  require(cols % 32 == 0, "quantize_row: " + std::to_string(cols) + " columns are not a multiple of 32");
  for (int64_t b = 0; b < cols / 32; ++b) quantize_block(f, x + b * 32, out + b * bb);
}

void dequantize_row(PackedFormat f, const uint8_t* in, float row_scale, int64_t cols, float* x) {
  if (f == PackedFormat::Int8) {
    for (int64_t i = 0; i < cols; ++i) x[i] = float(int8_t(in[i])) * row_scale;
    return;
  }
  dequantize_ggml(uint32_t(packed_ggml_type(f)), in, uint64_t(packed_row_bytes(f, cols)), x, uint64_t(cols),
                  "dequantize_row");
}

}  // namespace tessera
