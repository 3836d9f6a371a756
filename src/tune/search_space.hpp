// The search space of a study: run-config keys (dotted names) with a float
// (uniform or log), int (step, log) or categorical domain, optionally conditional
// (sampled only when another parameter has one of given values). A point is a
// JSON object {key: value} holding the active parameters only. Samplers work in
// the unit cube: numeric parameters map to one coordinate in [0, 1] (log-scaled
// for log domains), categoricals to one-hot blocks.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

namespace tessera {

enum class ParamKind { Float, Int, Categorical };

struct Param {
  std::string name;          // dotted run-config key, e.g. "optim.lr"
  ParamKind kind = ParamKind::Float;
  double low = 0, high = 1;  // Float / Int bounds (inclusive)
  bool log = false;
  int64_t step = 1;          // Int
  std::vector<nlohmann::json> choices;  // Categorical
  std::string parent;        // "" = unconditional; else active only when point[parent] ∈ parent_values
  std::vector<nlohmann::json> parent_values;
};

class SearchSpace {
 public:
  SearchSpace() = default;
  // params must be ordered so that parents come before their children.
  explicit SearchSpace(std::vector<Param> params);
  const std::vector<Param>& params() const { return params_; }
  size_t size() const { return params_.size(); }

  // Is p active, given the values of the parameters before it in `point`?
  bool active(const Param& p, const nlohmann::json& point) const;
  // A uniformly random point (log-uniform for log domains).
  nlohmann::json sample(std::mt19937_64& rng) const;
  // One random value of p.
  nlohmann::json sample_value(const Param& p, std::mt19937_64& rng) const;
  // Keeps only the active parameters, sampling active ones that are missing.
  nlohmann::json complete(nlohmann::json point, std::mt19937_64& rng) const;

  // Unit-cube encoding (inactive parameters: 0.5, resp. an all-zero one-hot block).
  int dims() const { return dims_; }
  std::vector<double> encode(const nlohmann::json& point) const;
  // Nearest valid point: ints rounded to their step, categoricals by argmax, inactive dropped.
  nlohmann::json decode(const std::vector<double>& u) const;
  double to_unit(const Param& p, double value) const;
  double from_unit(const Param& p, double u) const;  // Float/Int, not rounded
  nlohmann::json snap(const Param& p, double value) const;  // rounded (Int) and clamped
  int offset(size_t i) const { return offsets_[i]; }

 private:
  std::vector<Param> params_;
  std::vector<int> offsets_;
  int dims_ = 0;
};

}  // namespace tessera
