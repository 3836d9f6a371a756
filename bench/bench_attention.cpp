// Activation memory and time of one attention layer, materialised (kernels/attention.hpp: B·NH·T·T
// probabilities, a dropout copy and a backward workspace) vs tiled (kernels/tiled_attention.hpp: one
// logsumexp and one D per row), forward + backward, fp32, GPT-2 124M sizes (12 heads × 64, B = 1).
// Each (T, path) runs in a child process (this executable with --child), so its peak RSS is its own:
//   peak_rss_mib   the child's ru_maxrss;   extra_rss_mib  peak − RSS after the shared buffers (qkv, out, dout,
//   dqkv) are allocated and touched, i.e. what the path itself needs;   path_bytes  what it allocates;
//   fwd_bwd_ms     median over --repeats forward+backward runs after one warm-up (fwd_ms: the forward's median).
// One JSON line per (T, path), then one per T with the ratios materialized / tiled.
//   bench_attention [--seq 1024,2048] [--heads 12] [--hd 64] [--batch 1] [--pdrop 0.1] [--repeats 3]
#include <sys/resource.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>
#include <Kokkos_Core.hpp>
#include "kernels/attention.hpp"
#include "kernels/tiled_attention.hpp"

using namespace tessera;

namespace {

struct Args {
  std::vector<int> seqs{1024, 2048};
  int heads = 12, hd = 64, batch = 1, repeats = 3;
  double pdrop = 0.1;
  std::string child;  // "materialized" | "tiled": run one measurement
  int T = 0;
};

double rss_mib() {  // current resident set (VmRSS)
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  return 0;
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;
}

template <class V>
void fill(const V& v, uint64_t seed, float lo, float hi) {
  auto h = Kokkos::create_mirror_view(v);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  for (size_t i = 0; i < h.extent(0); ++i) h(i) = u(rng);
  Kokkos::deep_copy(v, h);
}

int run_child(const Args& a) {
  const int B = a.batch, T = a.T, NH = a.heads, hd = a.hd, C = NH * hd, W = 3 * C;
  const int64_t N = int64_t(B) * T, TT = int64_t(B) * NH * T * T, rows = int64_t(B) * NH * T;
  const bool tiled = a.child == "tiled";
  View1<float> qkv("qkv", N * W), out("out", N * C), dout("dout", N * C), dqkv("dqkv", N * W);
  fill(qkv, 1, -2.f, 2.f);
  fill(dout, 2, -1.f, 1.f);
  Kokkos::deep_copy(out, 0.f);
  Kokkos::deep_copy(dqkv, 0.f);
  const double base = rss_mib();
  const AttentionShape shape{B, T, C, NH, true};
  const float p = float(a.pdrop);
  const RngKey key{1, 2, 3, 1};
  View1<float> att, attd, scratch, lse, delta;
  size_t bytes = 0;
  if (tiled) {
    lse = View1<float>("lse", rows);
    delta = View1<float>("delta", rows);
    bytes = 2 * rows * sizeof(float);
  } else {
    att = View1<float>("att", TT);
    attd = View1<float>("attd", p > 0 ? TT : 0);
    scratch = View1<float>("scratch", TT);
    bytes = (att.extent(0) + attd.extent(0) + scratch.extent(0)) * sizeof(float);
  }
  double fwd_ms = 0;  // of the last step
  auto step = [&] {
    Kokkos::deep_copy(dqkv, 0.f);
    const auto t0 = std::chrono::steady_clock::now();
    if (tiled) tiled_attention_forward<float>(out, lse, qkv, View1<int32_t>(), shape, p, key);
    else attention_forward<float>(out, att, attd, qkv, View1<int32_t>(), shape, p, key);
    Kokkos::fence();
    fwd_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (tiled) tiled_attention_backward<float>(dqkv, delta, dout, qkv, out, lse, View1<int32_t>(), shape, p, key);
    else attention_backward<float>(dqkv, scratch, dout, qkv, att, attd, shape, p, key);
    Kokkos::fence();
  };
  step();  // warm-up (touches every buffer)
  std::vector<double> ms, fms;
  for (int r = 0; r < a.repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    fms.push_back(fwd_ms);
  }
  std::sort(ms.begin(), ms.end());
  std::sort(fms.begin(), fms.end());
  // A checksum of the gradient, so both paths can be seen to compute the same thing.
  auto h = Kokkos::create_mirror_view(dqkv);
  Kokkos::deep_copy(h, dqkv);
  double sum = 0;
  for (size_t i = 0; i < h.extent(0); ++i) sum += std::abs(double(h(i)));
  const double peak = peak_rss_mib();
  std::printf(
      "{\"bench\":\"attention\",\"path\":\"%s\",\"B\":%d,\"T\":%d,\"heads\":%d,\"head_dim\":%d,\"pdrop\":%g,"
      "\"fwd_bwd_ms\":%.2f,\"fwd_ms\":%.2f,\"path_bytes\":%zu,\"peak_rss_mib\":%.1f,\"extra_rss_mib\":%.1f,\"dqkv_l1\":%.6e}\n",
      a.child.c_str(), B, T, NH, hd, a.pdrop, ms[ms.size() / 2], fms[fms.size() / 2], bytes, peak, peak - base, sum);
  return 0;
}

double field(const std::string& json, const std::string& key) {
  const size_t i = json.find("\"" + key + "\":");
  return i == std::string::npos ? -1 : std::atof(json.c_str() + i + key.size() + 3);
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_attention: %s needs a value\n", s.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (s == "--seq") {
      a.seqs.clear();
      std::stringstream ss(next());
      for (std::string t; std::getline(ss, t, ',');) a.seqs.push_back(std::atoi(t.c_str()));
    } else if (s == "--heads") a.heads = std::atoi(next().c_str());
    else if (s == "--hd") a.hd = std::atoi(next().c_str());
    else if (s == "--batch") a.batch = std::atoi(next().c_str());
    else if (s == "--pdrop") a.pdrop = std::atof(next().c_str());
    else if (s == "--repeats") a.repeats = std::max(1, std::atoi(next().c_str()));
    else if (s == "--child") a.child = next();
    else if (s == "--T") a.T = std::atoi(next().c_str());
    else {
      std::fprintf(stderr, "bench_attention: unknown argument '%s'\n", s.c_str());
      return 2;
    }
  }
  if (!a.child.empty()) {
    Kokkos::ScopeGuard guard(argc, argv);
    return run_child(a);
  }
  const char* blas = std::getenv("OPENBLAS_NUM_THREADS");
  std::printf("# one attention layer fwd+bwd, fp32, Kokkos %s, OPENBLAS_NUM_THREADS=%s\n",
              Kokkos::DefaultExecutionSpace::name(), blas ? blas : "(unset)");
  std::fflush(stdout);
  for (int T : a.seqs) {
    std::map<std::string, std::string> res;
    for (const char* path : {"materialized", "tiled"}) {
      const std::string cmd = std::string(argv[0]) + " --child " + path + " --T " + std::to_string(T) +
                              " --heads " + std::to_string(a.heads) + " --hd " + std::to_string(a.hd) +
                              " --batch " + std::to_string(a.batch) + " --pdrop " + std::to_string(a.pdrop) +
                              " --repeats " + std::to_string(a.repeats);
      FILE* f = popen(cmd.c_str(), "r");
      if (!f) {
        std::fprintf(stderr, "bench_attention: cannot run %s\n", cmd.c_str());
        return 1;
      }
      char buf[4096];
      std::string line;
      while (std::fgets(buf, sizeof buf, f))
        if (std::strstr(buf, "\"bench\":\"attention\"")) line = buf;
      if (pclose(f) != 0 || line.empty()) {
        std::fprintf(stderr, "bench_attention: child '%s' failed\n", cmd.c_str());
        return 1;
      }
      std::fputs(line.c_str(), stdout);
      std::fflush(stdout);
      res[path] = line;
    }
    const std::string &m = res["materialized"], &t = res["tiled"];
    std::printf(
        "{\"bench\":\"attention_ratio\",\"T\":%d,\"time_materialized_over_tiled\":%.3f,"
        "\"path_bytes_materialized_over_tiled\":%.1f,\"extra_rss_materialized_over_tiled\":%.2f,"
        "\"peak_rss_materialized_over_tiled\":%.2f,\"dqkv_l1_rel_diff\":%.2e}\n",
        T, field(m, "fwd_bwd_ms") / field(t, "fwd_bwd_ms"), field(m, "path_bytes") / field(t, "path_bytes"),
        field(m, "extra_rss_mib") / std::max(0.1, field(t, "extra_rss_mib")),
        field(m, "peak_rss_mib") / field(t, "peak_rss_mib"),
        std::abs(field(m, "dqkv_l1") - field(t, "dqkv_l1")) / field(m, "dqkv_l1"));
    std::fflush(stdout);
  }
  return 0;
}
