// Helpers for the tests that drive a real single-node Slurm (scripts/local_slurm.sh)
// and launch tessera out of process: a clean launch environment, a cluster guard
// that always stops the daemons, metrics.jsonl parsing.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include "test_support.hpp"

namespace tessera_test {

// "env -u <MPI singleton vars> OMPI_ALLOW_RUN_AS_ROOT=1 … " — prefix for commands
// that launch MPI jobs (or submit Slurm jobs, which inherit the environment).
inline std::string clean_env() {
  std::string cmd = "env";
  for (char** e = environ; e && *e; ++e) {
    std::string entry(*e);
    std::string name = entry.substr(0, entry.find('='));
    if (is_mpi_singleton_variable(name) || name.rfind("SLURM_", 0) == 0) cmd += " -u " + name;
  }
  return cmd + " OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1"
               " OMPI_MCA_plm=isolated OMPI_MCA_btl_vader_single_copy_mechanism=none ";
}

inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// A private Slurm cluster on its own ports; stopped by the destructor (also when
// an ASSERT returns early).
struct LocalSlurm {
  std::string env;  // "SLURM_LAB_PORT=… SLURM_LAB_DIR=… SLURM_CONF=…"
  bool up = false;
  std::string start_output;
  LocalSlurm(int port, int first_job_id) {
    const std::string dir = std::string(TESSERA_TEST_TMP) + "/slurm-lab-" + std::to_string(port);
    env = "SLURM_LAB_PORT=" + std::to_string(port) + " SLURM_LAB_DIR=" + dir +
          " SLURM_LAB_FIRST_JOB_ID=" + std::to_string(first_job_id) + " SLURM_LAB_CPUS=4 SLURM_CONF=" + dir + "/etc/slurm.conf ";
    auto r = run_command(clean_env() + env + script() + " start");
    start_output = r.output;
    up = r.exit_code == 0;
  }
  ~LocalSlurm() { run_command(clean_env() + env + script() + " stop"); }
  static std::string script() { return source_dir() + "/scripts/local_slurm.sh"; }
  // Runs a Slurm client command (sbatch, scancel, …) in `cwd` with extra environment.
  CommandResult run(const std::string& cwd, const std::string& extra_env, const std::string& cmd) const {
    return run_command("cd " + quote(cwd) + " && " + clean_env() + env + extra_env + " " + cmd);
  }
  // sbatch --parsable …; returns the job id ("" on failure, output in *out).
  std::string submit(const std::string& cwd, const std::string& extra_env, const std::string& args,
                     std::string* out = nullptr) const {
    auto r = run(cwd, extra_env, "sbatch --parsable " + args);
    if (out) *out = r.output;
    if (r.exit_code != 0) return "";
    std::string id = r.output;
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    auto nl = id.rfind('\n');
    if (nl != std::string::npos) id = id.substr(nl + 1);
    return id.substr(0, id.find(';'));
  }
  CommandResult wait(const std::string& id, int timeout_s = 180) const {
    return run_command(clean_env() + env + script() + " wait " + id + " " + std::to_string(timeout_s));
  }
};

// step → loss of the "train" records (the last record of a step wins: resumed runs append).
inline std::map<long, double> train_losses(const std::filesystem::path& metrics) {
  std::map<long, double> out;
  std::istringstream in(read_file(metrics));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || j.value("kind", "") != "train") continue;
    out[j["step"].get<long>()] = j["loss"].get<double>();
  }
  return out;
}

inline bool has_checkpoint(const std::filesystem::path& run_dir) {
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(run_dir / "checkpoints", ec))
    if (e.path().extension() == ".h5") return true;
  return false;
}

// Installs Slurm when missing (root) — false when it cannot be installed.
inline bool slurm_available(std::string* why) {
  auto r = run_command(LocalSlurm::script() + " install");
  if (why) *why = r.output;
  return r.exit_code == 0;
}

}  // namespace tessera_test
