// fp32 sgemm vs bf16 sbgemm (kernels/gemm_bf16.hpp: operands rounded to bf16, fp32 accumulation)
// on the GPT-2 124M linear-layer shapes, N = B·T rows:
//   attn.c_proj fwd  N×768  = N×768 · (768×768)ᵀ
//   mlp.c_fc    fwd  N×3072 = N×768 · (3072×768)ᵀ
//   mlp.c_proj  fwd  N×768  = N×3072 · (768×3072)ᵀ
//   mlp.c_fc    dW   3072×768 = (N×3072)ᵀ · N×768
// bf16_backend: cblas_sbgemm, or the fp32 emulation where OpenBLAS lacks it (kernels/gemm_bf16.cpp).
// The bf16 time includes rounding both operands to bf16 (what the model pays per call).
// One JSON line per shape: GFLOP/s (2·M·N·K / median seconds over --repeats after one warm-up)
// of sgemm and sbgemm and their ratio sbgemm / sgemm.
//   bench_gemm_bf16 [--rows 4096] [--repeats 5]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>
#include "kernels/gemm.hpp"
#include "kernels/gemm_bf16.hpp"

using namespace tessera;

namespace {

struct Shape {
  const char* name;
  Trans ta, tb;
  int64_t M, N, K;
};

template <class F>
double median_seconds(int repeats, F&& f) {
  f();  // warm-up
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 4096;
  int repeats = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rows" && i + 1 < argc) rows = std::atoll(argv[++i]);
    else if (a == "--repeats" && i + 1 < argc) repeats = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "bench_gemm_bf16: unknown argument '%s' (--rows N, --repeats R)\n", a.c_str());
      return 2;
    }
  }
  const Shape shapes[] = {
      {"attn.c_proj fwd", Trans::No, Trans::Yes, rows, 768, 768},
      {"mlp.c_fc fwd", Trans::No, Trans::Yes, rows, 3072, 768},
      {"mlp.c_proj fwd", Trans::No, Trans::Yes, rows, 768, 3072},
      {"mlp.c_fc dW", Trans::Yes, Trans::No, 3072, 768, rows},
  };
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (const Shape& s : shapes) {
    const int64_t a_rows = s.ta == Trans::Yes ? s.K : s.M, a_cols = s.ta == Trans::Yes ? s.M : s.K;
    const int64_t b_rows = s.tb == Trans::Yes ? s.N : s.K, b_cols = s.tb == Trans::Yes ? s.K : s.N;
    std::vector<float> A(size_t(a_rows * a_cols)), B(size_t(b_rows * b_cols)), C(size_t(s.M * s.N));
    for (auto& x : A) x = nd(rng);
    for (auto& x : B) x = nd(rng);
    const double flop = 2.0 * double(s.M) * double(s.N) * double(s.K);
    const double t32 = median_seconds(repeats, [&] {
      gemm_host<float>(s.ta, s.tb, s.M, s.N, s.K, 1.f, A.data(), a_cols, B.data(), b_cols, 0.f, C.data(), s.N);
    });
    const double t16 = median_seconds(repeats, [&] {
      gemm_host_bf16(s.ta, s.tb, s.M, s.N, s.K, 1.f, A.data(), a_cols, B.data(), b_cols, 0.f, C.data(), s.N);
    });
    std::printf(
        "{\"shape\":\"%s\",\"M\":%lld,\"N\":%lld,\"K\":%lld,\"sgemm_gflops\":%.1f,\"sbgemm_gflops\":%.1f,"
        "\"ratio_sbgemm_over_sgemm\":%.2f,\"bf16_backend\":\"%s\"}\n",
        s.name, (long long)s.M, (long long)s.N, (long long)s.K, flop / t32 * 1e-9, flop / t16 * 1e-9, t32 / t16,
        gemm_bf16_uses_sbgemm() ? "cblas_sbgemm" : "emulated (bf16-rounded fp32 copies + cblas_sgemm)");
    std::fflush(stdout);
  }
  return 0;
}
