#include "src/tune/pruner.hpp"
#include <algorithm>
#include <cmath>
#include <sstream>

namespace tessera {

bool asha_promotes(const std::vector<double>& rung, double value, int eta) {
  const size_t k = std::max<size_t>(1, rung.size() / size_t(std::max(2, eta)));
  size_t better = 0;
  for (double v : rung)
    if (v > value) ++better;
  return better < k;
}

namespace {

std::string format_value(double x) {
  std::ostringstream s;
  s.precision(5);
  s << x;
  return s.str();
}

// The value a curve has at `step` (the last evaluation at or before it); NaN if none.
double value_at(const Curve& c, int64_t step) {
  auto it = c.upper_bound(step);
  if (it == c.begin()) return NAN;
  return std::prev(it)->second;
}

}  // namespace

PruneDecision decide_prune(const PrunerSettings& s, const Curve& mine, int64_t step, const std::vector<Curve>& others,
                           int finished_trials) {
  PruneDecision d;
  if (s.kind == "none" || mine.empty()) return d;
  auto fmt = [&](double x) { return format_value(s.maximize ? x : -x); };
  const double v = mine.rbegin()->second;
  if (s.kind == "median") {
    if (finished_trials < s.n_startup_trials || step <= s.n_warmup_steps) return d;
    double best = -INFINITY;
    for (const auto& [st, x] : mine) best = std::max(best, x);
    std::vector<double> at;
    for (const Curve& c : others) {
      const auto it = c.find(step);
      if (it != c.end()) at.push_back(it->second);
    }
    if (at.empty()) return d;
    std::sort(at.begin(), at.end());
    const double median = at.size() % 2 ? at[at.size() / 2] : 0.5 * (at[at.size() / 2 - 1] + at[at.size() / 2]);
    if (best < median) {
      d.prune = true;
      d.reason = "median rule at step " + std::to_string(step) + ": best so far " + fmt(best) + " < median " +
                 fmt(median) + " of " + std::to_string(at.size()) + " trials";
    }
    return d;
  }
  // ASHA: only at rung steps r·η^k.
  const int eta = std::max(2, s.reduction_factor);
  int64_t rung_step = std::max<int64_t>(1, s.min_resource);
  int rung = 0;
  while (rung_step < step) rung_step *= eta, ++rung;
  if (rung_step != step) return d;
  std::vector<double> values = {v};
  for (const Curve& c : others) {
    const double x = value_at(c, step);
    if (!std::isnan(x) && c.rbegin()->first >= step) values.push_back(x);
  }
  if (!asha_promotes(values, v, eta)) {
    d.prune = true;
    d.reason = "asha rung " + std::to_string(rung) + " (step " + std::to_string(step) + "): " + fmt(v) +
               " not in the top 1/" + std::to_string(eta) + " of " + std::to_string(values.size()) + " trials";
  }
  return d;
}

}  // namespace tessera
