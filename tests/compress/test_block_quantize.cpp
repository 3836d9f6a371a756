// Block quantisers against the PyPI gguf package (tests/fixtures/compress/blocks.json,
// scripts/tools/make_compress_fixtures.py), error bounds of every format, the packed
// linear kernels against dequantise-then-GEMM, GPTQ against round-to-nearest, and the
// pruning masks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include "kernels/packed_linear.hpp"
#include "src/compress/block_quantize.hpp"
#include "src/compress/gptq.hpp"
#include "src/compress/prune.hpp"
#include "src/runtime/error.hpp"
#include "test_support.hpp"

using namespace tessera;

namespace {

nlohmann::json fixture() {
  return nlohmann::json::parse(
      tessera_test::read_file(tessera_test::source_dir() + "/tests/fixtures/compress/blocks.json"));
}
std::vector<float> floats_of_bits(const nlohmann::json& bits) {
  std::vector<float> v;
  for (uint32_t b : bits.get<std::vector<uint32_t>>()) {
    float f;
    std::memcpy(&f, &b, 4);
    v.push_back(f);
  }
  return v;
}

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(g);
  return v;
}

struct Packed {
  PackedFormat f;
  int64_t rows, cols;
  std::vector<uint8_t> bytes;
  std::vector<float> scale;
};
Packed pack(PackedFormat f, const std::vector<float>& w, int64_t rows, int64_t cols) {
  Packed p{f, rows, cols, std::vector<uint8_t>(size_t(rows * packed_row_bytes(f, cols))), std::vector<float>(size_t(rows))};
  for (int64_t r = 0; r < rows; ++r)
    quantize_row(f, &w[size_t(r * cols)], cols, &p.bytes[size_t(r * packed_row_bytes(f, cols))], &p.scale[size_t(r)]);
  return p;
}
std::vector<float> unpack(const Packed& p) {
  std::vector<float> w(size_t(p.rows * p.cols));
  for (int64_t r = 0; r < p.rows; ++r)
    dequantize_row(p.f, &p.bytes[size_t(r * packed_row_bytes(p.f, p.cols))], p.scale[size_t(r)], p.cols,
                   &w[size_t(r * p.cols)]);
  return w;
}
template <class T>
View1<T> upload(const std::vector<T>& v) {
  View1<T> d("v", v.size());
  Kokkos::deep_copy(d, HostView1<T>(const_cast<T*>(v.data()), v.size()));
  return d;
}
PackedMatrix device_matrix(const Packed& p) {
  PackedMatrix m;
  m.format = p.f;
  m.rows = p.rows;
  m.cols = p.cols;
  m.bytes = upload(p.bytes);
  if (p.f == PackedFormat::Int8) m.row_scale = upload(p.scale);
  return m;
}

const PackedFormat kFormats[] = {PackedFormat::Int8, PackedFormat::Q8_0, PackedFormat::Q4_0, PackedFormat::Q4_1};

}  // namespace

TEST(BlockQuantize, BytesEqualGgufReference) {
  const nlohmann::json fx = fixture();
  const int64_t rows = fx["rows"], cols = fx["cols"];
  const std::vector<float> x = floats_of_bits(fx["input_bits"]);
  for (PackedFormat f : {PackedFormat::Q8_0, PackedFormat::Q4_0, PackedFormat::Q4_1}) {
    const std::string name = packed_format_name(f);
    const std::vector<uint8_t> want = fx[name].get<std::vector<uint8_t>>();
    const Packed p = pack(f, x, rows, cols);
    ASSERT_EQ(p.bytes.size(), want.size()) << name;
    for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(int(p.bytes[i]), int(want[i])) << name << " byte " << i;
    const std::vector<float> deq = floats_of_bits(fx[name + "_dequant_bits"]);
    const std::vector<float> got = unpack(p);
    for (size_t i = 0; i < deq.size(); ++i) ASSERT_EQ(got[i], deq[i]) << name << " value " << i;
  }
}

TEST(BlockQuantize, ErrorBoundsPerFormat) {
  // |x − deq(x)| ≤ half a step (Q8_0, Q4_1, int8) or one step (Q4_0: the side opposite
  // the largest magnitude has only 7 positive codes), plus the half rounding of the scales.
  const int64_t rows = 8, cols = 256;
  std::vector<float> x = randn(size_t(rows * cols), 3);
  x[5] = 9.0f;  // an outlier
  for (PackedFormat f : kFormats) {
    const Packed p = pack(f, x, rows, cols);
    const std::vector<float> y = unpack(p);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t b = 0; b < cols; b += (f == PackedFormat::Int8 ? cols : 32)) {
        const int64_t n = f == PackedFormat::Int8 ? cols : 32;
        float amax = 0, mn = 1e30f, mx = -1e30f;
        for (int64_t j = 0; j < n; ++j) {
          const float v = x[size_t(r * cols + b + j)];
          amax = std::max(amax, std::fabs(v));
          mn = std::min(mn, v);
          mx = std::max(mx, v);
        }
        double bound = 0;
        switch (f) {
          case PackedFormat::Int8: bound = amax / 127.0 * 0.5 * (1 + 1e-5); break;
          case PackedFormat::Q8_0: bound = amax / 127.0 * (0.5 + 127.0 / 2048); break;
          case PackedFormat::Q4_0: bound = amax / 8.0 * (1.0 + 8.0 / 2048); break;
          case PackedFormat::Q4_1: bound = (mx - mn) / 15.0 * (0.5 + 15.0 / 2048) + std::fabs(mn) / 2048; break;
        }
        for (int64_t j = 0; j < n; ++j) {
          const size_t i = size_t(r * cols + b + j);
          ASSERT_LE(std::fabs(double(x[i]) - y[i]), bound + 1e-7) << packed_format_name(f) << " element " << i;
        }
      }
  }
}

TEST(BlockQuantize, RejectsColumnsOutsideTheBlock) {
  EXPECT_THROW(packed_row_bytes(PackedFormat::Q4_0, 48), Error);
  EXPECT_EQ(packed_row_bytes(PackedFormat::Q4_0, 64), 36);
  EXPECT_EQ(packed_row_bytes(PackedFormat::Q8_0, 64), 68);
  EXPECT_EQ(packed_row_bytes(PackedFormat::Q4_1, 32), 20);
  EXPECT_EQ(packed_row_bytes(PackedFormat::Int8, 30), 30);
}

TEST(PackedLinear, EqualsDequantizeThenGemm) {
  // Rows above one tile (128) and N on both paths (dot product ≤ 4 rows, tiles above),
  // strided input/output and a bias.
  const int64_t R = 200, K = 96, ldi = K + 5, ldo = R + 3;
  const std::vector<float> w = randn(size_t(R * K), 11, 0.1f), bias = randn(size_t(R), 12);
  for (PackedFormat f : kFormats) {
    const Packed p = pack(f, w, R, K);
    const std::vector<float> wq = unpack(p);
    const PackedMatrix m = device_matrix(p);
    for (int64_t N : {1, 3, 9}) {
      const std::vector<float> x = randn(size_t(N * ldi), 13 + uint32_t(N));
      View1<float> out("out", size_t(N * ldo));
      packed_linear_forward<float>(out, ldo, upload(x), ldi, m, upload(bias), N);
      auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t o = 0; o < R; ++o) {
          double want = bias[size_t(o)];
          double mag = std::fabs(want);
          for (int64_t i = 0; i < K; ++i) {
            want += double(x[size_t(n * ldi + i)]) * wq[size_t(o * K + i)];
            mag += std::fabs(double(x[size_t(n * ldi + i)]) * wq[size_t(o * K + i)]);
          }
          ASSERT_NEAR(h(size_t(n * ldo + o)), want, 1e-5 * mag + 1e-6)
              << packed_format_name(f) << " N=" << N << " row " << n << " out " << o;
        }
    }
    // Dequantising rows on the device equals the host reference exactly.
    View1<float> rows("rows", size_t(5 * K));
    packed_dequantize_rows<float>(rows, m, 150, 5);
    auto hr = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), rows);
    for (int64_t i = 0; i < 5 * K; ++i) ASSERT_EQ(hr(size_t(i)), wq[size_t(150 * K + i)]) << packed_format_name(f);
  }
}

TEST(Gptq, InverseCholeskyFactor) {
  const int64_t n = 40;
  const std::vector<float> a = randn(size_t(n * n), 21);
  std::vector<double> H(size_t(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = i == j ? 0.5 : 0.0;
      for (int64_t k = 0; k < n; ++k) s += double(a[size_t(i * n + k)]) * a[size_t(j * n + k)];
      H[size_t(i * n + j)] = s;
    }
  std::vector<double> U = H;
  ASSERT_TRUE(inverse_cholesky_upper(U, n));
  // Upper triangular and (UᵀU)·H = I.
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j) ASSERT_EQ(U[size_t(i * n + j)], 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t k = 0; k < n; ++k) {
        double hinv_ik = 0;
        for (int64_t m = 0; m < n; ++m) hinv_ik += U[size_t(m * n + i)] * U[size_t(m * n + k)];
        s += hinv_ik * H[size_t(k * n + j)];
      }
      ASSERT_NEAR(s, i == j ? 1.0 : 0.0, 1e-8);
    }
  std::vector<double> not_pd(size_t(4), 0.0);
  not_pd[0] = 1;
  not_pd[3] = -1;
  EXPECT_FALSE(inverse_cholesky_upper(not_pd, 2));
}

TEST(Gptq, BeatsRoundToNearestOnCorrelatedInputs) {
  // Layer output error ‖(W − Ŵ)Xᵀ‖² on correlated inputs: GPTQ's error feedback must
  // reduce it below round-to-nearest at the same bits (same block format).
  const int64_t R = 32, K = 128, N = 512;
  const std::vector<float> w = randn(size_t(R * K), 31, 0.05f);
  const std::vector<float> z = randn(size_t(N * K), 32), shared = randn(size_t(N * 8), 33);
  std::vector<float> X(size_t(N * K));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < K; ++i) X[size_t(n * K + i)] = 0.3f * z[size_t(n * K + i)] + shared[size_t(n * 8 + i % 8)];
  std::vector<double> H(size_t(K * K), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = 0; j < K; ++j) H[size_t(i * K + j)] += 2.0 * X[size_t(n * K + i)] * X[size_t(n * K + j)] / N;
  auto out_error = [&](const std::vector<float>& wq) {
    double e = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t r = 0; r < R; ++r) {
        double d = 0;
        for (int64_t i = 0; i < K; ++i) d += (double(w[size_t(r * K + i)]) - wq[size_t(r * K + i)]) * X[size_t(n * K + i)];
        e += d * d;
      }
    return e;
  };
  for (PackedFormat f : {PackedFormat::Q4_0, PackedFormat::Q4_1}) {
    const double rtn = out_error(unpack(pack(f, w, R, K)));
    std::vector<float> work = w;
    GptqOptions o;
    o.format = f;
    o.batch = 64;  // two lazy batches
    Packed g{f, R, K, gptq_quantize(work, R, K, H, o, "test"), std::vector<float>(size_t(R))};
    const double gptq = out_error(unpack(g));
    EXPECT_LT(gptq, 0.7 * rtn) << packed_format_name(f) << ": GPTQ " << gptq << " vs RTN " << rtn;
  }
  std::vector<float> work = w;
  EXPECT_THROW(gptq_quantize(work, R, K, std::vector<double>(size_t(K * K), 0.0), GptqOptions{}, "t"), Error);
}

TEST(Prune, TwoFourMaskAlongTheReductionDimension) {
  const int64_t rows = 6, cols = 16;
  const std::vector<float> s = randn(size_t(rows * cols), 41);
  std::vector<float> a(s.size());
  for (size_t i = 0; i < s.size(); ++i) a[i] = std::fabs(s[i]);
  const std::vector<uint8_t> m = nm_mask(a, rows, cols, 2, 4, "w");
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c0 = 0; c0 < cols; c0 += 4) {
      int kept = 0;
      float min_kept = 1e30f, max_pruned = -1;
      for (int64_t j = 0; j < 4; ++j) {
        const size_t i = size_t(r * cols + c0 + j);
        if (m[i]) { ++kept; min_kept = std::min(min_kept, a[i]); }
        else max_pruned = std::max(max_pruned, a[i]);
      }
      EXPECT_EQ(kept, 2);
      EXPECT_GE(min_kept, max_pruned);
    }
  try {
    nm_mask(std::vector<float>(size_t(2 * 30)), 2, 30, 2, 4, "layers.0.mlp.down_proj.weight");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layers.0.mlp.down_proj.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("divisible by 4"), std::string::npos) << e.what();
  }
}

TEST(Prune, UnstructuredMaskPrunesTheSmallest) {
  const std::vector<float> s = {5, 1, 4, 2, 8, 3, 7, 6};
  const std::vector<uint8_t> m = unstructured_mask(s, 8, 0.5);
  EXPECT_EQ(m, (std::vector<uint8_t>{1, 0, 0, 0, 1, 0, 1, 1}));  // 1, 2, 3, 4 pruned
  const std::vector<uint8_t> rows = unstructured_mask(s, 4, 0.5);  // per group of 4
  EXPECT_EQ(rows, (std::vector<uint8_t>{1, 0, 1, 0, 1, 0, 1, 0}));
  PruneOptions o;
  EXPECT_THROW(parse_nm_pattern("2-4", o, "--pattern"), Error);
  EXPECT_THROW(parse_nm_pattern("4:4", o, "--pattern"), Error);
  parse_nm_pattern("2:4", o, "--pattern");
  EXPECT_EQ(o.n, 2);
  EXPECT_EQ(o.m, 4);
}
