// Rank 0's training log: one human line per step on stdout and the same record as
// a JSON line in <run.dir>/metrics.jsonl (the format plots and benchmarks share).
// A progress bar is drawn only when stdout is a terminal.
#pragma once
#include <cstdio>
#include <fstream>
#include <string>
#include <nlohmann/json.hpp>

namespace tessera {

class StepLog {
 public:
  // console_path: "" = human lines on stdout; else appended to that file (tune trials).
  StepLog(const std::string& jsonl_path, bool enabled, int64_t total_steps, const std::string& console_path = "");
  ~StepLog();
  StepLog(const StepLog&) = delete;
  StepLog& operator=(const StepLog&) = delete;
  // Writes a record; kind is "train", "eval", "checkpoint", "summary"...
  void record(const std::string& kind, nlohmann::json fields);
  // extra: more fields for the JSON record (phase times, communication, memory).
  void train_step(int64_t step, double loss, double lr, double grad_norm, double tokens_per_s, double gflops,
                  double mfu, double step_ms, const nlohmann::json& extra = nlohmann::json::object());
  void eval(int64_t step, const std::string& split, double loss);
  void message(const std::string& text);
  bool enabled() const { return enabled_; }

 private:
  void progress(int64_t step);
  std::FILE* out() const { return console_ ? console_ : stdout; }
  std::FILE* console_ = nullptr;
  bool enabled_;
  bool tty_;
  int64_t total_steps_;
  std::ofstream jsonl_;
};

}  // namespace tessera
