// bench_train_step: full GPT-2 training steps (forward + backward + AdamW) at a
// given (B, T), next to the machine's measured BLAS sgemm peak in the same run.
//   bench_train_step [--preset gpt2-small] [--batch 4] [--seq 64] [--steps 3] [--warmup 1]
//                    [--attention materialized|tiled]   (model.attention; n_positions grows to --seq)
//                    [--recompute none|full|selective]  (train.recompute, docs/peft.md)
//                    [--dropout P]                      (embd/attn/resid dropout; GPT-2's own config has 0.1)
//                    [--precision fp32|bf16]            (train.precision: bf16 GEMMs, kernels/gemm_bf16.hpp)
// Prints one JSON object per line (keys: bench, config, ms_per_step, tokens_per_s,
// gflops, peak_gflops, peak_ratio, peak_rss_mb, ...). Model FLOPs per token are
// 6·params + 12·layers·C·T (forward + backward, attention included).
// Contention: the GEMM peak (OpenBLAS sgemm; with --precision bf16 the host bf16 GEMM, whose peak
// a bf16 step can exceed the sgemm one by) is measured before the first step and again after every
// timed step (interleaved, so a load that comes and goes is seen by both); the highest
// is the peak, and the spread (max − min) / max is reported with each measurement's CPU
// share (process CPU time / (wall · hardware threads); an unshared machine gives ≈ 1
// during sgemm). A run is flagged "contended" — and prints no peak_ratio, since that
// ratio would be meaningless — when the spread exceeds --max-spread (0.15), when sgemm got
// less than --min-sgemm-cpu (0.85) of the machine, or when the model's GFLOP/s exceed the
// peak (an impossible ratio above 1). cpu_util over the timed steps is reported too
// (below 1 even when unshared: the Serial Kokkos kernels use one thread).
#include <mpi.h>
#include <sys/resource.h>
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>
#include <nlohmann/json.hpp>
#include "kernels/gemm.hpp"
#include "kernels/gemm_bf16.hpp"
#include "src/model/gpt2.hpp"
#include "src/train/adamw_optimizer.hpp"
#include "src/train/mixed_precision.hpp"
#include "src/train/trainer.hpp"

using namespace tessera;
using clock_type = std::chrono::steady_clock;

static double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Best-of-n GFLOP/s of a square row-major GEMM of size n (all threads): OpenBLAS's sgemm, or with
// bf16 the host bf16 GEMM the model uses (a bf16 step's GFLOP/s are measured against the bf16 peak).
static double gemm_peak_gflops(int n, int reps, bool bf16) {
  std::vector<float> A(size_t(n) * n, 0.5f), B(size_t(n) * n, 0.25f), C(size_t(n) * n, 0.f);
  auto once = [&] {
    if (bf16)
      gemm_host_bf16(Trans::No, Trans::No, n, n, n, 1.f, A.data(), n, B.data(), n, 0.f, C.data(), n);
    else
      gemm_host<float>(Trans::No, Trans::No, n, n, n, 1.f, A.data(), n, B.data(), n, 0.f, C.data(), n);
  };
  once();  // warm-up
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto t0 = clock_type::now();
    once();
    best = std::min(best, seconds_since(t0));
  }
  return 2.0 * double(n) * n * n / best * 1e-9;
}

static double cpu_seconds();

// One peak measurement: GFLOP/s and the CPU share the process got while measuring.
struct PeakSample {
  double gflops, cpu_share;
};

static PeakSample measure_peak(int n, int reps, bool bf16) {
  const double c0 = cpu_seconds();
  const auto t0 = clock_type::now();
  const double g = gemm_peak_gflops(n, reps, bf16);
  const double share = (cpu_seconds() - c0) / (seconds_since(t0) * std::max(1u, std::thread::hardware_concurrency()));
  return {g, share};
}

static double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec) + 1e-6 * ru.ru_utime.tv_usec + double(ru.ru_stime.tv_sec) +
         1e-6 * ru.ru_stime.tv_usec;
}

static double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int B = 4, T = 64, steps = 3, warmup = 1, peak_n = 2048;
  double max_spread = 0.15, min_sgemm_cpu = 0.85;
  std::string preset = "gpt2-small", attention = "materialized", recompute = "none", precision = "fp32";
  double dropout = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--batch") B = std::atoi(argv[i + 1]);
    else if (k == "--seq") T = std::atoi(argv[i + 1]);
    else if (k == "--steps") steps = std::atoi(argv[i + 1]);
    else if (k == "--warmup") warmup = std::atoi(argv[i + 1]);
    else if (k == "--peak-n") peak_n = std::atoi(argv[i + 1]);
    else if (k == "--preset") preset = argv[i + 1];
    else if (k == "--max-spread") max_spread = std::atof(argv[i + 1]);
    else if (k == "--min-sgemm-cpu") min_sgemm_cpu = std::atof(argv[i + 1]);
    else if (k == "--attention") attention = argv[i + 1];
    else if (k == "--recompute") recompute = argv[i + 1];
    else if (k == "--dropout") dropout = std::atof(argv[i + 1]);
    else if (k == "--precision") precision = argv[i + 1];
  }
  Kokkos::initialize(argc, argv);
  {
    GPT2Config cfg;  // defaults = gpt2-small (124M)
    if (preset == "gpt2-tiny") { cfg.n_layer = 2; cfg.n_head = 2; cfg.n_embd = 64; cfg.n_positions = 128; cfg.vocab_size = 257; }
    if (attention != "materialized" && attention != "tiled") {
      std::fprintf(stderr, "bench_train_step: --attention must be materialized or tiled, not '%s'\n", attention.c_str());
      return 2;
    }
    cfg.attention = attention == "tiled" ? AttentionKind::Tiled : AttentionKind::Materialized;
    try {
      cfg.recompute = parse_recompute(recompute, "bench_train_step: --recompute");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 2;
    }
    try {
      apply_train_precision(precision, "error", false);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_train_step: --precision: %s\n", e.what());
      return 2;
    }
    cfg.embd_pdrop = cfg.attn_pdrop = cfg.resid_pdrop = dropout;
    cfg.n_positions = std::max(cfg.n_positions, T);
    const bool bf16_peak = precision == "bf16";
    std::vector<PeakSample> peaks = {measure_peak(peak_n, 5, bf16_peak)};

    GPT2<float> model(cfg);
    model.init_weights(1);
    AdamWOptimizer<float> opt(model.params(), {0.9, 0.999, 1e-8, 0.1});
    std::vector<int32_t> tok(size_t(B) * T), tgt(size_t(B) * T);
    for (size_t i = 0; i < tok.size(); ++i) {
      tok[i] = int32_t((i * 2654435761u) % uint32_t(cfg.vocab_size));
      tgt[i] = int32_t((i * 40503u + 7) % uint32_t(cfg.vocab_size));
    }
    std::vector<double> fwd_ms, bwd_ms, opt_ms, step_ms;
    double step_cpu = 0;  // CPU seconds of the timed steps
    for (int s = 0; s < warmup + steps; ++s) {
      const double c0 = cpu_seconds();
      auto t0 = clock_type::now();
      model.params().zero_grads();
      model.forward(tok.data(), tgt.data(), B, T, ForwardOptions{true, 1, uint64_t(s)});
      const double tf = seconds_since(t0);
      auto t1 = clock_type::now();
      model.backward(1.0f);
      const double tb = seconds_since(t1);
      auto t2 = clock_type::now();
      opt.step(model.params(), 1e-4, 1.0);
      Kokkos::fence();
      const double to = seconds_since(t2);
      if (s >= warmup) {
        fwd_ms.push_back(tf * 1e3);
        bwd_ms.push_back(tb * 1e3);
        opt_ms.push_back(to * 1e3);
        step_ms.push_back(seconds_since(t0) * 1e3);
        step_cpu += cpu_seconds() - c0;
        peaks.push_back(measure_peak(peak_n, 3, bf16_peak));  // interleaved with the steps (not timed)
      }
    }
    // cpu_util over the timed steps only (the interleaved peak measurements excluded).
    double step_wall = 0;
    for (double m : step_ms) step_wall += m * 1e-3;
    const double cpu_util = step_cpu / (step_wall * std::max(1u, std::thread::hardware_concurrency()));
    auto median = [](std::vector<double> v) { std::sort(v.begin(), v.end()); return v[v.size() / 2]; };
    std::vector<double> peak_values, peak_shares;
    for (const PeakSample& p : peaks) {
      peak_values.push_back(p.gflops);
      peak_shares.push_back(p.cpu_share);
    }
    const double peak = *std::max_element(peak_values.begin(), peak_values.end());
    const double peak_min = *std::min_element(peak_values.begin(), peak_values.end());
    const double spread = (peak - peak_min) / peak;
    const double min_share = *std::min_element(peak_shares.begin(), peak_shares.end());
    const double ms = median(step_ms);
    const double tokens = double(B) * T;
    const double gflops = flops_per_token(cfg, T) * tokens / (ms * 1e-3) * 1e-9;
    std::string contention;
    if (spread > max_spread)
      contention = std::string(bf16_peak ? "bf16 GEMM" : "sgemm") + " peak spread " + std::to_string(spread) + " > " + std::to_string(max_spread);
    else if (min_share < min_sgemm_cpu)
      contention = std::string(bf16_peak ? "bf16 GEMM" : "sgemm") + " got " + std::to_string(min_share) + " of the machine (< " + std::to_string(min_sgemm_cpu) + ")";
    else if (gflops > peak)
      contention = "model GFLOP/s above the measured peak (the peak was measured while the machine was busy)";
    nlohmann::json j = {{"bench", "train_step"},
                        {"config", preset + " B=" + std::to_string(B) + " T=" + std::to_string(T)},
                        {"attention", attention},
                        {"recompute", recompute},
                        {"dropout", dropout},
                        {"precision", precision},
                        {"bf16_gemm", precision == "bf16" ? bf16_gemm_description() : std::string("-")},
                        {"params", cfg.num_parameters()},
                        {"batch", B},
                        {"seq_len", T},
                        {"steps", steps},
                        {"ms_per_step", ms},
                        {"forward_ms", median(fwd_ms)},
                        {"backward_ms", median(bwd_ms)},
                        {"optimizer_ms", median(opt_ms)},
                        {"tokens_per_s", tokens / (ms * 1e-3)},
                        {"gflops", gflops},
                        {"peak_kind", bf16_peak ? "bf16 GEMM (" + bf16_gemm_description() + ")" : std::string("OpenBLAS sgemm")},
                        {"peak_gflops", peak},
                        {"peak_gflops_median", median(peak_values)},
                        {"peak_gflops_min", peak_min},
                        {"peak_spread", spread},
                        {"peak_samples", peak_values.size()},
                        {"sgemm_cpu_share_min", min_share},
                        {"cpu_util", cpu_util},
                        {"cpu_s_per_step", step_cpu / steps},  // CPU seconds (all threads); steadier than wall time under load
                        {"contended", !contention.empty()},
                        {"peak_ratio", contention.empty() ? nlohmann::json(gflops / peak) : nlohmann::json(nullptr)},
                        {"peak_rss_mb", peak_rss_mb()},
                        {"activation_mb", double(model.activation_bytes()) / 1048576.0},
                        {"backend", Kokkos::DefaultExecutionSpace::name()}};
    if (!contention.empty()) j["contention"] = contention;
    std::printf("%s\n", j.dump().c_str());
  }
  Kokkos::finalize();
  MPI_Finalize();
  return 0;
}
