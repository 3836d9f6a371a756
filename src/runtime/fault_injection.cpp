#include "src/runtime/fault_injection.hpp"
#include <mpi.h>
#include <unistd.h>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include "src/runtime/error.hpp"
#include "src/runtime/rank_context.hpp"

namespace tessera {

namespace detail {
bool g_fault_injection_armed = false;
bool g_fault_injection_initialised = false;
}  // namespace detail

namespace {

struct ArmedFault {
  FaultSpec spec;
  bool fired = false;
};

std::vector<ArmedFault>& faults() {
  static std::vector<ArmedFault> f;
  return f;
}
std::string& spec_text() {
  static std::string s;
  return s;
}
std::string& pending_parse_error() {
  static std::string s;
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) break;
    start = p + 1;
  }
  return out;
}

[[noreturn]] void bad(const std::string& text, const std::string& why) {
  throw Error("TESSERA_FAULT=\"" + text + "\": " + why +
              " (expected ACTION[:rank=R][:point=P][:step=S][:seconds=T], ACTION = throw|kill|stall)");
}

long long parse_int(const std::string& text, const std::string& key, const std::string& v) {
  if (v.empty()) bad(text, key + " needs a value");
  errno = 0;
  char* end = nullptr;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || x < 0) bad(text, key + "=" + v + " is not a non-negative integer");
  return x;
}

void install(const std::string& text) {
  std::vector<FaultSpec> parsed = parse_fault_spec(text);
  auto& f = faults();
  f.clear();
  for (auto& s : parsed) f.push_back({s, false});
  spec_text() = text;
  pending_parse_error().clear();
  detail::g_fault_injection_armed = !f.empty();
  detail::g_fault_injection_initialised = true;
}

}  // namespace

std::vector<FaultSpec> parse_fault_spec(const std::string& text) {
  std::vector<FaultSpec> out;
  if (trim(text).empty()) return out;
  for (const std::string& item_raw : split(text, ',')) {
    const std::string item = trim(item_raw);
    if (item.empty()) bad(text, "empty fault in the list");
    std::vector<std::string> parts = split(item, ':');
    FaultSpec f;
    const std::string action = trim(parts[0]);
    if (action == "throw") f.action = FaultAction::Throw;
    else if (action == "kill") f.action = FaultAction::Kill;
    else if (action == "stall") f.action = FaultAction::Stall;
    else bad(text, "unknown action '" + action + "'");
    bool seen_rank = false, seen_point = false, seen_step = false, seen_seconds = false;
    for (size_t i = 1; i < parts.size(); ++i) {
      const std::string kv = trim(parts[i]);
      size_t eq = kv.find('=');
      if (eq == std::string::npos) bad(text, "'" + kv + "' is not key=value");
      const std::string key = trim(kv.substr(0, eq));
      const std::string val = trim(kv.substr(eq + 1));
      auto once = [&](bool& seen) {
        if (seen) bad(text, "'" + key + "' given twice");
        seen = true;
      };
      if (key == "rank") {
        once(seen_rank);
        long long r = parse_int(text, key, val);
        if (r > 1 << 30) bad(text, "rank=" + val + " is out of range");
        f.rank = static_cast<int>(r);
      } else if (key == "step") {
        once(seen_step);
        f.step = parse_int(text, key, val);
      } else if (key == "point") {
        once(seen_point);
        if (val.empty()) bad(text, "point needs a value");
        for (char c : val)
          if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) bad(text, "point '" + val + "' is not a name");
        f.point = val;
      } else if (key == "seconds") {
        once(seen_seconds);
        if (f.action != FaultAction::Stall) bad(text, "seconds= is only valid with stall");
        errno = 0;
        char* end = nullptr;
        double s = std::strtod(val.c_str(), &end);
        if (val.empty() || errno != 0 || *end != '\0' || !(s >= 0.0)) bad(text, "seconds=" + val + " is not a non-negative number");
        f.seconds = s;
      } else {
        bad(text, "unknown key '" + key + "'");
      }
    }
    out.push_back(f);
  }
  return out;
}

std::string to_string(const FaultSpec& f) {
  std::string s = f.action == FaultAction::Throw ? "throw" : f.action == FaultAction::Kill ? "kill" : "stall";
  if (f.rank >= 0) s += ":rank=" + std::to_string(f.rank);
  s += ":point=" + f.point;
  if (f.step >= 0) s += ":step=" + std::to_string(f.step);
  if (f.action == FaultAction::Stall) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", f.seconds);
    s += ":seconds=" + std::string(buf);
  }
  return s;
}

int fault_injection_rank() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (!init || fin) return 0;
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

void configure_fault_injection(const std::string& spec) { install(spec); }

void reload_fault_injection_from_env() {
  const char* env = std::getenv("TESSERA_FAULT");
  install(env ? env : "");
}

namespace detail {

void fault_injection_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* env = std::getenv("TESSERA_FAULT");
    try {
      install(env ? env : "");
    } catch (const Error& e) {
      pending_parse_error() = e.what();
    }
  });
  // A malformed spec throws from every fault_point call (initialised stays
  // false): a silent no-op would turn a failure test into a passing run.
  if (!pending_parse_error().empty()) throw Error(pending_parse_error());
  g_fault_injection_initialised = true;
}

void fault_point_slow(const char* point, std::int64_t step) {
  const int rank = fault_injection_rank();
  for (ArmedFault& a : faults()) {
    const FaultSpec& f = a.spec;
    if (a.fired || f.point != point) continue;
    if (f.step >= 0 && f.step != step) continue;
    if (f.rank >= 0 && f.rank != rank) continue;
    a.fired = true;
    std::string ctx = rank_context();
    if (ctx.empty()) ctx = "rank " + std::to_string(rank);
    const std::string what = "injected fault (TESSERA_FAULT " + to_string(f) + ") at " + point + " step " +
                             std::to_string(step) + " on " + ctx;
    switch (f.action) {
      case FaultAction::Throw:
        throw Error(what);
      case FaultAction::Kill:
        std::fprintf(stderr, "tessera: %s: SIGKILL\n", what.c_str());
        std::fflush(stderr);
        std::raise(SIGKILL);
        _exit(137);  // not reached
      case FaultAction::Stall:
        std::fprintf(stderr, "tessera: %s: stalling %g s\n", what.c_str(), f.seconds);
        std::fflush(stderr);
        std::this_thread::sleep_for(std::chrono::duration<double>(f.seconds));
        break;
    }
  }
}

}  // namespace detail

}  // namespace tessera
