// Kokkos ggml dequantisation (see kernels/dequantize.hpp). One thread per output pair
// (nibble formats: element j and j + 16 of a block) or per element.
#include "kernels/dequantize.hpp"

#include "io/dequantize.hpp"
#include "kernels/half_bits.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

template <class S>
void dequantize_ggml_device(View1<S> out, ConstView1<uint8_t> raw, uint32_t ggml_type, int64_t n,
                            const std::string& what) {
  const GgmlTypeTraits t = ggml_type_traits(ggml_type);
  if (!t.name) throw Error(what + ": unknown ggml type " + std::to_string(ggml_type));
  if (!t.dequantizable) throw Error(what + ": ggml type " + t.name + " cannot be dequantised");
  if (n < 0 || uint64_t(n) % t.block_size != 0)
    throw Error(what + ": " + std::to_string(n) + " elements is not a multiple of the " + t.name + " block size");
  const int64_t nb = n / int64_t(t.block_size);
  if (uint64_t(raw.extent(0)) != uint64_t(nb) * t.type_size)
    throw Error(what + ": " + std::to_string(raw.extent(0)) + " bytes do not hold " + std::to_string(n) + " " +
                t.name + " elements");
  if (int64_t(out.extent(0)) < n)
    throw Error(what + ": output holds " + std::to_string(out.extent(0)) + " < " + std::to_string(n) + " elements");
  switch (static_cast<GgmlType>(ggml_type)) {
    case GgmlType::F32:
      Kokkos::parallel_for(
          "dequant_f32", RangePolicy(0, n),
          KOKKOS_LAMBDA(const int64_t i) { out(i) = S(kdq::bits_to_float(kdq::ld32(raw, 4 * i))); });
      break;
    case GgmlType::F16:
      Kokkos::parallel_for(
          "dequant_f16", RangePolicy(0, n),
          KOKKOS_LAMBDA(const int64_t i) { out(i) = S(kdq::half_to_float(kdq::ld16(raw, 2 * i))); });
      break;
    case GgmlType::BF16:
      Kokkos::parallel_for(
          "dequant_bf16", RangePolicy(0, n),
          KOKKOS_LAMBDA(const int64_t i) { out(i) = S(kdq::bits_to_float(kdq::ld16(raw, 2 * i) << 16)); });
      break;
    case GgmlType::F64:
      Kokkos::parallel_for(
          "dequant_f64", RangePolicy(0, n), KOKKOS_LAMBDA(const int64_t i) {
            union {
              uint64_t u;
              double d;
            } c;
            c.u = uint64_t(kdq::ld32(raw, 8 * i)) | (uint64_t(kdq::ld32(raw, 8 * i + 4)) << 32);
            out(i) = S(float(c.d));
          });
      break;
    case GgmlType::Q4_0:
      Kokkos::parallel_for(
          "dequant_q4_0", RangePolicy(0, nb * 16), KOKKOS_LAMBDA(const int64_t i) {
            const int64_t b = i / 16, j = i % 16, base = b * 18;
            const float d = kdq::half_to_float(kdq::ld16(raw, base));
            const uint32_t q = raw(base + 2 + j);
            out(b * 32 + j) = S(float(int(q & 0x0fu) - 8) * d);
            out(b * 32 + j + 16) = S(float(int(q >> 4) - 8) * d);
          });
      break;
    case GgmlType::Q4_1:
      Kokkos::parallel_for(
          "dequant_q4_1", RangePolicy(0, nb * 16), KOKKOS_LAMBDA(const int64_t i) {
            const int64_t b = i / 16, j = i % 16, base = b * 20;
            const float d = kdq::half_to_float(kdq::ld16(raw, base));
            const float m = kdq::half_to_float(kdq::ld16(raw, base + 2));
            const uint32_t q = raw(base + 4 + j);
            out(b * 32 + j) = S(float(q & 0x0fu) * d + m);
            out(b * 32 + j + 16) = S(float(q >> 4) * d + m);
          });
      break;
    case GgmlType::Q5_0:
      Kokkos::parallel_for(
          "dequant_q5_0", RangePolicy(0, nb * 16), KOKKOS_LAMBDA(const int64_t i) {
            const int64_t b = i / 16, j = i % 16, base = b * 22;
            const float d = kdq::half_to_float(kdq::ld16(raw, base));
            const uint32_t qh = kdq::ld32(raw, base + 2);
            const uint32_t q = raw(base + 6 + j);
            const int x0 = int((q & 0x0fu) | (((qh >> j) << 4) & 0x10u)) - 16;
            const int x1 = int((q >> 4) | ((qh >> (j + 12)) & 0x10u)) - 16;
            out(b * 32 + j) = S(float(x0) * d);
            out(b * 32 + j + 16) = S(float(x1) * d);
          });
      break;
    case GgmlType::Q5_1:
      Kokkos::parallel_for(
          "dequant_q5_1", RangePolicy(0, nb * 16), KOKKOS_LAMBDA(const int64_t i) {
            const int64_t b = i / 16, j = i % 16, base = b * 24;
            const float d = kdq::half_to_float(kdq::ld16(raw, base));
            const float m = kdq::half_to_float(kdq::ld16(raw, base + 2));
            const uint32_t qh = kdq::ld32(raw, base + 4);
            const uint32_t q = raw(base + 8 + j);
            const int x0 = int((q & 0x0fu) | (((qh >> j) << 4) & 0x10u));
            const int x1 = int((q >> 4) | ((qh >> (j + 12)) & 0x10u));
            out(b * 32 + j) = S(float(x0) * d + m);
            out(b * 32 + j + 16) = S(float(x1) * d + m);
          });
      break;
    case GgmlType::Q8_0:
      Kokkos::parallel_for(
          "dequant_q8_0", RangePolicy(0, nb * 32), KOKKOS_LAMBDA(const int64_t i) {
            const int64_t b = i / 32, j = i % 32, base = b * 34;
            const float d = kdq::half_to_float(kdq::ld16(raw, base));
            out(b * 32 + j) = S(float(int(int8_t(raw(base + 2 + j)))) * d);
          });
      break;
    default:
      throw Error(what + ": ggml type " + t.name + " cannot be dequantised");
  }
}

template void dequantize_ggml_device<float>(View1<float>, ConstView1<uint8_t>, uint32_t, int64_t, const std::string&);

}  // namespace tessera
