// bf16 mixed-precision GEMM on the host: operands rounded to bfloat16
// (round-to-nearest-even), products accumulated and written in fp32.
//   C[M,N] = alpha * op(bf16(A))[M,K] · op(bf16(B))[K,N] + beta * C
// Same row-major interface and stride convention as gemm_host (kernels/gemm.hpp).
// Runs OpenBLAS's cblas_sbgemm where the linked OpenBLAS exports it, else an exact fp32
// emulation (see gemm_bf16.cpp); gemm_bf16_uses_sbgemm() says which.
#pragma once
#include <cstdint>
#include <cstring>
#include "kernels/gemm.hpp"

namespace tessera {

// fp32 → bf16 bits, round to nearest, ties to even; NaN stays a (quiet) NaN.
inline uint16_t float_to_bf16_rne(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}
inline float bf16_to_float(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// The value f takes after a round trip through bf16.
inline float round_to_bf16(float f) { return bf16_to_float(float_to_bf16_rne(f)); }

bool gemm_bf16_uses_sbgemm();

void gemm_host_bf16(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                    const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Which arithmetic the model's large GEMMs (linear layers, LM head) use.
enum class GemmPrecision { FP32, BF16 };
// Process-wide: set once by the trainer from train.precision before the first step.
void set_model_gemm_precision(GemmPrecision p);
GemmPrecision model_gemm_precision();

// The model's GEMM: gemm<S, Space> unless bf16 is selected, S is float and the
// kernels run on the host.
template <class S, class Space = MemSpace>
inline void gemm_model(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, S alpha, const S* A, int64_t lda,
                       const S* B, int64_t ldb, S beta, S* C, int64_t ldc) {
  if constexpr (std::is_same_v<S, float> && std::is_same_v<Space, Kokkos::HostSpace>) {
    if (model_gemm_precision() == GemmPrecision::BF16) {
      gemm_host_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      return;
    }
  }
  gemm<S, Space>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace tessera
