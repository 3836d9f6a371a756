// What a study leaves in its directory: trials.jsonl (one line per trial:
// parameters, every intermediate metric, state, duration, group, seed), best.toml
// (the best trial's complete run config, runnable by `tessera train`), and PNG
// plots drawn by scripts/tools/tune_plots.py (Debian python3 + matplotlib): best so far
// vs trials, parallel coordinates, parameter importance, timeline per group.
#pragma once
#include <string>
#include <vector>
#include "src/tune/study_file.hpp"
#include "src/tune/study_journal.hpp"

namespace tessera {

// Index of the best finished trial with a value (complete preferred over pruned); -1 = none.
int64_t best_trial(const StudySpec& spec, const std::vector<TrialInfo>& trials);

// Writes trials.jsonl and best.toml (atomically) and runs the plot script when found.
void write_study_outputs(const StudySpec& spec, const std::vector<TrialInfo>& trials, bool plots);

// "trial 3 complete | macro_f1 0.81 | best 0.83 (trial 1) | optim.lr 3e-05 … | 41.2 s | group 1"
std::string trial_line(const StudySpec& spec, const TrialInfo& t, const std::vector<TrialInfo>& trials);

}  // namespace tessera
