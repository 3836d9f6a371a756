// bf16 GEMM dispatch (kernels/gemm_bf16.hpp) and the two OpenBLAS back ends:
//  * cblas_sbgemm when the linked OpenBLAS exports it (TESSERA_HAVE_CBLAS_SBGEMM, CMakeLists.txt):
//    operands packed to bf16, OpenBLAS's AVX512-BF16 / AMX kernels accumulate in fp32.
//  * the emulation: operands rounded to bf16 into fp32 copies, then cblas_sgemm. A product of two
//    bf16 values (8-bit mantissas) is exact in fp32, and the sums are fp32, so this computes the
//    same bf16-operand / fp32-accumulation GEMM up to summation order — but at fp32 speed.
// The oneDNN back end is kernels/gemm_bf16_onednn.cpp.
#include "kernels/gemm_bf16.hpp"
#include <cblas.h>
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>
#if defined(__x86_64__) && !defined(__CUDACC__)
#include <immintrin.h>
#endif

namespace tessera {

namespace {

#if defined(__x86_64__) && !defined(__CUDACC__)
// GCC 12 reports its own _mm512_undefined_* placeholders as maybe-uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// float_to_bf16_rne on 16 lanes (same integer arithmetic, so bitwise identical).
__attribute__((target("avx512f"))) void pack_row_avx512(const float* src, int64_t n, uint16_t* dst) {
  int64_t c = 0;
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
  const __m512i bias = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1), quiet = _mm512_set1_epi32(0x0040);
  for (; c + 16 <= n; c += 16) {
    const __m512i u = _mm512_loadu_si512(src + c);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, abs_mask), inf);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), one);
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(bias, lsb)), 16);
    r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(_mm512_srli_epi32(u, 16), quiet));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + c), _mm512_cvtepi32_epi16(r));
  }
  for (; c < n; ++c) dst[c] = float_to_bf16_rne(src[c]);
}
#pragma GCC diagnostic pop
bool cpu_has_avx512f() {
  static const bool has = __builtin_cpu_supports("avx512f");
  return has;
}
#endif

void pack_row(const float* src, int64_t n, uint16_t* dst) {
#if defined(__x86_64__) && !defined(__CUDACC__)
  if (cpu_has_avx512f()) {
    pack_row_avx512(src, n, dst);
    return;
  }
#endif
  for (int64_t c = 0; c < n; ++c) dst[c] = float_to_bf16_rne(src[c]);
}

// What the emulated / sbgemm back ends' A copies hold (per thread, as the copies are).
thread_local Bf16OperandRecord g_emulated_a, g_sbgemm_a;

// Emulation operand: the stored matrix rounded to bf16, kept as fp32, densely.
void round_copy(const float* X, int64_t rows, int64_t cols, int64_t ld, std::vector<float>& out) {
  out.resize(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = X + r * ld;
    float* dst = out.data() + r * cols;
    for (int64_t c = 0; c < cols; ++c) dst[c] = round_to_bf16(src[c]);
  }
}

void gemm_emulated(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                   const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const int64_t a_rows = ta == Trans::Yes ? K : M, a_cols = ta == Trans::Yes ? M : K;
  const int64_t b_rows = tb == Trans::Yes ? N : K, b_cols = tb == Trans::Yes ? K : N;
  thread_local std::vector<float> a32, b32;
  if (!g_emulated_a.reuse(A, a_rows, a_cols, lda)) round_copy(A, a_rows, a_cols, lda, a32);
  round_copy(B, b_rows, b_cols, ldb, b32);
  const auto cta = ta == Trans::Yes ? CblasTrans : CblasNoTrans;
  const auto ctb = tb == Trans::Yes ? CblasTrans : CblasNoTrans;
  cblas_sgemm(CblasRowMajor, cta, ctb, (blasint)M, (blasint)N, (blasint)K, alpha, a32.data(),
              (blasint)std::max<int64_t>(a_cols, 1), b32.data(), (blasint)std::max<int64_t>(b_cols, 1), beta, C,
              (blasint)ldc);
}

#ifdef TESSERA_HAVE_CBLAS_SBGEMM
void gemm_sbgemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const int64_t a_rows = ta == Trans::Yes ? K : M, a_cols = ta == Trans::Yes ? M : K;
  const int64_t b_rows = tb == Trans::Yes ? N : K, b_cols = tb == Trans::Yes ? K : N;
  thread_local std::vector<uint16_t> a16, b16;
  b16.resize(size_t(b_rows * b_cols));
  if (!g_sbgemm_a.reuse(A, a_rows, a_cols, lda)) {
    a16.resize(size_t(a_rows * a_cols));
    pack_bf16(A, a_rows, a_cols, lda, a16.data());
  }
  pack_bf16(B, b_rows, b_cols, ldb, b16.data());
  const auto cta = ta == Trans::Yes ? CblasTrans : CblasNoTrans;
  const auto ctb = tb == Trans::Yes ? CblasTrans : CblasNoTrans;
  cblas_sbgemm(CblasRowMajor, cta, ctb, (blasint)M, (blasint)N, (blasint)K, alpha,
               reinterpret_cast<const bfloat16*>(a16.data()), (blasint)std::max<int64_t>(a_cols, 1),
               reinterpret_cast<const bfloat16*>(b16.data()), (blasint)std::max<int64_t>(b_cols, 1), beta, C,
               (blasint)ldc);
}
#endif

Bf16GemmBackend best_usable() {
  if (bf16_gemm_backend_usable(Bf16GemmBackend::Onednn)) return Bf16GemmBackend::Onednn;
  if (bf16_gemm_backend_usable(Bf16GemmBackend::Sbgemm)) return Bf16GemmBackend::Sbgemm;
  return Bf16GemmBackend::Emulated;
}

Bf16GemmBackend pick_default() {
  const char* env = std::getenv("TESSERA_BF16_GEMM");
  if (!env || !*env) return best_usable();
  for (Bf16GemmBackend b : {Bf16GemmBackend::Onednn, Bf16GemmBackend::Sbgemm, Bf16GemmBackend::Emulated}) {
    if (std::string(env) != bf16_gemm_backend_name(b)) continue;
    if (!bf16_gemm_backend_built(b))
      throw std::runtime_error(std::string("TESSERA_BF16_GEMM=") + env + ": this build has no " + env +
                               " bf16 GEMM (see the CMake configure log)");
    if (!bf16_gemm_backend_usable(b))
      throw std::runtime_error(std::string("TESSERA_BF16_GEMM=") + env + ": " + onednn_bf16_unusable_reason());
    return b;
  }
  throw std::runtime_error(std::string("TESSERA_BF16_GEMM: unknown value '") + env +
                           "' (expected onednn, sbgemm or emulated)");
}

std::atomic<int> g_model_precision{int(GemmPrecision::FP32)};

}  // namespace

const char* bf16_gemm_backend_name(Bf16GemmBackend b) {
  switch (b) {
    case Bf16GemmBackend::Onednn: return "onednn";
    case Bf16GemmBackend::Sbgemm: return "sbgemm";
    case Bf16GemmBackend::Emulated: return "emulated";
  }
  return "?";
}

bool bf16_gemm_backend_built(Bf16GemmBackend b) {
  switch (b) {
    case Bf16GemmBackend::Onednn: return !onednn_version().empty();
    case Bf16GemmBackend::Sbgemm:
#ifdef TESSERA_HAVE_CBLAS_SBGEMM
      return true;
#else
      return false;
#endif
    case Bf16GemmBackend::Emulated: return true;
  }
  return false;
}

void bf16_gemm_reuse_previous_a() {
  switch (bf16_gemm_default_backend()) {
    case Bf16GemmBackend::Onednn: onednn_reuse_previous_a(); return;
    case Bf16GemmBackend::Sbgemm: g_sbgemm_a.hinted = true; return;
    case Bf16GemmBackend::Emulated: g_emulated_a.hinted = true; return;
  }
}

bool bf16_gemm_backend_usable(Bf16GemmBackend b) {
  if (!bf16_gemm_backend_built(b)) return false;
  return b != Bf16GemmBackend::Onednn || onednn_bf16_unusable_reason().empty();
}

Bf16GemmBackend bf16_gemm_default_backend() {
  static const Bf16GemmBackend b = pick_default();
  return b;
}

std::string bf16_gemm_description() {
  const Bf16GemmBackend b = bf16_gemm_default_backend();
  switch (b) {
    case Bf16GemmBackend::Onednn: {
      const char* wait = std::getenv("OMP_WAIT_POLICY");
      std::string s = onednn_version() + " matmul, " + std::to_string(bf16_gemm_threads()) +
                      " threads, OMP_WAIT_POLICY=" +
                      (wait && *wait ? std::string(wait) : std::string("unset: 1 thread, export OMP_WAIT_POLICY=passive for more"));
      const std::string impl = onednn_last_impl();
      if (!impl.empty()) s += ", " + impl;
      return s;
    }
    case Bf16GemmBackend::Sbgemm: return "OpenBLAS cblas_sbgemm";
    case Bf16GemmBackend::Emulated: {
      const char* env = std::getenv("TESSERA_BF16_GEMM");
      if (env && *env) return "emulated: bf16-rounded fp32 copies + cblas_sgemm (TESSERA_BF16_GEMM=" + std::string(env) + ")";
      return "emulated: bf16-rounded fp32 copies + cblas_sgemm (" + onednn_bf16_unusable_reason() +
             "; no cblas_sbgemm in this OpenBLAS)";
    }
  }
  return "?";
}

void pack_bf16(const float* X, int64_t rows, int64_t cols, int64_t ld, uint16_t* out) {
  for (int64_t r = 0; r < rows; ++r) pack_row(X + r * ld, cols, out + r * cols);
}

void gemm_host_bf16_on(Bf16GemmBackend backend, Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  // A pending reuse hint belongs to the next call on the default back end: a call that computes
  // nothing, or runs another back end, drops it (so no later call can match a stale copy).
  if (M <= 0 || N <= 0 || backend != bf16_gemm_default_backend()) {
    g_emulated_a.hinted = g_sbgemm_a.hinted = false;
    onednn_clear_hint();
    if (M <= 0 || N <= 0) return;
  }
  switch (backend) {
    case Bf16GemmBackend::Onednn:
      gemm_host_bf16_onednn(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      return;
    case Bf16GemmBackend::Sbgemm:
#ifdef TESSERA_HAVE_CBLAS_SBGEMM
      gemm_sbgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      return;
#else
      throw std::runtime_error("bf16 GEMM: this OpenBLAS does not export cblas_sbgemm (built without BUILD_BFLOAT16)");
#endif
    case Bf16GemmBackend::Emulated:
      gemm_emulated(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      return;
  }
}

void gemm_host_bf16(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                    const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_host_bf16_on(bf16_gemm_default_backend(), ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

int bf16_gemm_thread_rule(const char* omp_num_threads, const char* omp_wait_policy, int blas_threads,
                          int local_ranks, int hardware_threads) {
  if (omp_num_threads && *omp_num_threads) {
    const int n = std::atoi(omp_num_threads);  // "4" or "4,2" (nested): the first level
    if (n > 0) return n;
  }
  if (!omp_wait_policy || !*omp_wait_policy) return 1;  // spinning libgomp workers vs OpenBLAS's threads
  const int per_rank = std::max(1, hardware_threads / std::max(1, local_ranks));
  return std::max(1, std::min(blas_threads > 0 ? blas_threads : hardware_threads, per_rank));
}

int bf16_gemm_threads() {
  int local_ranks = 1;
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"}) {
    const char* v = std::getenv(var);
    if (v && std::atoi(v) > 0) {
      local_ranks = std::atoi(v);
      break;
    }
  }
  return bf16_gemm_thread_rule(std::getenv("OMP_NUM_THREADS"), std::getenv("OMP_WAIT_POLICY"),
                               openblas_get_num_threads(), local_ranks,
                               int(std::max(1u, std::thread::hardware_concurrency())));
}

bool bf16_attention_gemms() {
  static const bool on = [] {
    const char* v = std::getenv("TESSERA_BF16_ATTENTION");
    return !(v && std::string(v) == "0");
  }();
  return on;
}

void set_model_gemm_precision(GemmPrecision p) { g_model_precision.store(int(p)); }
GemmPrecision model_gemm_precision() { return GemmPrecision(g_model_precision.load()); }

}  // namespace tessera
