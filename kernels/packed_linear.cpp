// Packed-weight linear layers (see kernels/packed_linear.hpp). The block math of
// one weight, as stored:
//   int8: v = q·s[o]   Q8_0: v = q·d   Q4_0: v = (nibble − 8)·d   Q4_1: v = nibble·d + m
// (qs[j] low nibble is element j of the block, high nibble element j + 16).
#include "kernels/packed_linear.hpp"

#include <algorithm>
#include "kernels/gemm.hpp"
#include "kernels/half_bits.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

const char* packed_format_name(PackedFormat f) {
  switch (f) {
    case PackedFormat::Int8: return "int8";
    case PackedFormat::Q8_0: return "q8_0";
    case PackedFormat::Q4_0: return "q4_0";
    case PackedFormat::Q4_1: return "q4_1";
  }
  return "?";
}

PackedFormat parse_packed_format(const std::string& name, const std::string& what) {
  for (PackedFormat f : {PackedFormat::Int8, PackedFormat::Q8_0, PackedFormat::Q4_0, PackedFormat::Q4_1})
    if (name == packed_format_name(f)) return f;
  throw Error(what + ": unknown packed format '" + name + "' (int8, q8_0, q4_0, q4_1)");
}

int64_t packed_block_cols(PackedFormat f) { return f == PackedFormat::Int8 ? 1 : 32; }
int64_t packed_block_bytes(PackedFormat f) {
  switch (f) {
    case PackedFormat::Int8: return 1;
    case PackedFormat::Q8_0: return 34;
    case PackedFormat::Q4_0: return 18;
    case PackedFormat::Q4_1: return 20;
  }
  return 0;
}
int64_t packed_row_bytes(PackedFormat f, int64_t cols) {
  require(cols % packed_block_cols(f) == 0, std::string("packed ") + packed_format_name(f) + ": " +
                                                std::to_string(cols) + " columns are not a multiple of the block (" +
                                                std::to_string(packed_block_cols(f)) + ")");
  return cols / packed_block_cols(f) * packed_block_bytes(f);
}
int packed_ggml_type(PackedFormat f) {
  switch (f) {
    case PackedFormat::Q8_0: return 8;
    case PackedFormat::Q4_0: return 2;
    case PackedFormat::Q4_1: return 3;
    default: return -1;
  }
}

namespace {

// Weight (o, i) of a packed matrix: the block math above.
struct PackedReader {
  ConstView1<uint8_t> q;
  ConstView1<float> s;
  int fmt;
  int64_t row_bytes;

  KOKKOS_INLINE_FUNCTION float operator()(int64_t o, int64_t i) const {
    const int64_t row = o * row_bytes;
    if (fmt == int(PackedFormat::Int8)) return float(int8_t(q(row + i))) * s(o);
    const int64_t b = i / 32, j = i % 32;
    if (fmt == int(PackedFormat::Q8_0)) {
      const int64_t base = row + b * 34;
      return float(int8_t(q(base + 2 + j))) * kdq::half_to_float(kdq::ld16(q, base));
    }
    const int64_t base = row + b * (fmt == int(PackedFormat::Q4_0) ? 18 : 20);
    const int64_t qs = base + (fmt == int(PackedFormat::Q4_0) ? 2 : 4);
    const uint32_t byte = q(qs + (j & 15));
    const uint32_t nib = j < 16 ? (byte & 0x0fu) : (byte >> 4);
    const float d = kdq::half_to_float(kdq::ld16(q, base));
    if (fmt == int(PackedFormat::Q4_0)) return float(int(nib) - 8) * d;
    return float(nib) * d + kdq::half_to_float(kdq::ld16(q, base + 2));
  }

  // Σ_i x(xoff + i) · W[o, i] over one row, block by block (scale read once a block).
  template <class XV>
  KOKKOS_INLINE_FUNCTION float dot(const XV& x, int64_t xoff, int64_t o, int64_t cols) const {
    const int64_t row = o * row_bytes;
    float acc = 0;
    if (fmt == int(PackedFormat::Int8)) {
      for (int64_t i = 0; i < cols; ++i) acc += float(x(xoff + i)) * float(int8_t(q(row + i)));
      return acc * s(o);
    }
    const int64_t bb = fmt == int(PackedFormat::Q8_0) ? 34 : fmt == int(PackedFormat::Q4_0) ? 18 : 20;
    for (int64_t b = 0; b < cols / 32; ++b) {
      const int64_t base = row + b * bb, x0 = xoff + b * 32;
      const float d = kdq::half_to_float(kdq::ld16(q, base));
      float part = 0;
      if (fmt == int(PackedFormat::Q8_0)) {
        for (int j = 0; j < 32; ++j) part += float(x(x0 + j)) * float(int8_t(q(base + 2 + j)));
        acc += part * d;
      } else if (fmt == int(PackedFormat::Q4_0)) {
        for (int j = 0; j < 16; ++j) {
          const uint32_t byte = q(base + 2 + j);
          part += float(x(x0 + j)) * float(int(byte & 0x0fu) - 8) + float(x(x0 + j + 16)) * float(int(byte >> 4) - 8);
        }
        acc += part * d;
      } else {
        float xsum = 0;
        for (int j = 0; j < 16; ++j) {
          const uint32_t byte = q(base + 4 + j);
          part += float(x(x0 + j)) * float(byte & 0x0fu) + float(x(x0 + j + 16)) * float(byte >> 4);
          xsum += float(x(x0 + j)) + float(x(x0 + j + 16));
        }
        acc += part * d + xsum * kdq::half_to_float(kdq::ld16(q, base + 2));
      }
    }
    return acc;
  }
};

PackedReader reader_of(const PackedMatrix& w) {
  require(w.bytes.extent(0) == size_t(w.rows * packed_row_bytes(w.format, w.cols)),
          "packed matrix: " + std::to_string(w.bytes.extent(0)) + " bytes do not hold " + std::to_string(w.rows) +
              " x " + std::to_string(w.cols) + " " + packed_format_name(w.format) + " weights");
  require(w.format != PackedFormat::Int8 || w.row_scale.extent(0) == size_t(w.rows),
          "packed int8 matrix: row scales missing");
  return PackedReader{w.bytes, w.row_scale, int(w.format), packed_row_bytes(w.format, w.cols)};
}

}  // namespace

template <class S>
void packed_dequantize_rows(View1<S> out, const PackedMatrix& w, int64_t r0, int64_t nr) {
  const PackedReader rd = reader_of(w);
  const int64_t cols = w.cols;
  Kokkos::parallel_for(
      "packed_dequantize_rows", RangePolicy(0, nr * cols),
      KOKKOS_LAMBDA(const int64_t e) { out(e) = S(rd(r0 + e / cols, e % cols)); });
}

template <class S>
void packed_linear_forward(View1<S> out, int64_t ldo, const View1<S>& inp, int64_t ldi, const PackedMatrix& w,
                           const View1<S>& b, int64_t N) {
  const PackedReader rd = reader_of(w);
  const int64_t R = w.rows, K = w.cols;
  const bool has_bias = b.extent(0) > 0;
  if (N <= kPackedDotRows) {
    // y[n, o] = Σ_blocks d·Σ_j x·q  (one thread per output element)
    Kokkos::parallel_for(
        "packed_linear_dot", RangePolicy(0, N * R), KOKKOS_LAMBDA(const int64_t e) {
          const int64_t n = e / R, o = e % R;
          const float y = rd.dot(inp, n * ldi, o, K);
          out(n * ldo + o) = S(y) + (has_bias ? b(o) : S(0));
        });
    return;
  }
  // y[:, tile] = x · dequant(W[tile, :])ᵀ, tile by tile
  const int64_t tile = std::min(R, kPackedTileRows);
  View1<S> scratch(Kokkos::view_alloc(Kokkos::WithoutInitializing, "packed_tile"), size_t(tile * K));
  for (int64_t r0 = 0; r0 < R; r0 += tile) {
    const int64_t nr = std::min(tile, R - r0);
    packed_dequantize_rows<S>(scratch, w, r0, nr);
    Kokkos::fence();
    gemm<S>(Trans::No, Trans::Yes, N, nr, K, S(1), inp.data(), ldi, scratch.data(), K, S(0), out.data() + r0, ldo);
  }
  if (has_bias)
    Kokkos::parallel_for(
        "packed_linear_bias", RangePolicy(0, N * R),
        KOKKOS_LAMBDA(const int64_t e) { out((e / R) * ldo + e % R) += b(e % R); });
}

template void packed_linear_forward<float>(View1<float>, int64_t, const View1<float>&, int64_t, const PackedMatrix&,
                                           const View1<float>&, int64_t);
template void packed_linear_forward<double>(View1<double>, int64_t, const View1<double>&, int64_t,
                                            const PackedMatrix&, const View1<double>&, int64_t);
template void packed_dequantize_rows<float>(View1<float>, const PackedMatrix&, int64_t, int64_t);
template void packed_dequantize_rows<double>(View1<double>, const PackedMatrix&, int64_t, int64_t);

}  // namespace tessera
