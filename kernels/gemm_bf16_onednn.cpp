// bf16 GEMM on the host through oneDNN's matmul primitive (Debian's libdnnl, 2.6):
// operands rounded fp32 → bf16 (RNE, pack_bf16) into dense scratch buffers, products
// accumulated in fp32 and written as fp32 into C (row stride ldc); alpha is an output
// scale, beta a sum post-op. A transposed operand is described by swapped strides, so no
// transpose copy is made. Primitives are created once per (shape, transposes, ldc, alpha,
// beta) and cached: the model repeats a few dozen shapes.
// Threads: Debian's libdnnl runs on OpenMP; every call sets the OpenMP thread count to
// bf16_gemm_threads() (OMP_NUM_THREADS, else OpenBLAS's count capped per MPI rank).
// Built only when CMake finds oneDNN (TESSERA_HAVE_ONEDNN); otherwise the functions say so.
#include <stdexcept>
#include <string>
#include "kernels/gemm_bf16.hpp"

#ifdef TESSERA_HAVE_ONEDNN
#include <omp.h>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace tessera {

#ifdef TESSERA_HAVE_ONEDNN
namespace {

struct OnednnState {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  using Key = std::tuple<bool, bool, int64_t, int64_t, int64_t, int64_t, float, float>;
  std::map<Key, dnnl::matmul> cache;
  std::vector<uint16_t> a16, b16;
  Bf16OperandRecord a_rec;  // what a16 holds (bf16_gemm_reuse_previous_a)
  std::string last_impl;
  std::mutex mu;
};
OnednnState& state() {
  static OnednnState s;
  return s;
}

// pack_bf16 split over the OpenMP threads by rows (large operands only).
void pack_parallel(const float* X, int64_t rows, int64_t cols, int64_t ld, uint16_t* out, int threads) {
  if (threads <= 1 || rows * cols < (int64_t(1) << 16)) {
    pack_bf16(X, rows, cols, ld, out);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), n = omp_get_num_threads();
    const int64_t r0 = rows * t / n, r1 = rows * (t + 1) / n;
    pack_bf16(X + r0 * ld, r1 - r0, cols, ld, out + r0 * cols);
  }
}

void run(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
         const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  OnednnState& o = state();
  std::lock_guard<std::mutex> lock(o.mu);
  const bool tA = ta == Trans::Yes, tB = tb == Trans::Yes;
  if (K <= 0) {  // nothing to multiply: C = beta * C
    o.a_rec.hinted = false;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  const int threads = bf16_gemm_threads();
  omp_set_num_threads(threads);
  // Stored shapes: A is M×K (K×M when transposed), B is K×N (N×K when transposed).
  if (o.a16.size() < size_t(M * K)) o.a16.resize(size_t(M * K));
  if (o.b16.size() < size_t(K * N)) o.b16.resize(size_t(K * N));
  const int64_t a_rows = tA ? K : M, a_cols = tA ? M : K;
  if (!o.a_rec.reuse(A, a_rows, a_cols, lda)) pack_parallel(A, a_rows, a_cols, lda, o.a16.data(), threads);
  pack_parallel(B, tB ? N : K, tB ? K : N, ldb, o.b16.data(), threads);
  using dt = dnnl::memory::data_type;
  using dims = dnnl::memory::dims;
  const dnnl::memory::desc amd({M, K}, dt::bf16, tA ? dims{1, M} : dims{K, 1});
  const dnnl::memory::desc bmd({K, N}, dt::bf16, tB ? dims{1, K} : dims{N, 1});
  const dnnl::memory::desc cmd({M, N}, dt::f32, dims{ldc, 1});
  const OnednnState::Key key{tA, tB, M, N, K, ldc, alpha, beta};
  auto it = o.cache.find(key);
  if (it == o.cache.end()) {
    if (o.cache.size() >= 1024) o.cache.clear();
    dnnl::primitive_attr attr;
    if (alpha != 1.f) attr.set_output_scales(0, {alpha});
    if (beta != 0.f) {
      dnnl::post_ops po;
      po.append_sum(beta);
      attr.set_post_ops(po);
    }
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(amd, bmd, cmd), attr, o.eng);
    o.last_impl = pd.impl_info_str();
    it = o.cache.emplace(key, dnnl::matmul(pd)).first;
  }
  dnnl::memory am(amd, o.eng, o.a16.data()), bm(bmd, o.eng, o.b16.data()), cm(cmd, o.eng, C);
  it->second.execute(o.strm, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
  o.strm.wait();
}

}  // namespace

std::string onednn_version() {
  const dnnl_version_t* v = dnnl_version();
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

std::string onednn_bf16_unusable_reason() {
  // oneDNN 2.6 has bf16 matmul kernels for AVX-512 (avx512_core and up) only: on an AVX2 CPU it
  // finds no implementation ("could not create a primitive descriptor iterator"). Asked once.
  static const std::string reason = [] {
    try {
      OnednnState& o = state();
      using dt = dnnl::memory::data_type;
      const dnnl::memory::desc a({16, 16}, dt::bf16, dnnl::memory::dims{16, 1});
      const dnnl::memory::desc c({16, 16}, dt::f32, dnnl::memory::dims{16, 1});
      const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, a, c), o.eng);
      (void)pd;
      return std::string();
    } catch (const dnnl::error& e) {
      return onednn_version() + " has no bf16 matmul for this CPU (" + e.what() +
             "; its bf16 kernels need AVX-512)";
    }
  }();
  return reason;
}

void onednn_reuse_previous_a() {
  std::lock_guard<std::mutex> lock(state().mu);
  state().a_rec.hinted = true;
}

void onednn_clear_hint() {
  std::lock_guard<std::mutex> lock(state().mu);
  state().a_rec.hinted = false;
}

std::string onednn_last_impl() {
  std::lock_guard<std::mutex> lock(state().mu);
  return state().last_impl;
}

void gemm_host_bf16_onednn(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) {
    onednn_clear_hint();
    return;
  }
  try {
    run(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  } catch (const dnnl::error& e) {
    throw std::runtime_error("bf16 GEMM (oneDNN matmul, M=" + std::to_string(M) + " N=" + std::to_string(N) +
                             " K=" + std::to_string(K) + ") failed: " + e.what());
  }
}

#else  // no oneDNN in this build

std::string onednn_version() { return ""; }
std::string onednn_last_impl() { return ""; }
std::string onednn_bf16_unusable_reason() { return "this Tessera build has no oneDNN"; }
void onednn_reuse_previous_a() {}
void onednn_clear_hint() {}
void gemm_host_bf16_onednn(Trans, Trans, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                           int64_t, float, float*, int64_t) {
  throw std::runtime_error(
      "bf16 GEMM: this Tessera build has no oneDNN (CMake did not find libdnnl; apt-get install libdnnl-dev and "
      "reconfigure)");
}

#endif

}  // namespace tessera
