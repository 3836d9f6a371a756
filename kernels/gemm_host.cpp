#include "kernels/gemm.hpp"
#include <cblas.h>

namespace tessera {

static CBLAS_TRANSPOSE to_cblas(Trans t) { return t == Trans::Yes ? CblasTrans : CblasNoTrans; }

// One output row (M == 1) or one output column (N == 1) is a matrix-vector product.
// sgemm would repack the whole matrix operand into its panel layout for a single
// row (OpenBLAS' sgemm_incopy dominated a one-token decode step); gemv reads it once.
//   M == 1: c[0, :]  = alpha · op(B)ᵀ · a + beta · c, a = op(A)[0, :] (stride 1, or lda when A is transposed)
//   N == 1: c[:, 0]  = alpha · op(A) · b + beta · c,  b = op(B)[:, 0] (stride ldb, or 1 when B is transposed)
// With beta == 0 the output is zeroed first, so it is never read (the gemm contract:
// NaN or garbage in C must not leak through 0 · C).
template <class S, class Gemv>
static bool gemm_as_gemv(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, S alpha, const S* A, int64_t lda,
                         const S* B, int64_t ldb, S beta, S* C, int64_t ldc, Gemv gemv) {
  if (K <= 0 || M <= 0 || N <= 0 || (M != 1 && N != 1)) return false;
  if (M == 1) {
    const int64_t inca = ta == Trans::No ? 1 : lda;
    if (beta == S(0))
      for (int64_t j = 0; j < N; ++j) C[j] = S(0);
    // op(B) = B (stored K×N): c = Bᵀ a;  op(B) = Bᵀ (B stored N×K): c = B a.
    if (tb == Trans::No) gemv(CblasTrans, K, N, alpha, B, ldb, A, inca, beta, C, int64_t(1));
    else gemv(CblasNoTrans, N, K, alpha, B, ldb, A, inca, beta, C, int64_t(1));
  } else {
    const int64_t incb = tb == Trans::No ? ldb : 1;
    if (beta == S(0))
      for (int64_t i = 0; i < M; ++i) C[i * ldc] = S(0);
    // op(A) = A (stored M×K): c = A b;  op(A) = Aᵀ (A stored K×M): c = Aᵀ b.
    if (ta == Trans::No) gemv(CblasNoTrans, M, K, alpha, A, lda, B, incb, beta, C, ldc);
    else gemv(CblasTrans, K, M, alpha, A, lda, B, incb, beta, C, ldc);
  }
  return true;
}

template <>
void gemm_host<float>(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                      int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  auto sgemv = [](CBLAS_TRANSPOSE t, int64_t rows, int64_t cols, float al, const float* X, int64_t ldx,
                  const float* v, int64_t incv, float be, float* y, int64_t incy) {
    cblas_sgemv(CblasRowMajor, t, (int)rows, (int)cols, al, X, (int)ldx, v, (int)incv, be, y, (int)incy);
  };
  if (gemm_as_gemv<float>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, sgemv)) return;
  cblas_sgemm(CblasRowMajor, to_cblas(ta), to_cblas(tb), (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb,
              beta, C, (int)ldc);
}

template <>
void gemm_host<double>(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                       int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  auto dgemv = [](CBLAS_TRANSPOSE t, int64_t rows, int64_t cols, double al, const double* X, int64_t ldx,
                  const double* v, int64_t incv, double be, double* y, int64_t incy) {
    cblas_dgemv(CblasRowMajor, t, (int)rows, (int)cols, al, X, (int)ldx, v, (int)incv, be, y, (int)incy);
  };
  if (gemm_as_gemv<double>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, dgemv)) return;
  cblas_dgemm(CblasRowMajor, to_cblas(ta), to_cblas(tb), (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb,
              beta, C, (int)ldc);
}

}  // namespace tessera
