// Pruners: stop a trial early from its intermediate evaluations.
//  - median stopping rule (Golovin et al. 2017, "Google Vizier"): at step s, stop
//    when the trial's best value so far is worse than the median of the other
//    trials' values at s (after n_startup_trials finished and n_warmup_steps);
//  - ASHA (Li et al. 2020, "A System for Massively Parallel Hyperparameter
//    Tuning"): rungs at evaluation steps min_resource·η^k; a trial reaching a rung
//    continues only when its value is among the top ⌊n/η⌋ (at least 1) of the n
//    trials that reached that rung so far — asynchronous, never waits for a rung to fill.
// Values are oriented so that larger is better.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tessera {

struct PrunerSettings {
  std::string kind = "none";  // none | median | asha
  int64_t min_resource = 1;   // asha: first rung (steps)
  int reduction_factor = 3;   // asha: η
  int n_startup_trials = 3;   // median
  int64_t n_warmup_steps = 0; // median
  bool maximize = true;       // only for the reason's numbers (shown in the objective's own sign)
};

// One trial's intermediate values: step → value (larger = better).
using Curve = std::map<int64_t, double>;

struct PruneDecision {
  bool prune = false;
  std::string reason;  // why (recorded with the pruned trial)
};

// Decides for `mine` at `step` against the other trials' curves (finished or running).
PruneDecision decide_prune(const PrunerSettings& s, const Curve& mine, int64_t step, const std::vector<Curve>& others,
                           int finished_trials);

// ASHA: is `value` within the top ⌊n/η⌋ (≥ 1) of rung_values (which include it)?
bool asha_promotes(const std::vector<double>& rung_values, double value, int eta);

}  // namespace tessera
