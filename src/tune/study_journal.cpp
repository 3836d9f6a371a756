#include "src/tune/study_journal.hpp"
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include "src/runtime/error.hpp"

namespace tessera {

const char* trial_state_name(TrialState s) {
  switch (s) {
    case TrialState::Running: return "running";
    case TrialState::Complete: return "complete";
    case TrialState::Pruned: return "pruned";
    case TrialState::Failed: return "failed";
    case TrialState::Released: return "released";
  }
  return "?";
}

namespace {

struct LockedFile {
  int fd = -1;
  LockedFile(const std::string& path, int how) {
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    require(fd >= 0, "study journal '" + path + "': cannot open: " + std::strerror(errno));
    while (::flock(fd, how) != 0)
      require(errno == EINTR, "study journal '" + path + "': flock failed: " + std::strerror(errno));
  }
  ~LockedFile() {
    ::flock(fd, LOCK_UN);
    ::close(fd);
  }
  std::string read_all() const {
    std::string out;
    char buf[65536];
    off_t at = 0;
    for (;;) {
      const ssize_t n = ::pread(fd, buf, sizeof buf, at);
      if (n < 0 && errno == EINTR) continue;
      require(n >= 0, std::string("study journal: read failed: ") + std::strerror(errno));
      if (n == 0) break;
      out.append(buf, size_t(n));
      at += n;
    }
    return out;
  }
  void write_line(const std::string& text, bool need_newline) const {
    const std::string line = (need_newline ? "\n" : "") + text + "\n";
    const ssize_t n = ::write(fd, line.data(), line.size());
    require(n == ssize_t(line.size()), std::string("study journal: write failed: ") + std::strerror(errno));
  }
};

std::vector<nlohmann::json> parse_records(const std::string& text) {
  std::vector<nlohmann::json> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) break;  // torn last line: ignored
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    try {
      out.push_back(nlohmann::json::parse(line));
    } catch (const std::exception&) {
      // a line torn by a writer killed mid-write, completed by the next writer's newline
    }
  }
  return out;
}

}  // namespace

StudyJournal::StudyJournal(std::string path) : path_(std::move(path)) {}

void StudyJournal::transact(const std::function<std::vector<nlohmann::json>(const std::vector<nlohmann::json>&)>& f) {
  LockedFile lf(path_, LOCK_EX);
  const std::string text = lf.read_all();
  const std::vector<nlohmann::json> out = f(parse_records(text));
  bool nl = !text.empty() && text.back() != '\n';
  for (const auto& r : out) {
    lf.write_line(r.dump(), nl);
    nl = false;
  }
}

void StudyJournal::append(const nlohmann::json& record) {
  transact([&](const std::vector<nlohmann::json>&) { return std::vector<nlohmann::json>{record}; });
}

std::vector<nlohmann::json> StudyJournal::read() {
  LockedFile lf(path_, LOCK_SH);
  return parse_records(lf.read_all());
}

std::vector<TrialInfo> replay_trials(const std::vector<nlohmann::json>& records) {
  std::vector<TrialInfo> trials;
  for (const auto& r : records) {
    const std::string op = r.value("op", "");
    if (!r.contains("trial")) continue;
    const int64_t n = r.at("trial").get<int64_t>();
    if (n < 0) continue;
    if (size_t(n) >= trials.size()) trials.resize(size_t(n) + 1);
    TrialInfo& t = trials[size_t(n)];
    t.number = n;
    if (op == "start") {
      t.params = r.at("params");
      t.state = TrialState::Running;
      t.owner = r.value("owner", "");
      t.group = r.value("group", -1);
      t.seed = r.value("seed", uint64_t(0));
      t.start_time = r.value("time", 0.0);
      t.message.clear();
      ++t.attempts;
    } else if (op == "report") {
      t.reports[r.at("step").get<int64_t>()] = r.at("metrics");
    } else if (op == "finish") {
      const std::string st = r.value("state", "failed");
      t.state = st == "complete" ? TrialState::Complete : st == "pruned" ? TrialState::Pruned : TrialState::Failed;
      t.end_time = r.value("time", 0.0);
      t.duration = r.value("duration", 0.0);
      t.has_value = r.contains("value") && r.at("value").is_number();
      if (t.has_value) t.value = r.at("value").get<double>();
      t.message = r.value("message", "");
    } else if (op == "release") {
      t.state = TrialState::Released;
      t.message = r.value("reason", "");
      t.reports.clear();
    }
  }
  return trials;
}

int64_t finished_trials(const std::vector<TrialInfo>& trials) {
  int64_t n = 0;
  for (const auto& t : trials)
    if (t.state == TrialState::Complete || t.state == TrialState::Pruned || t.state == TrialState::Failed) ++n;
  return n;
}

}  // namespace tessera
