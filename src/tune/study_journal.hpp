// The study journal: <study dir>/journal.jsonl, an append-only JSON-lines log of
// every event (trial start, intermediate report, finish, release), the single
// source of truth shared by all groups of one job and by Slurm array tasks. Every
// read-decide-append runs under an exclusive flock(2), so two workers never take
// the same trial and the trial budget is respected exactly; lines are written with
// one write(2) each, and a torn last line (a writer killed mid-write) is skipped.
// Replaying the journal gives the trials and their states.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

namespace tessera {

enum class TrialState { Running, Complete, Pruned, Failed, Released };
const char* trial_state_name(TrialState s);

struct TrialInfo {
  int64_t number = -1;
  nlohmann::json params = nlohmann::json::object();
  TrialState state = TrialState::Running;
  std::string owner;     // the worker running it (host:pid:group)
  int group = -1;
  int attempts = 0;      // starts (a released trial is started again)
  double start_time = 0, end_time = 0, duration = 0;
  double value = 0;      // objective (complete/pruned)
  bool has_value = false;
  std::string message;   // failure or pruning reason
  uint64_t seed = 0;
  std::map<int64_t, nlohmann::json> reports;  // step → metrics
};

class StudyJournal {
 public:
  explicit StudyJournal(std::string path);
  const std::string& path() const { return path_; }
  // Locks the file, reads every record, calls f, appends the records f returns, unlocks.
  void transact(const std::function<std::vector<nlohmann::json>(const std::vector<nlohmann::json>&)>& f);
  void append(const nlohmann::json& record);
  std::vector<nlohmann::json> read();

 private:
  std::string path_;
};

// Trials by number, from the records.
std::vector<TrialInfo> replay_trials(const std::vector<nlohmann::json>& records);
int64_t finished_trials(const std::vector<TrialInfo>& trials);

}  // namespace tessera
