#include "src/train/step_log.hpp"
#include <unistd.h>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include "src/runtime/error.hpp"

namespace tessera {

StepLog::StepLog(const std::string& path, bool enabled, int64_t total_steps, const std::string& console_path)
    // mpirun forwards output through a pseudo-terminal, so isatty() is true even when
    // the job's output goes to a file: no progress bar under a launcher.
    : enabled_(enabled),
      tty_(enabled && isatty(STDOUT_FILENO) && !std::getenv("OMPI_COMM_WORLD_SIZE") && !std::getenv("PMI_RANK") &&
           !std::getenv("SLURM_JOB_ID")),
      total_steps_(total_steps) {
  if (!enabled_) return;
  if (!console_path.empty()) {
    console_ = std::fopen(console_path.c_str(), "a");
    require(console_ != nullptr, "cannot write the training log '" + console_path + "'");
    tty_ = false;
  }
  jsonl_.open(path, std::ios::app);
  require(jsonl_.good(), "cannot write the metrics log '" + path + "'");
}

StepLog::~StepLog() {
  if (console_) std::fclose(console_);
}

void StepLog::record(const std::string& kind, nlohmann::json fields) {
  if (!enabled_) return;
  fields["kind"] = kind;
  fields["time"] = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  // Invalid UTF-8 (a generated sample cut inside a character) becomes U+FFFD, never a throw.
  jsonl_ << fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  jsonl_.flush();
}

void StepLog::train_step(int64_t step, double loss, double lr, double grad_norm, double tokens_per_s, double gflops,
                         double mfu, double step_ms, const nlohmann::json& extra) {
  if (!enabled_) return;
  if (tty_) std::fprintf(out(), "\r\033[K");
  std::fprintf(out(), "step %6lld/%lld | loss %.4f | lr %.3e | grad_norm %.4f | %.0f tok/s | %.1f GFLOP/s | MFU %.1f%% | %.0f ms\n",
              (long long)step, (long long)total_steps_, loss, lr, grad_norm, tokens_per_s, gflops, 100.0 * mfu, step_ms);
  nlohmann::json r = {{"step", step},         {"loss", loss},     {"lr", lr},    {"grad_norm", grad_norm},
                      {"tokens_per_s", tokens_per_s}, {"gflops", gflops}, {"mfu", mfu}, {"step_ms", step_ms}};
  for (auto it = extra.begin(); it != extra.end(); ++it) r[it.key()] = it.value();
  record("train", r);
  progress(step);
}

void StepLog::eval(int64_t step, const std::string& split, double loss) {
  if (!enabled_) return;
  if (tty_) std::fprintf(out(), "\r\033[K");
  std::fprintf(out(), "eval  %6lld | %s loss %.4f | perplexity %.3f\n", (long long)step, split.c_str(), loss, std::exp(loss));
  record("eval", {{"step", step}, {"split", split}, {"loss", loss}, {"perplexity", std::exp(loss)}});
  progress(step);
}

void StepLog::message(const std::string& text) {
  if (!enabled_) return;
  if (tty_) std::fprintf(out(), "\r\033[K");
  std::fprintf(out(), "%s\n", text.c_str());
  std::fflush(out());
}

void StepLog::progress(int64_t step) {
  if (!tty_ || total_steps_ <= 0) {
    std::fflush(out());
    return;
  }
  const int width = 40;
  const int filled = int(width * double(step) / double(total_steps_));
  std::fprintf(out(), "[%s%s] %lld/%lld", std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
              (long long)step, (long long)total_steps_);
  std::fflush(out());
}

}  // namespace tessera
