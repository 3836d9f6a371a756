// tessera_cuda_check: exercises the CUDA glue on a GPU machine. Compares cuBLAS
// GEMMs (plain, transposed, strided-batched) with host BLAS, and device memory
// round trips. Exit 0 = all match; 2 = no device; 1 = mismatch.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "kernels/device_runtime.hpp"
#include "kernels/gemm_bf16.hpp"
#include "kernels/gemm.hpp"

using namespace tessera;

static double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a[i]) - b[i]) / (1e-3 + std::abs(double(b[i]))));
  return m;
}

int main() {
  DeviceProbe p = probe_devices();
  std::printf("cuda glue built: %s, devices: %d %s %s\n", p.built_with_cuda ? "yes" : "no", p.device_count,
              p.device_name.c_str(), p.detail.c_str());
  if (p.device_count == 0) return 2;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  int fails = 0;
  for (auto [M, N, K, ta, tb] : {std::tuple{64, 48, 40, Trans::No, Trans::No}, {33, 65, 17, Trans::No, Trans::Yes},
                                 {128, 96, 77, Trans::Yes, Trans::No}, {31, 29, 23, Trans::Yes, Trans::Yes}}) {
    int64_t lda = (ta == Trans::No) ? K : M, ldb = (tb == Trans::No) ? N : K;
    int64_t rowsA = (ta == Trans::No) ? M : K, rowsB = (tb == Trans::No) ? K : N;
    std::vector<float> A(rowsA * lda), B(rowsB * ldb), C(M * N), Cref(M * N);
    for (auto& x : A) x = nd(rng);
    for (auto& x : B) x = nd(rng);
    gemm_host<float>(ta, tb, M, N, K, 1.f, A.data(), lda, B.data(), ldb, 0.f, Cref.data(), N);
    float *dA = (float*)device_alloc(A.size() * 4), *dB = (float*)device_alloc(B.size() * 4),
          *dC = (float*)device_alloc(C.size() * 4);
    copy_host_to_device(dA, A.data(), A.size() * 4);
    copy_host_to_device(dB, B.data(), B.size() * 4);
    gemm_cuda<float>(ta, tb, M, N, K, 1.f, dA, lda, dB, ldb, 0.f, dC, N);
    copy_device_to_host(C.data(), dC, C.size() * 4);
    double d = max_rel_diff(C, Cref);
    std::printf("gemm M=%d N=%d K=%d ta=%d tb=%d max_rel_diff=%.3g\n", M, N, K, int(ta), int(tb), d);
    if (!(d < 1e-3)) ++fails;
    device_free(dA); device_free(dB); device_free(dC);
  }
  // strided batched: 3 batches of 16x24x8
  {
    const int M = 16, N = 24, K = 8, batch = 3;
    std::vector<float> A(batch * M * K), B(batch * K * N), C(batch * M * N), Cref(batch * M * N);
    for (auto& x : A) x = nd(rng);
    for (auto& x : B) x = nd(rng);
    for (int b = 0; b < batch; ++b)
      gemm_host<float>(Trans::No, Trans::No, M, N, K, 1.f, A.data() + b * M * K, K, B.data() + b * K * N, N, 0.f,
                       Cref.data() + b * M * N, N);
    float *dA = (float*)device_alloc(A.size() * 4), *dB = (float*)device_alloc(B.size() * 4),
          *dC = (float*)device_alloc(C.size() * 4);
    copy_host_to_device(dA, A.data(), A.size() * 4);
    copy_host_to_device(dB, B.data(), B.size() * 4);
    gemm_strided_batched_cuda<float>(Trans::No, Trans::No, M, N, K, 1.f, dA, K, M * K, dB, N, K * N, 0.f, dC, N,
                                     M * N, batch);
    copy_device_to_host(C.data(), dC, C.size() * 4);
    double d = max_rel_diff(C, Cref);
    std::printf("gemm_strided_batched max_rel_diff=%.3g\n", d);
    if (!(d < 1e-3)) ++fails;
    device_free(dA); device_free(dB); device_free(dC);
  }
  // bf16 operands, fp32 accumulation (cublasGemmEx) vs a plain fp64 loop on the same rounded operands.
  for (auto [M, N, K, ta, tb] : {std::tuple{96, 80, 64, Trans::No, Trans::Yes}, {37, 53, 29, Trans::Yes, Trans::No}}) {
    int64_t lda = (ta == Trans::No) ? K : M, ldb = (tb == Trans::No) ? N : K;
    int64_t rowsA = (ta == Trans::No) ? M : K, rowsB = (tb == Trans::No) ? K : N;
    std::vector<uint16_t> A(rowsA * lda), B(rowsB * ldb);
    std::vector<float> C(M * N), Cref(M * N);
    for (auto& x : A) x = float_to_bf16_rne(nd(rng));
    for (auto& x : B) x = float_to_bf16_rne(nd(rng));
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        double acc = 0;
        for (int k = 0; k < K; ++k)
          acc += double(bf16_to_float(ta == Trans::No ? A[i * lda + k] : A[k * lda + i])) *
                 bf16_to_float(tb == Trans::No ? B[k * ldb + j] : B[j * ldb + k]);
        Cref[i * N + j] = float(acc);
      }
    auto *dA = (uint16_t*)device_alloc(A.size() * 2), *dB = (uint16_t*)device_alloc(B.size() * 2);
    auto* dC = (float*)device_alloc(C.size() * 4);
    copy_host_to_device(dA, A.data(), A.size() * 2);
    copy_host_to_device(dB, B.data(), B.size() * 2);
    gemm_cuda_bf16(ta, tb, M, N, K, 1.f, dA, lda, dB, ldb, 0.f, dC, N);
    copy_device_to_host(C.data(), dC, C.size() * 4);
    double d = max_rel_diff(C, Cref);
    std::printf("gemm bf16 M=%d N=%d K=%d ta=%d tb=%d max_rel_diff=%.3g\n", M, N, K, int(ta), int(tb), d);
    if (!(d < 1e-3)) ++fails;
    device_free(dA); device_free(dB); device_free(dC);
  }
  {  // strided-batched bf16: 3 products of [M,K]·[K,N]^T (ldb = K), each vs the fp64 loop
    const int M = 19, N = 23, K = 31, batch = 3;
    std::vector<uint16_t> A(size_t(batch) * M * K), B(size_t(batch) * N * K);
    std::vector<float> C(size_t(batch) * M * N), Cref(C.size());
    for (auto& x : A) x = float_to_bf16_rne(nd(rng));
    for (auto& x : B) x = float_to_bf16_rne(nd(rng));
    for (int b = 0; b < batch; ++b)
      for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) {
          double acc = 0;
          for (int k = 0; k < K; ++k)
            acc += double(bf16_to_float(A[size_t(b) * M * K + i * K + k])) * bf16_to_float(B[size_t(b) * N * K + j * K + k]);
          Cref[size_t(b) * M * N + i * N + j] = float(acc);
        }
    auto *dA = (uint16_t*)device_alloc(A.size() * 2), *dB = (uint16_t*)device_alloc(B.size() * 2);
    auto* dC = (float*)device_alloc(C.size() * 4);
    copy_host_to_device(dA, A.data(), A.size() * 2);
    copy_host_to_device(dB, B.data(), B.size() * 2);
    gemm_strided_batched_cuda_bf16(Trans::No, Trans::Yes, M, N, K, 1.f, dA, K, int64_t(M) * K, dB, K,
                                   int64_t(N) * K, 0.f, dC, N, int64_t(M) * N, batch);
    copy_device_to_host(C.data(), dC, C.size() * 4);
    double d = max_rel_diff(C, Cref);
    std::printf("gemm strided-batched bf16 batch=%d max_rel_diff=%.3g\n", batch, d);
    if (!(d < 1e-3)) ++fails;
    device_free(dA); device_free(dB); device_free(dC);
  }
  std::printf("%s\n", fails ? "CUDA CHECK FAILED" : "CUDA CHECK OK");
  return fails ? 1 : 0;
}
