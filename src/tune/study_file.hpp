// The study file of `tessera tune` (docs/tune.md): [study] (base config,
// objective, direction, budget, sampler, pruner, ranks_per_trial, …),
// [sampler] and [pruner] settings, and [space."section.key"] tables — one per
// searched run-config key. Strict: unknown keys, empty or inverted ranges, log
// ranges touching 0, categoricals without choices, bad conditions are errors
// naming the study file and the key.
#pragma once
#include <string>
#include <nlohmann/json.hpp>
#include "src/config/run_config.hpp"
#include "src/tune/pruner.hpp"
#include "src/tune/sampler.hpp"
#include "src/tune/search_space.hpp"

namespace tessera {

struct StudySpec {
  std::string path;            // the study file
  std::string name;
  std::string dir;             // study directory (journal, trials, outputs)
  std::string base_config;     // run config every trial starts from
  std::string base_text;       // its TOML text
  RunConfig base;              // parsed
  std::string objective;       // a metric `eval` reports: loss, perplexity, accuracy, macro_f1, …
  bool maximize = false;
  int64_t trials = 0;          // budget: finished trials (0 = until max_time_s)
  double max_time_s = 0;       // budget: wall time of this job (0 = none)
  int ranks_per_trial = 1;
  uint64_t seed = 0;
  double lease_s = 60;         // a running trial whose worker has not been seen for this long is re-run
  bool keep_checkpoints = false;
  SamplerSettings sampler;
  PrunerSettings pruner;
  SearchSpace space;
};

StudySpec load_study(const std::string& path);
StudySpec parse_study(const std::string& text, const std::string& path);

// Checks ranks_per_trial against the job's world size (error names the study file).
void check_world_size(const StudySpec& s, int world_size);

// The complete run-config TOML of a trial: the base config with the sampled keys
// (and run.dir) replaced; parse_run_config accepts it, `tessera train` runs it.
std::string trial_toml(const StudySpec& s, const nlohmann::json& params, const std::string& run_dir);

}  // namespace tessera
