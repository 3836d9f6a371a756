// Samplers of `tessera tune` on standard test functions (minimisation): Branin
// (2-d, f* = 0.397887), Hartmann-6 (6-d, f* = −3.32237) and noisy Branin (Gaussian
// noise σ = 1 on every evaluation; reported: the true value of the point with the
// best noisy observation — what a user would pick). For each sampler (random, bo,
// ga) and seed: the best value after k evaluations, k = 1..budget. One JSON line
// per (function, sampler) with the mean/median over seeds at every k and the
// seconds spent proposing. scripts/tools/bench_tune_optuna.py gives Optuna's
// samplers in the same format; scripts/bench.sh tune runs both.
//   bench_tune [--seeds 20] [--budget 30] [--samplers random,bo,ga] [--functions branin,hartmann6,noisy_branin]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include "src/tune/sampler.hpp"

using namespace tessera;

namespace {

double branin(const std::vector<double>& x) {
  const double b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, t = 1 / (8 * M_PI);
  return std::pow(x[1] - b * x[0] * x[0] + c * x[0] - 6, 2) + 10 * (1 - t) * std::cos(x[0]) + 10;
}

double hartmann6(const std::vector<double>& x) {
  static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8}, {0.05, 10, 17, 0.1, 8, 14}, {3, 3.5, 1.7, 10, 17, 8},
                                 {17, 8, 0.05, 10, 0.1, 14}};
  static const double P[4][6] = {{1312, 1696, 5569, 124, 8283, 5886}, {2329, 4135, 8307, 3736, 1004, 9991},
                                 {2348, 1451, 3522, 2883, 3047, 6650}, {4047, 8828, 8732, 5743, 1091, 381}};
  static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
  double s = 0;
  for (int i = 0; i < 4; ++i) {
    double e = 0;
    for (int j = 0; j < 6; ++j) e += A[i][j] * std::pow(x[size_t(j)] - 1e-4 * P[i][j], 2);
    s += alpha[i] * std::exp(-e);
  }
  return -s;
}

struct Problem {
  std::string name;
  std::vector<std::pair<double, double>> bounds;
  double (*f)(const std::vector<double>&);
  double noise;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, ',');) out.push_back(x);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int seeds = 20, budget = 30;
  std::string samplers = "random,bo,ga", functions = "branin,hartmann6,noisy_branin";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seeds")) seeds = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--budget")) budget = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--samplers")) samplers = argv[i + 1];
    else if (!std::strcmp(argv[i], "--functions")) functions = argv[i + 1];
  }
  const std::vector<Problem> all = {{"branin", {{-5, 10}, {0, 15}}, branin, 0.0},
                                    {"hartmann6", std::vector<std::pair<double, double>>(6, {0.0, 1.0}), hartmann6, 0.0},
                                    {"noisy_branin", {{-5, 10}, {0, 15}}, branin, 1.0}};
  for (const std::string& fname : split(functions)) {
    const Problem* pb = nullptr;
    for (const auto& p : all)
      if (p.name == fname) pb = &p;
    if (!pb) {
      std::fprintf(stderr, "bench_tune: unknown function %s\n", fname.c_str());
      return 2;
    }
    std::vector<Param> ps;
    for (size_t d = 0; d < pb->bounds.size(); ++d)
      ps.push_back(Param{"x" + std::to_string(d), ParamKind::Float, pb->bounds[d].first, pb->bounds[d].second});
    const SearchSpace space(ps);
    for (const std::string& kind : split(samplers)) {
      SamplerSettings st;
      st.kind = kind;
      std::vector<std::vector<double>> curves;
      double propose_s = 0;
      for (int seed = 1; seed <= seeds; ++seed) {
        auto sampler = make_sampler(st);
        std::mt19937_64 rng(uint64_t(seed) * 7919);
        std::normal_distribution<double> noise(0.0, 1.0);
        SamplerInput in;
        std::vector<double> curve;
        double best_obs = INFINITY, best_true = INFINITY;
        for (int k = 0; k < budget; ++k) {
          in.trial_number = k;
          const auto t0 = std::chrono::steady_clock::now();
          const nlohmann::json x = sampler->propose(space, in, rng);
          propose_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          std::vector<double> v;
          for (size_t d = 0; d < pb->bounds.size(); ++d) v.push_back(x["x" + std::to_string(d)].get<double>());
          const double truth = pb->f(v), obs = truth + pb->noise * noise(rng);
          if (obs < best_obs) best_obs = obs, best_true = truth;
          curve.push_back(best_true);
          in.observed.push_back({x, -obs});
          in.tried.push_back(x);
        }
        curves.push_back(curve);
      }
      nlohmann::json mean = nlohmann::json::array(), median = nlohmann::json::array();
      for (int k = 0; k < budget; ++k) {
        std::vector<double> at;
        for (const auto& c : curves) at.push_back(c[size_t(k)]);
        std::sort(at.begin(), at.end());
        double m = 0;
        for (double a : at) m += a;
        mean.push_back(m / double(at.size()));
        median.push_back(at.size() % 2 ? at[at.size() / 2] : 0.5 * (at[at.size() / 2 - 1] + at[at.size() / 2]));
      }
      nlohmann::json finals = nlohmann::json::array();
      for (const auto& c : curves) finals.push_back(c.back());
      std::printf("%s\n", nlohmann::json({{"bench", "tune"}, {"library", "tessera"}, {"function", fname},
                                          {"sampler", kind}, {"seeds", seeds}, {"budget", budget},
                                          {"mean_best", mean}, {"median_best", median}, {"final", finals},
                                          {"propose_seconds", propose_s}})
                                .dump()
                                .c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}
