// Number formats of untrusted checkpoint files: IEEE half / bfloat16 conversion
// (exact widening, round-to-nearest-even narrowing) and the ggml block formats GGUF
// files store (F32, F16, BF16, F64, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 dequantised to
// float32; every other ggml type is known by name and size only, so a file holding
// one can be listed, but dequantising it throws tessera::Error).
// Host-only and free of MPI/Kokkos: the fuzz targets compile this file alone.
// Block layouts (ggml, little-endian; d and m are IEEE half):
//   Q4_0  {d, qs[16]}          32 values: v = (q - 8)·d
//   Q4_1  {d, m, qs[16]}       32 values: v = q·d + m
//   Q5_0  {d, qh[4], qs[16]}   32 values: v = (q - 16)·d, q = nibble | bit<<4
//   Q5_1  {d, m, qh[4], qs[16]} 32 values: v = q·d + m
//   Q8_0  {d, qs[32] int8}     32 values: v = q·d
// Nibble order: qs[j] low nibble is element j, high nibble element j + 16.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace tessera {

float fp16_to_fp32(uint16_t h);
float bf16_to_fp32(uint16_t b);
// Round-to-nearest-even; NaN stays NaN (quiet), overflow gives ±inf.
uint16_t fp32_to_fp16(float f);
uint16_t fp32_to_bf16(float f);

// ggml tensor types (values as stored in GGUF tensor infos).
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

struct GgmlTypeTraits {
  const char* name = nullptr;  // nullptr: not a known type
  uint64_t block_size = 0;     // elements per block
  uint64_t type_size = 0;      // bytes per block
  bool dequantizable = false;  // dequantize_ggml() supports it
};

// Traits of a raw type id; name == nullptr when the id is unknown.
GgmlTypeTraits ggml_type_traits(uint32_t type);
// "Q4_1", or "unknown(<id>)".
std::string ggml_type_name(uint32_t type);

// Dequantises `n` elements of `type` from `src` (holding `src_bytes` bytes) into
// dst[0..n). Throws tessera::Error (prefixed with `what`, e.g. "file.gguf: tensor x")
// when the type is unknown or unsupported, n is not a multiple of the block size, or
// src_bytes != n / block_size · type_size.
void dequantize_ggml(uint32_t type, const uint8_t* src, uint64_t src_bytes, float* dst, uint64_t n,
                     const std::string& what);

}  // namespace tessera
