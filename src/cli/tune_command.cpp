#include "src/cli/tune_command.hpp"
#include <CLI/CLI.hpp>
#include <string>
#include "src/tune/study_file.hpp"
#include "src/tune/study_runner.hpp"

namespace tessera {

namespace {
struct TuneOptions {
  CLI::App* cmd = nullptr;
  std::string study;
  std::string study_dir;
};
TuneOptions& options() {
  static TuneOptions o;
  return o;
}
}  // namespace

void register_tune(CLI::App& app) {
  TuneOptions& o = options();
  o.cmd = app.add_subcommand("tune", "Hyperparameter / architecture search over run-config keys (docs/tune.md)");
  o.cmd->add_option("study", o.study, "study file (TOML)")->required();
  o.cmd->add_option("--study-dir", o.study_dir, "override study.dir (journal, trials, outputs)");
}

int run_tune(MPI_Comm comm) {
  const TuneOptions& o = options();
  if (!o.cmd || !o.cmd->parsed()) return -1;
  StudySpec spec = load_study(o.study);
  if (!o.study_dir.empty()) spec.dir = o.study_dir;
  return run_study(spec, comm);
}

}  // namespace tessera
