// bf16 mixed-precision GEMM on the host: operands rounded to bfloat16
// (round-to-nearest-even), products accumulated and written in fp32.
//   C[M,N] = alpha * op(bf16(A))[M,K] · op(bf16(B))[K,N] + beta * C
// Same row-major interface and stride convention as gemm_host (kernels/gemm.hpp).
// Back ends (Bf16GemmBackend), the default picked at build time, best first:
//   * oneDNN's matmul primitive (kernels/gemm_bf16_onednn.cpp) when CMake found libdnnl
//     (TESSERA_HAVE_ONEDNN): AVX512-BF16 / AMX kernels chosen by oneDNN at run time;
//   * OpenBLAS's cblas_sbgemm where the linked OpenBLAS exports it (TESSERA_HAVE_CBLAS_SBGEMM);
//   * an exact fp32 emulation: bf16-rounded fp32 copies + cblas_sgemm (gemm_bf16.cpp).
// TESSERA_BF16_GEMM=onednn|sbgemm|emulated in the environment overrides the default
// (read once; an unavailable choice is an error naming the variable).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
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

enum class Bf16GemmBackend { Onednn, Sbgemm, Emulated };
// "onednn", "sbgemm", "emulated".
const char* bf16_gemm_backend_name(Bf16GemmBackend b);
// Whether this build has the back end (Emulated: always).
bool bf16_gemm_backend_built(Bf16GemmBackend b);
// Whether it is built and runs on this CPU (oneDNN 2.6's bf16 matmul needs AVX-512: on an AVX2
// CPU it is built but not usable, and the default falls back to the next back end).
bool bf16_gemm_backend_usable(Bf16GemmBackend b);
// What gemm_host_bf16 runs: TESSERA_BF16_GEMM if set, else the best usable one.
Bf16GemmBackend bf16_gemm_default_backend();
// One line for logs: the default back end and, for oneDNN, its version, the kernel it
// picked (after the first call) and its thread count.
std::string bf16_gemm_description();

// Dense copy of the stored rows×cols matrix X (row stride ld) as bf16 bits (RNE, as
// float_to_bf16_rne; AVX-512 when the CPU has it), out[r * cols + c].
void pack_bf16(const float* X, int64_t rows, int64_t cols, int64_t ld, uint16_t* out);

// The bf16 GEMM on a given back end (throws std::runtime_error when it is not built).
void gemm_host_bf16_on(Bf16GemmBackend backend, Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// oneDNN back end (kernels/gemm_bf16_onednn.cpp; throws when not built).
void gemm_host_bf16_onednn(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
// What a back end's A-operand copy holds (stored matrix pointer, rows, cols, row stride), and
// whether the caller said the next call's A is that matrix with unchanged contents.
struct Bf16OperandRecord {
  const float* ptr = nullptr;
  int64_t rows = 0, cols = 0, ld = 0;
  bool hinted = false;
  // True: the copy may be reused. False: the caller packs A now, and the record names it. Clears the hint.
  bool reuse(const float* p, int64_t r, int64_t c, int64_t l) {
    const bool same = hinted && ptr == p && rows == r && cols == c && ld == l;
    hinted = false;
    if (!same) ptr = p, rows = r, cols = c, ld = l;
    return same;
  }
};
// Hint for the next bf16 GEMM on the default back end: its A operand is the previous call's A
// operand, unchanged (same pointer, stored shape and stride, same contents), so the bf16 copy made
// then is reused. A call whose A does not match packs as usual; any call clears the hint.
void bf16_gemm_reuse_previous_a();
// The oneDNN back end's hint, and its withdrawal (no-ops when not built).
void onednn_reuse_previous_a();
void onednn_clear_hint();
// "" when oneDNN's bf16 matmul can run on this CPU, else why not (no oneDNN in the build, or
// no bf16 implementation for this CPU); probed once with a 16×16 primitive.
std::string onednn_bf16_unusable_reason();
// "oneDNN 2.6.3" or "" when not built.
std::string onednn_version();
// The implementation oneDNN chose for the most recently created matmul (e.g.
// "brg:avx512_core_amx"), "" before the first call or when not built.
std::string onednn_last_impl();
// Threads oneDNN's OpenMP runtime is given for a GEMM: OMP_NUM_THREADS when set (> 0);
// otherwise OpenBLAS's thread count (OPENBLAS_NUM_THREADS, else all cores) capped at
// hardware threads / MPI ranks on this node (OMPI_COMM_WORLD_LOCAL_SIZE, MPI_LOCALNRANKS,
// SLURM_NTASKS_PER_NODE), so ranks sharing a node do not oversubscribe it — but 1 when
// OMP_WAIT_POLICY is unset: libgomp's idle workers then spin, and spinning workers take the
// cores from OpenBLAS's own threads (the fp32 GEMMs of the same step): measured, a GPT-2 124M
// bf16 step took 5.4 s with 2 spinning threads, 2.1 s with 1 thread, 1.5 s with 2 passive
// ones (docs/results.md). scripts/mpi_env.sh exports OMP_WAIT_POLICY=passive.
int bf16_gemm_threads();
// The rule behind bf16_gemm_threads, as a pure function (omp_num_threads, omp_wait_policy:
// the variables' text or nullptr; local_ranks ≥ 1).
int bf16_gemm_thread_rule(const char* omp_num_threads, const char* omp_wait_policy, int blas_threads,
                          int local_ranks, int hardware_threads);

// The default back end.
void gemm_host_bf16(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                    const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Whether the attention GEMMs follow train.precision = bf16 on the host (gemm_model_strided_batched):
// yes, unless TESSERA_BF16_ATTENTION=0 (read once) keeps them fp32.
bool bf16_attention_gemms();
// Which arithmetic the model's large GEMMs (linear layers, LM head) use.
enum class GemmPrecision { FP32, BF16 };
// Process-wide: set once by the trainer from train.precision before the first step.
void set_model_gemm_precision(GemmPrecision p);
GemmPrecision model_gemm_precision();

// The bf16 GEMM on device memory (kernels/gemm_device_bf16.cpp): A and B rounded to bf16 on the
// device (RNE), then gemm_cuda_bf16 (cuBLAS, fp32 accumulation). Throws std::runtime_error in a
// build without a CUDA Kokkos and the CUDA glue.
void gemm_device_bf16(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                      const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// The model's GEMM: gemm<S, Space> unless bf16 is selected and S is float; then the host
// bf16 GEMM when the kernels run on the host, the cuBLAS one when they run on a device.
template <class S, class Space = MemSpace>
inline void gemm_model(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, S alpha, const S* A, int64_t lda,
                       const S* B, int64_t ldb, S beta, S* C, int64_t ldc) {
  if constexpr (std::is_same_v<S, float>) {
    if (model_gemm_precision() == GemmPrecision::BF16) {
      if constexpr (std::is_same_v<Space, Kokkos::HostSpace>)
        gemm_host_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      else
        gemm_device_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      return;
    }
  }
  gemm<S, Space>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// The attention score / value GEMMs (kernels/attention.cpp): gemm_strided_batched unless bf16 is
// selected (and bf16_attention_gemms()), S is float and the kernels run on the host; then each of the batch's GEMMs is the host
// bf16 GEMM (as PyTorch's autocast runs bmm in bf16). On a device they stay fp32 (cuBLAS sgemm).
template <class S, class Space = MemSpace>
inline void gemm_model_strided_batched(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, S alpha, const S* A,
                                       int64_t lda, int64_t strideA, const S* B, int64_t ldb, int64_t strideB,
                                       S beta, S* C, int64_t ldc, int64_t strideC, int64_t batch) {
  if constexpr (std::is_same_v<S, float> && std::is_same_v<Space, Kokkos::HostSpace>) {
    if (model_gemm_precision() == GemmPrecision::BF16 && bf16_attention_gemms()) {
      for (int64_t i = 0; i < batch; ++i)
        gemm_host_bf16(ta, tb, M, N, K, alpha, A + i * strideA, lda, B + i * strideB, ldb, beta, C + i * strideC, ldc);
      return;
    }
  }
  gemm_strided_batched<S, Space>(ta, tb, M, N, K, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC,
                                 batch);
}

// Before the second of two model GEMMs that share the stored matrix A (linear backward: dX = dY·W,
// then dW = dYᵀ·X): under host bf16, dY's bf16 copy from the first is reused (one RNE
// pack instead of two; the result is bitwise the same). Nothing otherwise.
template <class S, class Space = MemSpace>
inline void gemm_model_reuse_previous_a() {
  if constexpr (std::is_same_v<S, float> && std::is_same_v<Space, Kokkos::HostSpace>) {
    if (model_gemm_precision() == GemmPrecision::BF16) bf16_gemm_reuse_previous_a();
  }
}

}  // namespace tessera
