// fp32 OpenBLAS sgemm vs the bf16 GEMM back ends (kernels/gemm_bf16.hpp: operands rounded to
// bf16, fp32 accumulation) — emulated (bf16-rounded fp32 copies + sgemm), oneDNN's matmul and
// OpenBLAS's cblas_sbgemm where this build has them — on the GPT-2 124M linear-layer GEMMs,
// N = B·T rows, as the model calls them (src/model/transformer_internals.hpp, linear_fwd/bwd):
//   fwd  Y  = X·Wᵀ          (No, Yes)  M = N rows, N = out, K = in,  beta 0
//   dX   dX += dY·W         (No, No)   M = N rows, N = in,  K = out, beta 1
//   dW   dW += dYᵀ·X        (Yes, No)  M = out,    N = in,  K = N rows, beta 1
// for c_attn (768→2304), attn.c_proj (768→768), mlp.c_fc (768→3072), mlp.c_proj (3072→768).
// Every bf16 time includes rounding both operands to bf16 (what the model pays per call).
// One JSON line per shape: GFLOP/s (2·M·N·K / median seconds over --repeats after one warm-up)
// of each back end and its ratio to sgemm, measured back to back in the same run, plus the
// oneDNN kernel, its thread count and the 1-minute load average (the machine may be shared).
//   bench_gemm_bf16 [--rows 4096] [--repeats 5] [--no-head]   (LM-head shapes included unless --no-head)
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
  std::string name;
  Trans ta, tb;
  int64_t M, N, K;
  float beta;
};

template <class F>
double median_seconds(int repeats, F&& f) {
  f();  // warm-up (creates the oneDNN primitive)
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double load_average_1min() {
  double l = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = -1;
    std::fclose(f);
  }
  return l;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 4096;
  int repeats = 5;
  bool with_head = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rows" && i + 1 < argc) rows = std::atoll(argv[++i]);
    else if (a == "--repeats" && i + 1 < argc) repeats = std::atoi(argv[++i]);
    else if (a == "--no-head") with_head = false;
    else {
      std::fprintf(stderr, "bench_gemm_bf16: unknown argument '%s' (--rows N, --repeats R, --no-head)\n", a.c_str());
      return 2;
    }
  }
  struct Layer {
    const char* name;
    int64_t in, out;
  };
  const Layer layers[] = {{"attn.c_attn", 768, 2304}, {"attn.c_proj", 768, 768}, {"mlp.c_fc", 768, 3072},
                          {"mlp.c_proj", 3072, 768}};
  std::vector<Shape> shapes;
  for (const Layer& l : layers) shapes.push_back({std::string(l.name) + " fwd", Trans::No, Trans::Yes, rows, l.out, l.in, 0.f});
  for (const Layer& l : layers) shapes.push_back({std::string(l.name) + " dX", Trans::No, Trans::No, rows, l.in, l.out, 1.f});
  for (const Layer& l : layers) shapes.push_back({std::string(l.name) + " dW", Trans::Yes, Trans::No, l.out, l.in, rows, 1.f});
  // The tied LM head (wte [V, C], V = 50257): logits = h·wteᵀ, dh = dlogits·wte, dwte += dlogitsᵀ·h — the
  // largest GEMMs of a GPT-2 124M step (--no-head leaves them out).
  if (with_head) {
    const int64_t V = 50257, C = 768;
    shapes.push_back({"lm_head fwd", Trans::No, Trans::Yes, rows, V, C, 0.f});
    shapes.push_back({"lm_head dX", Trans::No, Trans::No, rows, C, V, 0.f});
    shapes.push_back({"lm_head dW", Trans::Yes, Trans::No, V, C, rows, 1.f});
  }
  std::vector<Bf16GemmBackend> backends;
  for (Bf16GemmBackend b : {Bf16GemmBackend::Emulated, Bf16GemmBackend::Onednn, Bf16GemmBackend::Sbgemm})
    if (bf16_gemm_backend_usable(b)) backends.push_back(b);
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (const Shape& s : shapes) {
    const int64_t a_rows = s.ta == Trans::Yes ? s.K : s.M, a_cols = s.ta == Trans::Yes ? s.M : s.K;
    const int64_t b_rows = s.tb == Trans::Yes ? s.N : s.K, b_cols = s.tb == Trans::Yes ? s.K : s.N;
    std::vector<float> A(size_t(a_rows * a_cols)), B(size_t(b_rows * b_cols)), C(size_t(s.M * s.N), 0.f);
    for (auto& x : A) x = nd(rng);
    for (auto& x : B) x = nd(rng);
    const double flop = 2.0 * double(s.M) * double(s.N) * double(s.K);
    const double load0 = load_average_1min();
    const double t32 = median_seconds(repeats, [&] {
      gemm_host<float>(s.ta, s.tb, s.M, s.N, s.K, 1.f, A.data(), a_cols, B.data(), b_cols, s.beta, C.data(), s.N);
    });
    std::string line = "{\"shape\":\"" + s.name + "\",\"trans\":\"" + (s.ta == Trans::Yes ? "T" : "N") +
                       (s.tb == Trans::Yes ? "T" : "N") + "\",\"M\":" + std::to_string(s.M) +
                       ",\"N\":" + std::to_string(s.N) + ",\"K\":" + std::to_string(s.K);
    char buf[256];
    std::snprintf(buf, sizeof buf, ",\"sgemm_gflops\":%.1f", flop / t32 * 1e-9);
    line += buf;
    for (Bf16GemmBackend b : backends) {
      const double t16 = median_seconds(repeats, [&] {
        gemm_host_bf16_on(b, s.ta, s.tb, s.M, s.N, s.K, 1.f, A.data(), a_cols, B.data(), b_cols, s.beta, C.data(),
                          s.N);
      });
      std::snprintf(buf, sizeof buf, ",\"bf16_%s_gflops\":%.1f,\"ratio_%s_over_sgemm\":%.2f",
                    bf16_gemm_backend_name(b), flop / t16 * 1e-9, bf16_gemm_backend_name(b), t32 / t16);
      line += buf;
      if (b == Bf16GemmBackend::Onednn) line += ",\"onednn_impl\":\"" + onednn_last_impl() + "\"";
    }
    std::snprintf(buf, sizeof buf, ",\"bf16_threads\":%d,\"load_avg_1min\":[%.2f,%.2f]}", bf16_gemm_threads(),
                  load0, load_average_1min());
    line += buf;
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
  return 0;
}
