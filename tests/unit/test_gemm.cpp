// GEMM dispatch against a plain triple loop, all four transpose combinations,
// strided sub-matrices (lda > cols) and beta accumulation.
#include <gtest/gtest.h>
#include <random>
#include <vector>
#include "kernels/gemm.hpp"

using namespace tessera;

template <class S>
static void check_gemm(Trans ta, Trans tb, int M, int N, int K, int pad) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(-1, 1);
  const int lda = (ta == Trans::No ? K : M) + pad, ldb = (tb == Trans::No ? N : K) + pad, ldc = N + pad;
  const int rowsA = ta == Trans::No ? M : K, rowsB = tb == Trans::No ? K : N;
  std::vector<S> A(rowsA * lda), B(rowsB * ldb), C(M * ldc), R;
  for (auto& x : A) x = u(rng);
  for (auto& x : B) x = u(rng);
  for (auto& x : C) x = u(rng);
  R = C;
  const S alpha = 0.75, beta = 0.5;
  gemm<S>(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double acc = 0;
      for (int k = 0; k < K; ++k) {
        double a = ta == Trans::No ? A[i * lda + k] : A[k * lda + i];
        double b = tb == Trans::No ? B[k * ldb + j] : B[j * ldb + k];
        acc += a * b;
      }
      double expect = alpha * acc + beta * R[i * ldc + j];
      const double tol = sizeof(S) == 4 ? 1e-5 : 1e-12;
      EXPECT_NEAR(C[i * ldc + j], expect, tol * (1 + std::abs(expect))) << i << "," << j;
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
