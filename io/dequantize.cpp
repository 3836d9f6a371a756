// Half/bfloat16 conversion and ggml block dequantisation (see dequantize.hpp).
#include "io/dequantize.hpp"

#include <cstring>

#include "src/runtime/error.hpp"

namespace tessera {

namespace {
inline uint32_t f2u(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float u2f(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint16_t rd16(const uint8_t* p) { return uint16_t(p[0] | (uint16_t(p[1]) << 8)); }
inline uint32_t rd32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
}  // namespace

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu;
  const uint32_t m = h & 0x3ffu;
  if (e == 0) {
    // zero or subnormal: m · 2^-24, exact in float
    const float v = float(m) * 5.9604644775390625e-08f;
    return u2f(f2u(v) | sign);
  }
  if (e == 31) return u2f(sign | 0x7f800000u | (m << 13));
  return u2f(sign | ((e + 112u) << 23) | (m << 13));
}

float bf16_to_fp32(uint16_t b) { return u2f(uint32_t(b) << 16); }

uint16_t fp32_to_fp16(float f) {
  const uint32_t x = f2u(f);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  const uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u) return uint16_t(sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // NaN, quiet
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u);                         // ≥ 65520 → inf
  if (a >= 0x38800000u) {                                                         // normal half
    uint32_t r = a - (112u << 23);
    r += 0xfffu + ((r >> 13) & 1u);
    return uint16_t(sign | (r >> 13));
  }
  if (a <= 0x33000000u) return sign;  // ≤ 2^-25 rounds (to even) to zero
  const uint32_t e = a >> 23;
  const uint32_t m = (a & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - e;  // 14..24
  uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (q & 1u))) ++q;
  return uint16_t(sign | q);
}

uint16_t fp32_to_bf16(float f) {
  const uint32_t x = f2u(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40u);  // NaN, quiet
  return uint16_t((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

GgmlTypeTraits ggml_type_traits(uint32_t type) {
  switch (type) {
    case 0: return {"F32", 1, 4, true};
    case 1: return {"F16", 1, 2, true};
    case 2: return {"Q4_0", 32, 18, true};
    case 3: return {"Q4_1", 32, 20, true};
    case 6: return {"Q5_0", 32, 22, true};
    case 7: return {"Q5_1", 32, 24, true};
    case 8: return {"Q8_0", 32, 34, true};
    case 9: return {"Q8_1", 32, 40, false};
    case 10: return {"Q2_K", 256, 84, false};
    case 11: return {"Q3_K", 256, 110, false};
    case 12: return {"Q4_K", 256, 144, false};
    case 13: return {"Q5_K", 256, 176, false};
    case 14: return {"Q6_K", 256, 210, false};
    case 15: return {"Q8_K", 256, 292, false};
    case 16: return {"IQ2_XXS", 256, 66, false};
    case 17: return {"IQ2_XS", 256, 74, false};
    case 18: return {"IQ3_XXS", 256, 98, false};
    case 19: return {"IQ1_S", 256, 50, false};
    case 20: return {"IQ4_NL", 32, 18, false};
    case 21: return {"IQ3_S", 256, 110, false};
    case 22: return {"IQ2_S", 256, 82, false};
    case 23: return {"IQ4_XS", 256, 136, false};
    case 24: return {"I8", 1, 1, false};
    case 25: return {"I16", 1, 2, false};
    case 26: return {"I32", 1, 4, false};
    case 27: return {"I64", 1, 8, false};
    case 28: return {"F64", 1, 8, true};
    case 29: return {"IQ1_M", 256, 56, false};
    case 30: return {"BF16", 1, 2, true};
    case 34: return {"TQ1_0", 256, 54, false};
    case 35: return {"TQ2_0", 256, 66, false};
    case 39: return {"MXFP4", 32, 17, false};
    default: return {};
  }
}

std::string ggml_type_name(uint32_t type) {
  const GgmlTypeTraits t = ggml_type_traits(type);
  return t.name ? std::string(t.name) : "unknown(" + std::to_string(type) + ")";
}

void dequantize_ggml(uint32_t type, const uint8_t* src, uint64_t src_bytes, float* dst, uint64_t n,
                     const std::string& what) {
  const GgmlTypeTraits t = ggml_type_traits(type);
  if (!t.name) throw Error(what + ": unknown ggml type " + std::to_string(type));
  if (!t.dequantizable)
    throw Error(what + ": ggml type " + t.name + " cannot be dequantised (supported: F32, F16, BF16, F64, "
                "Q4_0, Q4_1, Q5_0, Q5_1, Q8_0)");
  if (n % t.block_size != 0)
    throw Error(what + ": " + std::to_string(n) + " elements is not a multiple of the " + t.name +
                " block size " + std::to_string(t.block_size));
  const uint64_t nb = n / t.block_size;
  if (src_bytes / t.type_size != nb || src_bytes % t.type_size != 0)
    throw Error(what + ": " + std::to_string(src_bytes) + " bytes do not hold " + std::to_string(n) + " " +
                t.name + " elements");
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::F32:
      std::memcpy(dst, src, n * 4);
      return;
    case GgmlType::F16:
      for (uint64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(rd16(src + 2 * i));
      return;
    case GgmlType::BF16:
      for (uint64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(rd16(src + 2 * i));
      return;
    case GgmlType::F64:
      for (uint64_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, src + 8 * i, 8);
        dst[i] = float(d);
      }
      return;
    case GgmlType::Q4_0:
      for (uint64_t b = 0; b < nb; ++b, src += 18, dst += 32) {
        const float d = fp16_to_fp32(rd16(src));
        const uint8_t* qs = src + 2;
        for (int j = 0; j < 16; ++j) {
          dst[j] = float(int(qs[j] & 0x0f) - 8) * d;
          dst[j + 16] = float(int(qs[j] >> 4) - 8) * d;
        }
      }
      return;
    case GgmlType::Q4_1:
      for (uint64_t b = 0; b < nb; ++b, src += 20, dst += 32) {
        const float d = fp16_to_fp32(rd16(src));
        const float m = fp16_to_fp32(rd16(src + 2));
        const uint8_t* qs = src + 4;
        for (int j = 0; j < 16; ++j) {
          dst[j] = float(qs[j] & 0x0f) * d + m;
          dst[j + 16] = float(qs[j] >> 4) * d + m;
        }
      }
      return;
    case GgmlType::Q5_0:
      for (uint64_t b = 0; b < nb; ++b, src += 22, dst += 32) {
        const float d = fp16_to_fp32(rd16(src));
        const uint32_t qh = rd32(src + 2);
        const uint8_t* qs = src + 6;
        for (int j = 0; j < 16; ++j) {
          const int x0 = int((qs[j] & 0x0f) | (((qh >> j) << 4) & 0x10)) - 16;
          const int x1 = int((qs[j] >> 4) | ((qh >> (j + 12)) & 0x10)) - 16;
          dst[j] = float(x0) * d;
          dst[j + 16] = float(x1) * d;
        }
      }
      return;
    case GgmlType::Q5_1:
      for (uint64_t b = 0; b < nb; ++b, src += 24, dst += 32) {
        const float d = fp16_to_fp32(rd16(src));
        const float m = fp16_to_fp32(rd16(src + 2));
        const uint32_t qh = rd32(src + 4);
        const uint8_t* qs = src + 8;
        for (int j = 0; j < 16; ++j) {
          const int x0 = int((qs[j] & 0x0f) | (((qh >> j) << 4) & 0x10));
          const int x1 = int((qs[j] >> 4) | ((qh >> (j + 12)) & 0x10));
          dst[j] = float(x0) * d + m;
          dst[j + 16] = float(x1) * d + m;
        }
      }
      return;
    case GgmlType::Q8_0:
      for (uint64_t b = 0; b < nb; ++b, src += 34, dst += 32) {
        const float d = fp16_to_fp32(rd16(src));
        for (int j = 0; j < 32; ++j) dst[j] = float(int8_t(src[2 + j])) * d;
      }
      return;
    default:
      throw Error(what + ": ggml type " + t.name + " cannot be dequantised");
  }
}

}  // namespace tessera
