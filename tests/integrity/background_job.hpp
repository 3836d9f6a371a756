// A tessera job launched in the background through mpirun (posix_spawn of
// /bin/sh -c "exec … mpirun …"), so a test can signal mpirun or single ranks
// while it runs. The destructor SIGKILLs whatever is still alive (by pid).
#pragma once
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>
#include "slurm/slurm_support.hpp"

namespace tessera_test {

struct BackgroundJob {
  pid_t pid = 0;  // mpirun (sh execs it)
  std::filesystem::path log;
  int status = -1;
  bool reaped = false;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  // `launcher` replaces mpirun (a wrapper taking mpirun's arguments); env: "NAME=value " pairs.
  BackgroundJob(int np, const std::string& args, const std::filesystem::path& log_file, const std::string& env = "",
                const std::string& launcher = "")
      : log(log_file) {
    const std::string cmd = "exec " + clean_env() + env + " " + (launcher.empty() ? mpiexec() : launcher) + " -np " + std::to_string(np) +
                            " --oversubscribe " + tessera_exe() + " " + args + " > " + log.string() + " 2>&1";
    const char* argv[] = {"/bin/sh", "-c", cmd.c_str(), nullptr};
    if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ) != 0) pid = 0;
  }
  ~BackgroundJob() {
    if (pid > 0 && !reaped) {
      for (pid_t p : ranks()) kill(p, SIGKILL);
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
  }

  // Pids of the processes mpirun started (children of pid), in world-rank order
  // when their environment says OMPI_COMM_WORLD_RANK.
  std::vector<pid_t> ranks() const {
    std::vector<std::pair<int, pid_t>> found;
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator("/proc", ec)) {
      const std::string name = e.path().filename().string();
      if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream st(e.path() / "stat");
      std::string stat;
      std::getline(st, stat);
      const auto close = stat.rfind(')');
      if (close == std::string::npos) continue;
      int ppid = 0;
      char state = 0;
      std::istringstream rest(stat.substr(close + 1));
      rest >> state >> ppid;
      if (ppid != pid) continue;
      const std::string env = read_file(e.path() / "environ");
      const std::string key = std::string("OMPI_COMM_WORLD_RANK=");
      auto at = env.find(key);
      if (at == std::string::npos) continue;
      found.emplace_back(std::atoi(env.c_str() + at + key.size()), pid_t(std::stoi(name)));
    }
    std::sort(found.begin(), found.end());
    std::vector<pid_t> out;
    for (auto& [r, p] : found) out.push_back(p);
    return out;
  }

  // Waits (at most timeout_s) for mpirun to end; true when it did. status then holds its wait status.
  bool wait(double timeout_s) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (std::chrono::steady_clock::now() < end) {
      if (waitpid(pid, &status, WNOHANG) == pid) return reaped = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  int exit_code() const { return reaped && WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
  std::string output() const { return read_file(log); }
};

// Largest train step in a metrics.jsonl so far (0 = none).
inline long last_logged_step(const std::filesystem::path& metrics) {
  auto l = train_losses(metrics);
  return l.empty() ? 0 : l.rbegin()->first;
}

inline bool wait_for_logged_step(const std::filesystem::path& metrics, long step, double timeout_s) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < end) {
    if (last_logged_step(metrics) >= step) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace tessera_test
