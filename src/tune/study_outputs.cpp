#include "src/tune/study_outputs.hpp"
#include <unistd.h>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include "src/runtime/error.hpp"

namespace fs = std::filesystem;

namespace tessera {

namespace {

void write_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary);
    require(f.good(), "cannot write '" + tmp.string() + "'");
    f << text;
  }
  fs::rename(tmp, path);
}

std::string fmt(double x) {
  std::ostringstream s;
  s.precision(5);
  s << x;
  return s.str();
}

// The plot script next to the executable's source tree (build/tessera → scripts/).
std::string find_plot_script() {
  if (const char* env = std::getenv("TESSERA_TUNE_PLOTS")) return env;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  for (fs::path d = exe.parent_path(); !d.empty() && d != d.root_path(); d = d.parent_path()) {
    const fs::path s = d / "scripts" / "tools" / "tune_plots.py";
    if (fs::exists(s)) return s.string();
  }
  return "";
}

}  // namespace

int64_t best_trial(const StudySpec& spec, const std::vector<TrialInfo>& trials) {
  int64_t best = -1;
  for (const auto& t : trials) {
    if (t.state != TrialState::Complete || !t.has_value || !std::isfinite(t.value)) continue;
    if (best < 0 || (spec.maximize ? t.value > trials[size_t(best)].value : t.value < trials[size_t(best)].value))
      best = t.number;
  }
  return best;
}

std::string trial_line(const StudySpec& spec, const TrialInfo& t, const std::vector<TrialInfo>& trials) {
  std::ostringstream s;
  s << "trial " << t.number << " " << trial_state_name(t.state);
  if (t.has_value) s << " | " << spec.objective << " " << fmt(t.value);
  const int64_t b = best_trial(spec, trials);
  if (b >= 0) s << " | best " << fmt(trials[size_t(b)].value) << " (trial " << b << ")";
  s << " |";
  for (const auto& [k, v] : t.params.items()) s << " " << k << "=" << (v.is_number_float() ? fmt(v.get<double>()) : v.dump());
  s << " | " << fmt(t.duration) << " s | group " << t.group;
  if (!t.message.empty()) s << " | " << t.message;
  return s.str();
}

void write_study_outputs(const StudySpec& spec, const std::vector<TrialInfo>& trials, bool plots) {
  const fs::path dir = spec.dir;
  std::string lines;
  for (const auto& t : trials) {
    if (t.number < 0) continue;
    nlohmann::json rec = {{"number", t.number},         {"state", trial_state_name(t.state)},
                          {"params", t.params},         {"group", t.group},
                          {"owner", t.owner},           {"seed", t.seed},
                          {"attempts", t.attempts},     {"start", t.start_time},
                          {"end", t.end_time},          {"duration", t.duration},
                          {"message", t.message},       {"objective", spec.objective},
                          {"direction", spec.maximize ? "maximize" : "minimize"}};
    rec["value"] = t.has_value ? nlohmann::json(t.value) : nlohmann::json(nullptr);
    nlohmann::json inter = nlohmann::json::object();
    for (const auto& [step, m] : t.reports) inter[std::to_string(step)] = m;
    rec["intermediate"] = inter;
    lines += rec.dump() + "\n";
  }
  write_atomically(dir / "trials.jsonl", lines);
  const int64_t b = best_trial(spec, trials);
  if (b >= 0)
    write_atomically(dir / "best.toml", trial_toml(spec, trials[size_t(b)].params, (dir / "best_run").string()));
  if (!plots) return;
  const std::string script = find_plot_script();
  if (script.empty() || !fs::exists("/usr/bin/python3")) {
    std::fprintf(stderr, "tune: plots skipped (scripts/tools/tune_plots.py or /usr/bin/python3 not found)\n");
    return;
  }
  const std::string cmd = "/usr/bin/python3 '" + script + "' '" + dir.string() + "' > '" + (dir / "plots.log").string() + "' 2>&1";
  if (std::system(cmd.c_str()) != 0)
    std::fprintf(stderr, "tune: the plot script failed (see %s)\n", (dir / "plots.log").c_str());
}

}  // namespace tessera
