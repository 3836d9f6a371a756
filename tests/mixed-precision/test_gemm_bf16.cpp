// gemm_host_bf16 (kernels/gemm_bf16.hpp) against a plain triple loop in double on the
// bf16-rounded operands: every transpose combination, a strided (sub-matrix) case with
// alpha/beta, ≤ 1e-5 relative to the largest |C|. The rounding itself: round-to-nearest-even.
#include <gtest/gtest.h>
#include <cmath>
#include <random>
#include <vector>
#include "kernels/gemm_bf16.hpp"

using namespace tessera;

namespace {

void check_case(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, int64_t pad, float alpha, float beta) {
  const int64_t a_rows = ta == Trans::Yes ? K : M, a_cols = ta == Trans::Yes ? M : K;
  const int64_t b_rows = tb == Trans::Yes ? N : K, b_cols = tb == Trans::Yes ? K : N;
  const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = N + pad;
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> A(size_t(a_rows * lda)), B(size_t(b_rows * ldb)), C(size_t(M * ldc));
  for (auto& x : A) x = nd(rng);
  for (auto& x : B) x = nd(rng);
  for (auto& x : C) x = nd(rng);
  std::vector<float> C0 = C;
  gemm_host_bf16(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
  auto a = [&](int64_t i, int64_t k) { return double(round_to_bf16(ta == Trans::Yes ? A[k * lda + i] : A[i * lda + k])); };
  auto b = [&](int64_t k, int64_t j) { return double(round_to_bf16(tb == Trans::Yes ? B[j * ldb + k] : B[k * ldb + j])); };
  std::vector<double> ref(size_t(M * N));
  double scale = 0;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k) s += a(i, k) * b(k, j);
      ref[i * N + j] = alpha * s + beta * double(C0[i * ldc + j]);
      scale = std::max(scale, std::abs(ref[i * N + j]));
    }
  double worst = 0;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) worst = std::max(worst, std::abs(double(C[i * ldc + j]) - ref[i * N + j]));
  EXPECT_LE(worst / scale, 1e-5) << "ta=" << bool(ta) << " tb=" << bool(tb) << " M=" << M << " N=" << N << " K=" << K;
  // Padding columns of C are untouched.
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = N; j < ldc; ++j) ASSERT_EQ(C[i * ldc + j], C0[i * ldc + j]);
}

}  // namespace

TEST(GemmBf16, RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16_rne(1.0f), 0x3f80);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0).
  EXPECT_EQ(round_to_bf16(1.0f + std::ldexp(1.0f, -8)), 1.0f);
  // 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties to even (1 + 2^-6).
  EXPECT_EQ(round_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 1.0f + std::ldexp(1.0f, -6));
  // Just above halfway rounds up.
  EXPECT_EQ(round_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 1.0f + std::ldexp(1.0f, -7));
  EXPECT_TRUE(std::isnan(round_to_bf16(NAN)));
  EXPECT_EQ(round_to_bf16(INFINITY), INFINITY);
}

TEST(GemmBf16, AllTransposesMatchLoopOnRoundedOperands) {
  for (Trans ta : {Trans::No, Trans::Yes})
    for (Trans tb : {Trans::No, Trans::Yes}) check_case(ta, tb, 37, 29, 53, 0, 1.f, 0.f);
}

TEST(GemmBf16, StridedSubMatricesWithAlphaBeta) {
  for (Trans ta : {Trans::No, Trans::Yes})
    for (Trans tb : {Trans::No, Trans::Yes}) check_case(ta, tb, 19, 23, 41, 7, 0.5f, 1.f);
}

TEST(GemmBf16, DiffersFromFp32OnUnroundedOperands) {
  // The bf16 path really rounds: on generic fp32 data it differs from sgemm by ~1e-3 relative.
  const int64_t M = 16, N = 16, K = 64;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> A(M * K), B(K * N), C16(M * N), C32(M * N);
  for (auto& x : A) x = nd(rng);
  for (auto& x : B) x = nd(rng);
  gemm_host_bf16(Trans::No, Trans::No, M, N, K, 1.f, A.data(), K, B.data(), N, 0.f, C16.data(), N);
  gemm_host<float>(Trans::No, Trans::No, M, N, K, 1.f, A.data(), K, B.data(), N, 0.f, C32.data(), N);
  double diff = 0, scale = 0;
  for (int64_t i = 0; i < M * N; ++i) {
    diff = std::max(diff, double(std::abs(C16[i] - C32[i])));
    scale = std::max(scale, double(std::abs(C32[i])));
  }
  EXPECT_GT(diff / scale, 1e-5);
  EXPECT_LT(diff / scale, 2e-2);
}
