// GEMM dispatch: one row-major interface, BLAS on the host, cuBLAS on the device.
//   C[M,N] = alpha * op(A)[M,K] · op(B)[K,N] + beta * C
// op(X) = X or X^T as trans_a/trans_b say; lda/ldb/ldc are row strides of the
// stored (untransposed) matrices, so strided sub-matrices (e.g. one head of a
// fused QKV buffer) need no copy.
#pragma once
#include <cstdint>
#include <type_traits>
#include "kernels/views.hpp"

namespace tessera {

enum class Trans : bool { No = false, Yes = true };

// Host BLAS (cblas, row-major). Defined for float and double.
template <class S>
void gemm_host(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, S alpha, const S* A, int64_t lda,
               const S* B, int64_t ldb, S beta, S* C, int64_t ldc);

// Device cuBLAS (row-major expressed through column-major operand swap).
// Defined only when built with the CUDA glue (TESSERA_HAVE_CUDA).
template <class S>
void gemm_cuda(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, S alpha, const S* A, int64_t lda,
               const S* B, int64_t ldb, S beta, S* C, int64_t ldc);
template <class S>
void gemm_strided_batched_cuda(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, S alpha, const S* A,
                               int64_t lda, int64_t strideA, const S* B, int64_t ldb, int64_t strideB, S beta,
                               S* C, int64_t ldc, int64_t strideC, int64_t batch);

// Device bf16 (train.precision = "bf16" on CUDA): operands are bf16 bit patterns already on
// the device (kernels/gemm_bf16.hpp float_to_bf16_rne), fp32 accumulation and output
// (cublasGemmEx, CUDA_R_16BF, CUBLAS_COMPUTE_32F). Defined only with the CUDA glue.
void gemm_cuda_bf16(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, int64_t lda,
                    const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc);
void gemm_strided_batched_cuda_bf16(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha,
                                    const uint16_t* A, int64_t lda, int64_t strideA, const uint16_t* B, int64_t ldb,
                                    int64_t strideB, float beta, float* C, int64_t ldc, int64_t strideC,
                                    int64_t batch);

// The dispatch: picks the backend from the memory space the kernels run in.
template <class S, class Space = MemSpace>
inline void gemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, S alpha, const S* A, int64_t lda,
                 const S* B, int64_t ldb, S beta, S* C, int64_t ldc) {
  if constexpr (std::is_same_v<Space, Kokkos::HostSpace>) {
    gemm_host<S>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  } else {
#ifdef TESSERA_HAVE_CUDA
    gemm_cuda<S>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    static_assert(std::is_same_v<Space, Kokkos::HostSpace>, "device GEMM needs the CUDA glue");
#endif
  }
}

// Batched: batch independent GEMMs whose operands are offset by stride* elements.
template <class S, class Space = MemSpace>
inline void gemm_strided_batched(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, S alpha, const S* A,
                                 int64_t lda, int64_t strideA, const S* B, int64_t ldb, int64_t strideB, S beta,
                                 S* C, int64_t ldc, int64_t strideC, int64_t batch) {
  if constexpr (std::is_same_v<Space, Kokkos::HostSpace>) {
    for (int64_t i = 0; i < batch; ++i)
      gemm_host<S>(ta, tb, M, N, K, alpha, A + i * strideA, lda, B + i * strideB, ldb, beta, C + i * strideC, ldc);
  } else {
#ifdef TESSERA_HAVE_CUDA
    gemm_strided_batched_cuda<S>(ta, tb, M, N, K, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC,
                                 batch);
#else
    static_assert(std::is_same_v<Space, Kokkos::HostSpace>, "device GEMM needs the CUDA glue");
#endif
  }
}

}  // namespace tessera
