// Early stopping on a validation metric, with Hugging Face EarlyStoppingCallback semantics
// (early_stopping_patience = patience, early_stopping_threshold = min_delta):
//   - the first finite value is the best, and resets the bad-evaluation count;
//   - a later value v resets the count to 0 only when it beats the best by more than min_delta
//     (v < best − min_delta for a loss, v > best + min_delta when greater_is_better); otherwise the count grows by 1;
//   - the best value/step follow every strict improvement, even one within min_delta (as HF's
//     state.best_metric does for load_best_model_at_end), so update() returns true for it while the count
//     still grows;
//   - should_stop() is true once `patience` consecutive evaluations did not reset the count.
// A non-finite value (NaN, ±inf) counts as not improving and never becomes the best — unlike HF, where a
// NaN first value becomes best_metric and nothing can improve on it afterwards.
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace tessera {

class EarlyStopping {
 public:
  // patience >= 1, min_delta >= 0 (errors otherwise, naming the metric).
  EarlyStopping(std::string metric, bool greater_is_better, int patience, double min_delta);

  // Records the evaluation at `step`; returns true when `value` is the new best.
  bool update(int64_t step, double value);

  bool should_stop() const { return bad_evaluations_ >= patience_; }
  bool has_best() const { return has_best_; }
  int64_t best_step() const { return best_step_; }      // -1 before the first finite value
  double best_value() const { return best_value_; }      // NaN before the first finite value
  int bad_evaluations() const { return bad_evaluations_; }
  int64_t evaluations() const { return evaluations_; }
  const std::string& metric() const { return metric_; }
  bool greater_is_better() const { return greater_is_better_; }

  // Checkpoint state: keys best_value, best_step, has_best, bad_evaluations, evaluations, greater_is_better.
  // patience and min_delta come from the (possibly changed) config on restore; a changed direction is an error.
  std::map<std::string, double> save() const;
  void restore(const std::map<std::string, double>& state);

 private:
  std::string metric_;
  bool greater_is_better_;
  int patience_;
  double min_delta_;
  bool has_best_ = false;
  double best_value_;
  int64_t best_step_ = -1;
  int bad_evaluations_ = 0;
  int64_t evaluations_ = 0;
};

// Direction of a metric: loss / perplexity (and any name ending in "loss") → false; accuracy, f1, macro_f1,
// micro_f1, weighted_f1, entity_f1, exact_match, bleu → true. An "eval_" or "validation_" prefix is ignored
// (HF names eval metrics eval_<name>). Any other name is an error listing the known ones.
bool metric_is_greater_better(const std::string& name);

}  // namespace tessera
