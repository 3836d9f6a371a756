#include "src/tune/search_space.hpp"
#include <algorithm>
#include <cmath>

namespace tessera {

SearchSpace::SearchSpace(std::vector<Param> params) : params_(std::move(params)) {
  for (const Param& p : params_) {
    offsets_.push_back(dims_);
    dims_ += p.kind == ParamKind::Categorical ? int(p.choices.size()) : 1;
  }
}

bool SearchSpace::active(const Param& p, const nlohmann::json& point) const {
  if (p.parent.empty()) return true;
  if (!point.contains(p.parent)) return false;
  const nlohmann::json& v = point.at(p.parent);
  return std::find(p.parent_values.begin(), p.parent_values.end(), v) != p.parent_values.end();
}

double SearchSpace::to_unit(const Param& p, double x) const {
  const double lo = p.log ? std::log(p.low) : p.low, hi = p.log ? std::log(p.high) : p.high;
  const double v = p.log ? std::log(std::max(x, p.low)) : x;
  return hi > lo ? std::clamp((v - lo) / (hi - lo), 0.0, 1.0) : 0.5;
}

double SearchSpace::from_unit(const Param& p, double u) const {
  u = std::clamp(u, 0.0, 1.0);
  if (p.log) return std::clamp(std::exp(std::log(p.low) + u * (std::log(p.high) - std::log(p.low))), p.low, p.high);
  return std::clamp(p.low + u * (p.high - p.low), p.low, p.high);
}

nlohmann::json SearchSpace::snap(const Param& p, double x) const {
  x = std::clamp(x, p.low, p.high);
  if (p.kind == ParamKind::Float) return x;
  const int64_t lo = int64_t(p.low);
  const int64_t n = int64_t(std::llround((x - double(lo)) / double(p.step)));
  int64_t v = lo + n * p.step;
  while (v > int64_t(p.high)) v -= p.step;
  return std::max(v, lo);
}

nlohmann::json SearchSpace::sample_value(const Param& p, std::mt19937_64& rng) const {
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  if (p.kind == ParamKind::Categorical) {
    std::uniform_int_distribution<size_t> pick(0, p.choices.size() - 1);
    return p.choices[pick(rng)];
  }
  if (p.kind == ParamKind::Int && !p.log) {  // uniform over the grid low, low+step, ...
    const int64_t n = (int64_t(p.high) - int64_t(p.low)) / p.step;
    std::uniform_int_distribution<int64_t> pick(0, n);
    return int64_t(p.low) + pick(rng) * p.step;
  }
  if (p.kind == ParamKind::Int) {  // log-uniform over [low - 0.5, high + 0.5], rounded
    const double lo = std::log(p.low - 0.5 + 1e-9), hi = std::log(p.high + 0.5);
    return snap(p, std::exp(lo + u01(rng) * (hi - lo)));
  }
  return from_unit(p, u01(rng));
}

nlohmann::json SearchSpace::sample(std::mt19937_64& rng) const { return complete(nlohmann::json::object(), rng); }

nlohmann::json SearchSpace::complete(nlohmann::json point, std::mt19937_64& rng) const {
  nlohmann::json out = nlohmann::json::object();
  for (const Param& p : params_) {
    if (!active(p, out)) continue;
    out[p.name] = point.contains(p.name) ? point[p.name] : sample_value(p, rng);
  }
  return out;
}

std::vector<double> SearchSpace::encode(const nlohmann::json& point) const {
  std::vector<double> u(size_t(dims_), 0.0);
  for (size_t i = 0; i < params_.size(); ++i) {
    const Param& p = params_[i];
    const int o = offsets_[i];
    const bool on = point.contains(p.name);
    if (p.kind == ParamKind::Categorical) {
      if (!on) continue;
      for (size_t c = 0; c < p.choices.size(); ++c)
        if (p.choices[c] == point.at(p.name)) u[size_t(o) + c] = 1.0;
    } else {
      u[size_t(o)] = on ? to_unit(p, point.at(p.name).get<double>()) : 0.5;
    }
  }
  return u;
}

nlohmann::json SearchSpace::decode(const std::vector<double>& u) const {
  nlohmann::json out = nlohmann::json::object();
  for (size_t i = 0; i < params_.size(); ++i) {
    const Param& p = params_[i];
    if (!active(p, out)) continue;
    const int o = offsets_[i];
    if (p.kind == ParamKind::Categorical) {
      size_t best = 0;
      for (size_t c = 1; c < p.choices.size(); ++c)
        if (u[size_t(o) + c] > u[size_t(o) + best]) best = c;
      out[p.name] = p.choices[best];
    } else {
      out[p.name] = snap(p, from_unit(p, u[size_t(o)]));
    }
  }
  return out;
}

}  // namespace tessera
