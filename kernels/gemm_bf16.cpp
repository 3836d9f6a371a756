// Two back ends, chosen at configure time (CMakeLists.txt, TESSERA_HAVE_CBLAS_SBGEMM):
//  * cblas_sbgemm when the linked OpenBLAS exports it: operands packed to bf16, OpenBLAS's
//    AVX512-BF16 / AMX kernels accumulate in fp32.
//  * otherwise: operands rounded to bf16 into fp32 copies, then cblas_sgemm. A product of two
//    bf16 values (8-bit mantissas) is exact in fp32, and the sums are fp32, so this computes the
//    same bf16-operand / fp32-accumulation GEMM up to summation order — but at fp32 speed.
#include "kernels/gemm_bf16.hpp"
#include <cblas.h>
#include <algorithm>
#include <atomic>
#include <vector>

namespace tessera {

namespace {

#ifdef TESSERA_HAVE_CBLAS_SBGEMM
using Packed = bfloat16;
inline Packed pack_one(float f) { return float_to_bf16_rne(f); }
#else
using Packed = float;
inline Packed pack_one(float f) { return round_to_bf16(f); }
#endif

// Copy the stored rows×cols matrix X (row stride ld), rounded to bf16, densely (row stride cols).
void pack_bf16(const float* X, int64_t rows, int64_t cols, int64_t ld, std::vector<Packed>& out) {
  out.resize(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = X + r * ld;
    Packed* dst = out.data() + r * cols;
    for (int64_t c = 0; c < cols; ++c) dst[c] = pack_one(src[c]);
  }
}

std::atomic<int> g_model_precision{int(GemmPrecision::FP32)};

}  // namespace

bool gemm_bf16_uses_sbgemm() {
#ifdef TESSERA_HAVE_CBLAS_SBGEMM
  return true;
#else
  return false;
#endif
}

void gemm_host_bf16(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                    const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  // Stored shapes: A is M×K (K×M when transposed), B is K×N (N×K when transposed).
  const int64_t a_rows = ta == Trans::Yes ? K : M, a_cols = ta == Trans::Yes ? M : K;
  const int64_t b_rows = tb == Trans::Yes ? N : K, b_cols = tb == Trans::Yes ? K : N;
  thread_local std::vector<Packed> a16, b16;
  pack_bf16(A, a_rows, a_cols, lda, a16);
  pack_bf16(B, b_rows, b_cols, ldb, b16);
  const auto cta = ta == Trans::Yes ? CblasTrans : CblasNoTrans;
  const auto ctb = tb == Trans::Yes ? CblasTrans : CblasNoTrans;
  const auto la = (blasint)std::max<int64_t>(a_cols, 1), lb = (blasint)std::max<int64_t>(b_cols, 1);
#ifdef TESSERA_HAVE_CBLAS_SBGEMM
  cblas_sbgemm(CblasRowMajor, cta, ctb, (blasint)M, (blasint)N, (blasint)K, alpha, a16.data(), la, b16.data(), lb,
               beta, C, (blasint)ldc);
#else
  cblas_sgemm(CblasRowMajor, cta, ctb, (blasint)M, (blasint)N, (blasint)K, alpha, a16.data(), la, b16.data(), lb,
              beta, C, (blasint)ldc);
#endif
}

void set_model_gemm_precision(GemmPrecision p) { g_model_precision.store(int(p)); }
GemmPrecision model_gemm_precision() { return GemmPrecision(g_model_precision.load()); }

}  // namespace tessera
