// GEMM dispatch against a plain triple loop, all four transpose combinations,
// strided sub-matrices (lda > cols) and beta accumulation; the one-row / one-column
// shapes (M == 1 or N == 1, the decode step) that gemm_host sends to gemv.
#include <gtest/gtest.h>
#include <cmath>
#include <limits>
#include <random>
#include <vector>
#include "kernels/gemm.hpp"

using namespace tessera;

template <class S>
static void check_gemm(Trans ta, Trans tb, int M, int N, int K, int pad, S alpha = S(0.75), S beta = S(0.5)) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(-1, 1);
  const int lda = (ta == Trans::No ? K : M) + pad, ldb = (tb == Trans::No ? N : K) + pad, ldc = N + pad;
  const int rowsA = ta == Trans::No ? M : K, rowsB = tb == Trans::No ? K : N;
  std::vector<S> A(rowsA * lda), B(rowsB * ldb), C(M * ldc), R;
  for (auto& x : A) x = u(rng);
  for (auto& x : B) x = u(rng);
  // beta == 0: C starts as NaN, which must not reach the result (C is written, not read).
  for (auto& x : C) x = beta == S(0) ? std::numeric_limits<S>::quiet_NaN() : S(u(rng));
  R = C;
  gemm<S>(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double acc = 0;
      for (int k = 0; k < K; ++k) {
        double a = ta == Trans::No ? A[i * lda + k] : A[k * lda + i];
        double b = tb == Trans::No ? B[k * ldb + j] : B[j * ldb + k];
        acc += a * b;
      }
      double expect = alpha * acc + (beta == S(0) ? 0.0 : beta * R[i * ldc + j]);
      const double tol = sizeof(S) == 4 ? 1e-5 : 1e-12;
      EXPECT_NEAR(C[i * ldc + j], expect, tol * (1 + std::abs(expect)))
          << "ta=" << bool(ta) << " tb=" << bool(tb) << " M=" << M << " N=" << N << " K=" << K << " at " << i << ","
          << j;
    }
  // The padding between rows of C is not written.
  for (int i = 0; i < M; ++i)
    for (int j = N; j < ldc; ++j) {
      const S before = R[i * ldc + j], after = C[i * ldc + j];
      EXPECT_TRUE(after == before || (std::isnan(after) && std::isnan(before))) << "padding " << i << "," << j;
    }
}

TEST(Gemm, AllTransposesDouble) {
  for (Trans ta : {Trans::No, Trans::Yes})
    for (Trans tb : {Trans::No, Trans::Yes}) check_gemm<double>(ta, tb, 13, 7, 9, 3);
}
TEST(Gemm, AllTransposesFloat) {
  for (Trans ta : {Trans::No, Trans::Yes})
    for (Trans tb : {Trans::No, Trans::Yes}) check_gemm<float>(ta, tb, 17, 11, 5, 0);
}

// M == 1 and N == 1 take the gemv path: every transpose, padded strides (so a transposed
// one-row A is read with stride lda), beta accumulation and beta == 0 over a NaN C.
template <class S>
static void check_vector_shapes() {
  for (Trans ta : {Trans::No, Trans::Yes})
    for (Trans tb : {Trans::No, Trans::Yes})
      for (int pad : {0, 3})
        for (S beta : {S(0.5), S(0), S(1)}) {
          check_gemm<S>(ta, tb, 1, 37, 19, pad, S(0.75), beta);  // one row (decode step)
          check_gemm<S>(ta, tb, 23, 1, 29, pad, S(-1.25), beta);  // one column
          check_gemm<S>(ta, tb, 1, 1, 41, pad, S(2), beta);       // a dot product
        }
}
TEST(Gemm, OneRowOrColumnFloat) { check_vector_shapes<float>(); }
TEST(Gemm, OneRowOrColumnDouble) { check_vector_shapes<double>(); }
