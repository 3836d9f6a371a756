#include "src/train/early_stopping.hpp"
#include <cmath>
#include <limits>
#include <utility>
#include "src/runtime/error.hpp"

namespace tessera {

EarlyStopping::EarlyStopping(std::string metric, bool greater_is_better, int patience, double min_delta)
    : metric_(std::move(metric)),
      greater_is_better_(greater_is_better),
      patience_(patience),
      min_delta_(min_delta),
      best_value_(std::numeric_limits<double>::quiet_NaN()) {
  require(patience_ >= 1, "early stopping on '" + metric_ + "': patience must be >= 1 (got " +
                              std::to_string(patience_) + ")");
  require(min_delta_ >= 0.0 && std::isfinite(min_delta_),
          "early stopping on '" + metric_ + "': min_delta must be finite and >= 0");
}

bool EarlyStopping::update(int64_t step, double value) {
  ++evaluations_;
  if (!std::isfinite(value)) {
    ++bad_evaluations_;
    return false;
  }
  if (!has_best_) {
    has_best_ = true;
    best_value_ = value;
    best_step_ = step;
    bad_evaluations_ = 0;
    return true;
  }
  const bool better = greater_is_better_ ? value > best_value_ : value < best_value_;
  if (better && std::abs(value - best_value_) > min_delta_) bad_evaluations_ = 0;
  else ++bad_evaluations_;
  if (better) {
    best_value_ = value;
    best_step_ = step;
  }
  return better;
}

std::map<std::string, double> EarlyStopping::save() const {
  return {{"best_value", best_value_},
          {"best_step", double(best_step_)},
          {"has_best", has_best_ ? 1.0 : 0.0},
          {"bad_evaluations", double(bad_evaluations_)},
          {"evaluations", double(evaluations_)},
          {"greater_is_better", greater_is_better_ ? 1.0 : 0.0}};
}

void EarlyStopping::restore(const std::map<std::string, double>& state) {
  auto get = [&](const char* key) {
    auto it = state.find(key);
    require(it != state.end(), "early stopping on '" + metric_ + "': checkpoint state has no '" + key + "'");
    return it->second;
  };
  const bool gib = get("greater_is_better") != 0.0;
  require(gib == greater_is_better_, "early stopping on '" + metric_ + "': checkpoint was saved with greater_is_better = " +
                                         (gib ? "true" : "false") + ", config says " +
                                         (greater_is_better_ ? "true" : "false"));
  const double bad = get("bad_evaluations"), evals = get("evaluations"), best_step = get("best_step");
  require(bad >= 0 && evals >= bad && std::floor(bad) == bad && std::floor(evals) == evals,
          "early stopping on '" + metric_ + "': checkpoint state has inconsistent evaluation counts");
  has_best_ = get("has_best") != 0.0;
  best_value_ = has_best_ ? get("best_value") : std::numeric_limits<double>::quiet_NaN();
  best_step_ = has_best_ ? int64_t(best_step) : -1;
  bad_evaluations_ = int(bad);
  evaluations_ = int64_t(evals);
}

bool metric_is_greater_better(const std::string& name) {
  std::string base = name;
  for (const char* prefix : {"eval_", "validation_"})
    if (base.rfind(prefix, 0) == 0) base = base.substr(std::string(prefix).size());
  for (const char* n : {"accuracy", "f1", "macro_f1", "micro_f1", "weighted_f1", "entity_f1", "exact_match", "bleu"})
    if (base == n) return true;
  if (base == "perplexity") return false;
  const std::string loss = "loss";
  if (base.size() >= loss.size() && base.compare(base.size() - loss.size(), loss.size(), loss) == 0) return false;
  throw Error("metric '" + name + "': direction unknown; known metrics are loss (and *loss), perplexity "
              "(lower is better), accuracy, f1, macro_f1, micro_f1, weighted_f1, entity_f1, exact_match, bleu "
              "(higher is better)");
}

}  // namespace tessera
