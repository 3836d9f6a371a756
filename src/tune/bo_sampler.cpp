// Bayesian optimisation (Jones, Schonlau & Welch 1998, "Efficient Global
// Optimization"; Snoek, Larochelle & Adams 2012, "Practical Bayesian Optimization
// of Machine Learning Algorithms"): a Matérn-5/2 ARD Gaussian process on the
// unit-cube encoding (log parameters log-scaled, categoricals one-hot), targets
// standardised, hyperparameters by maximum marginal likelihood with restarts;
// the next point maximises log-EI by multi-start local search. Concurrent trials:
// running points enter the GP with a lie (Ginsbourger, Le Riche & Carraro 2010,
// "Kriging Is Well-Suited to Parallelize Optimization": constant liar with the
// worst/mean/best observed value, or kriging believer = the posterior mean), so
// the next proposal moves away from them.
#include <algorithm>
#include <cmath>
#include <numeric>
#include "src/tune/gaussian_process.hpp"
#include "src/tune/sampler.hpp"

namespace tessera {

namespace {

class BoSampler : public Sampler {
 public:
  explicit BoSampler(const SamplerSettings& s) : s_(s) {}

  nlohmann::json propose(const SearchSpace& space, const SamplerInput& in, std::mt19937_64& rng) override {
    if (int(in.observed.size()) < s_.n_startup_trials) return make_random_sampler()->propose(space, in, rng);
    const int d = space.dims();
    std::vector<double> X, y;
    for (const auto& o : in.observed) {
      const auto u = space.encode(o.params);
      X.insert(X.end(), u.begin(), u.end());
      y.push_back(o.score);
    }
    const double mean = std::accumulate(y.begin(), y.end(), 0.0) / double(y.size());
    double var = 0;
    for (double v : y) var += (v - mean) * (v - mean);
    const double sd = var > 0 ? std::sqrt(var / double(y.size())) : 1.0;
    for (double& v : y) v = (v - mean) / sd;
    const double best = *std::max_element(y.begin(), y.end());
    const GPHyper h = fit_gp_hyper(X, y, d, s_.restarts, rng);
    // Batch: running points with their lie (the kriging believer one at a time).
    for (const auto& r : in.running) {
      const auto u = space.encode(r);
      double lie;
      if (s_.liar == "kriging") {
        GaussianProcess gp(X, y, d, h);
        double m, v;
        gp.predict(u.data(), m, v);
        lie = m;
      } else if (s_.liar == "best") {
        lie = *std::max_element(y.begin(), y.end());
      } else if (s_.liar == "mean") {
        lie = std::accumulate(y.begin(), y.end(), 0.0) / double(y.size());
      } else {
        lie = *std::min_element(y.begin(), y.end());
      }
      X.insert(X.end(), u.begin(), u.end());
      y.push_back(lie);
    }
    GaussianProcess gp(X, y, d, h);
    auto acquisition = [&](const nlohmann::json& x) {
      if (already_tried(x, in)) return double(-INFINITY);
      const auto u = space.encode(x);
      double m, v;
      gp.predict(u.data(), m, v);
      return log_expected_improvement(m, std::sqrt(v), best, s_.xi);
    };
    // Candidates: random points and mutations of the best observed ones.
    std::vector<std::pair<double, nlohmann::json>> cands;
    for (int i = 0; i < s_.candidates; ++i) {
      nlohmann::json x = space.sample(rng);
      cands.emplace_back(acquisition(x), x);
    }
    std::vector<size_t> order(in.observed.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return in.observed[a].score > in.observed[b].score; });
    for (size_t k = 0; k < std::min<size_t>(order.size(), 5); ++k)
      for (int i = 0; i < 20; ++i) {
        nlohmann::json x = ga_mutate(space, in.observed[order[k]].params, 0.5, 0.05, rng);
        cands.emplace_back(acquisition(x), x);
      }
    std::sort(cands.begin(), cands.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    // Local search from the best candidates: accept improving neighbours, shrink the step on failure.
    double best_acq = -INFINITY;
    nlohmann::json best_x;
    for (int s = 0; s < std::min<int>(s_.local_starts, int(cands.size())); ++s) {
      nlohmann::json x = cands[size_t(s)].second;
      double fx = cands[size_t(s)].first;
      double step = 0.1;
      int fails = 0;
      for (int it = 0; it < 60 && step > 1e-3; ++it) {
        nlohmann::json nx = ga_mutate(space, x, std::max(0.3, 1.0 / double(space.size())), step, rng);
        const double f = acquisition(nx);
        if (f > fx) {
          x = nx, fx = f, fails = 0;
        } else if (++fails >= 8) {
          step *= 0.5, fails = 0;
        }
      }
      if (fx > best_acq) best_acq = fx, best_x = x;
    }
    if (best_x.is_null() || !std::isfinite(best_acq)) return make_random_sampler()->propose(space, in, rng);
    return best_x;
  }

 private:
  SamplerSettings s_;
};

}  // namespace

std::unique_ptr<Sampler> make_bo_sampler(const SamplerSettings& s) { return std::make_unique<BoSampler>(s); }

}  // namespace tessera
