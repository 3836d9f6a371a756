// cuBLAS side of the GEMM dispatch. Row-major C = op(A)·op(B) is computed as the
// column-major product C^T = op(B)^T · op(A)^T, so operands are swapped, not copied.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdexcept>
#include <string>
#include "kernels/gemm.hpp"

namespace tessera {
namespace {
cublasHandle_t cublas_handle() {
  static thread_local cublasHandle_t handle = nullptr;
  if (!handle) {
    cublasStatus_t st = cublasCreate(&handle);
    if (st != CUBLAS_STATUS_SUCCESS)
      throw std::runtime_error("cublasCreate failed with status " + std::to_string(static_cast<int>(st)));
  }
  return handle;
}
cublasOperation_t op(Trans t) { return t == Trans::Yes ? CUBLAS_OP_T : CUBLAS_OP_N; }
void check(cublasStatus_t st, const char* what) {
  if (st != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string(what) + " failed with cuBLAS status " + std::to_string(static_cast<int>(st)));
}
}  // namespace

template <>
void gemm_cuda<float>(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                      int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  check(cublasSgemm(cublas_handle(), op(tb), op(ta), (int)N, (int)M, (int)K, &alpha, B, (int)ldb, A, (int)lda,
                    &beta, C, (int)ldc),
        "cublasSgemm");
}
template <>
void gemm_cuda<double>(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                       int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  check(cublasDgemm(cublas_handle(), op(tb), op(ta), (int)N, (int)M, (int)K, &alpha, B, (int)ldb, A, (int)lda,
                    &beta, C, (int)ldc),
        "cublasDgemm");
}
template <>
void gemm_strided_batched_cuda<float>(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha,
                                      const float* A, int64_t lda, int64_t sA, const float* B, int64_t ldb,
                                      int64_t sB, float beta, float* C, int64_t ldc, int64_t sC, int64_t batch) {
  check(cublasSgemmStridedBatched(cublas_handle(), op(tb), op(ta), (int)N, (int)M, (int)K, &alpha, B, (int)ldb, sB,
                                  A, (int)lda, sA, &beta, C, (int)ldc, sC, (int)batch),
        "cublasSgemmStridedBatched");
}
template <>
void gemm_strided_batched_cuda<double>(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, double alpha,
                                       const double* A, int64_t lda, int64_t sA, const double* B, int64_t ldb,
                                       int64_t sB, double beta, double* C, int64_t ldc, int64_t sC,
                                       int64_t batch) {
  check(cublasDgemmStridedBatched(cublas_handle(), op(tb), op(ta), (int)N, (int)M, (int)K, &alpha, B, (int)ldb, sB,
                                  A, (int)lda, sA, &beta, C, (int)ldc, sC, (int)batch),
        "cublasDgemmStridedBatched");
}

// bf16 operands (CUDA_R_16BF), fp32 accumulation (CUBLAS_COMPUTE_32F), fp32 output: the
// device side of train.precision = "bf16". A and B hold bf16 bit patterns.
void gemm_cuda_bf16(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, int64_t lda,
                    const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  check(cublasGemmEx(cublas_handle(), op(tb), op(ta), (int)N, (int)M, (int)K, &alpha, B, CUDA_R_16BF, (int)ldb, A,
                     CUDA_R_16BF, (int)lda, &beta, C, CUDA_R_32F, (int)ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmEx(bf16)");
}
void gemm_strided_batched_cuda_bf16(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha,
                                    const uint16_t* A, int64_t lda, int64_t sA, const uint16_t* B, int64_t ldb,
                                    int64_t sB, float beta, float* C, int64_t ldc, int64_t sC, int64_t batch) {
  check(cublasGemmStridedBatchedEx(cublas_handle(), op(tb), op(ta), (int)N, (int)M, (int)K, &alpha, B, CUDA_R_16BF,
                                   (int)ldb, sB, A, CUDA_R_16BF, (int)lda, sA, &beta, C, CUDA_R_32F, (int)ldc, sC,
                                   (int)batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmStridedBatchedEx(bf16)");
}

}  // namespace tessera
