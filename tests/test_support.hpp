// Small shared helpers for tests: paths, running the CLI, temp dirs.
#pragma once
#include <sys/wait.h>
#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace tessera_test {

inline std::string source_dir() { return TESSERA_SOURCE_DIR; }
inline std::string tessera_exe() { return TESSERA_EXE; }

// A fresh, empty directory under the build tree's tests/tmp, named for the test.
inline std::filesystem::path fresh_dir(const std::string& name) {
  std::filesystem::path p = std::filesystem::path(TESSERA_TEST_TMP) / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

inline void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command, capturing stdout+stderr.
inline CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  std::string full = cmd + " 2>&1";
  FILE* pipe = popen(full.c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// Runs the tessera CLI with the given arguments.
inline CommandResult run_tessera(const std::string& args) { return run_command(tessera_exe() + " " + args); }

// The mpirun that launches the MPI tests (CMake's MPIEXEC_EXECUTABLE).
inline std::string mpiexec() {
#ifdef TESSERA_MPIEXEC
  return TESSERA_MPIEXEC;
#else
  return "mpirun";
#endif
}

// True for the environment variables an MPI singleton (a test executable
// started without mpirun: MPI_Init forks a helper and setenv()s OMPI_MCA_ess,
// OMPI_MCA_pmix, OMPI_MCA_orte_*, PMIX_*, …) adds to this process. An mpirun
// that inherits them exits 1 with no output, so run_mpi drops them. User
// settings such as OMPI_ALLOW_RUN_AS_ROOT and other OMPI_MCA_* are kept.
inline bool is_mpi_singleton_variable(const std::string& name) {
  auto starts = [&](const char* p) { return name.rfind(p, 0) == 0; };
  if (starts("PMIX_") || starts("ORTE_") || starts("OPAL_") || starts("PRTE_")) return true;
  if (starts("OMPI_MCA_")) return starts("OMPI_MCA_ess") || starts("OMPI_MCA_pmix") || starts("OMPI_MCA_orte_");
  if (starts("OMPI_")) return !starts("OMPI_ALLOW_RUN_AS_ROOT");
  return false;
}

// Runs `mpirun -np NP --oversubscribe <tessera> ARGS` from this (singleton MPI)
// test process with a clean launch environment (see is_mpi_singleton_variable),
// allowed to run as root, oversubscribe and launch without ssh. extra_env
// (e.g. {{"TESSERA_FAULT", "throw:rank=2:step=3"}}) is set for mpirun and
// forwarded to every rank with -x NAME (values must not need shell quoting
// beyond what single quotes give).
inline CommandResult run_mpi(int np, const std::string& args, const std::map<std::string, std::string>& extra_env = {}) {
  std::string cmd = "env";
  for (char** e = environ; e && *e; ++e) {
    std::string entry(*e);
    std::string name = entry.substr(0, entry.find('='));
    if (is_mpi_singleton_variable(name)) cmd += " -u " + name;
  }
  cmd += " OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1"
         " OMPI_MCA_plm=isolated OMPI_MCA_btl_vader_single_copy_mechanism=none ";
  std::string forward;
  for (const auto& [name, value] : extra_env) {
    cmd += name + "='" + value + "' ";
    forward += " -x " + name;
  }
  cmd += mpiexec() + " -np " + std::to_string(np) + " --oversubscribe" + forward + " " + tessera_exe() + " " + args;
  return run_command(cmd);
}

}  // namespace tessera_test
