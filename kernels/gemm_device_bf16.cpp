// The model's bf16 GEMM when the kernels run on a CUDA device (gemm_model in gemm_bf16.hpp):
// both operands are rounded to bf16 on the device (round to nearest even, as float_to_bf16_rne)
// into dense scratch buffers, then cuBLAS multiplies them with fp32 accumulation and output
// (gemm_cuda_bf16: cublasGemmEx, CUDA_R_16BF, CUBLAS_COMPUTE_32F). The scratch buffers are kept
// between calls (grown to the largest operand) and released at Kokkos::finalize.
// Compiled to nothing unless Kokkos has the CUDA backend and the CUDA glue is built.
#include "kernels/gemm_bf16.hpp"

#include <stdexcept>

namespace tessera {

#if defined(KOKKOS_ENABLE_CUDA) && defined(TESSERA_HAVE_CUDA)
namespace {

KOKKOS_INLINE_FUNCTION uint16_t device_float_to_bf16_rne(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

struct Bf16Scratch {
  View1<uint16_t> a, b;
};

Bf16Scratch& bf16_scratch() {
  static Bf16Scratch* s = [] {
    auto* p = new Bf16Scratch;
    Kokkos::push_finalize_hook([p] {
      p->a = View1<uint16_t>();
      p->b = View1<uint16_t>();
    });
    return p;
  }();
  return *s;
}

void ensure_capacity(View1<uint16_t>& v, int64_t n) {
  if (int64_t(v.extent(0)) < n)
    v = View1<uint16_t>(Kokkos::view_alloc(Kokkos::WithoutInitializing, "bf16_gemm_operand"), size_t(n));
}

// out[r * cols + c] = bf16(X[r * ld + c]) for the stored rows × cols matrix X.
void pack_bf16_device(const float* X, int64_t rows, int64_t cols, int64_t ld, const View1<uint16_t>& out) {
  Kokkos::parallel_for(
      "pack_bf16_device", RangePolicy(0, rows * cols), KOKKOS_LAMBDA(const int64_t i) {
        const int64_t r = i / cols, c = i % cols;
        out(i) = device_float_to_bf16_rne(X[r * ld + c]);
      });
}

}  // namespace

void gemm_device_bf16(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                      const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const int64_t a_rows = ta == Trans::No ? M : K, a_cols = ta == Trans::No ? K : M;
  const int64_t b_rows = tb == Trans::No ? K : N, b_cols = tb == Trans::No ? N : K;
  Bf16Scratch& s = bf16_scratch();
  ensure_capacity(s.a, a_rows * a_cols);
  ensure_capacity(s.b, b_rows * b_cols);
  pack_bf16_device(A, a_rows, a_cols, lda, s.a);
  pack_bf16_device(B, b_rows, b_cols, ldb, s.b);
  // Kokkos' default CUDA instance and the cuBLAS handle both use the legacy default stream:
  // the packs complete before the GEMM starts.
  gemm_cuda_bf16(ta, tb, M, N, K, alpha, s.a.data(), a_cols, s.b.data(), b_cols, beta, C, ldc);
}
#else
void gemm_device_bf16(Trans, Trans, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                      float, float*, int64_t) {
  throw std::runtime_error("gemm_device_bf16: this build has no CUDA Kokkos backend and CUDA glue");
}
#endif

}  // namespace tessera
