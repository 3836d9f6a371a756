#include "src/runtime/rank_context.hpp"
#include <unistd.h>
#include <climits>
#include <mutex>

namespace tessera {

namespace {
std::mutex& context_mutex() {
  static std::mutex m;
  return m;
}
std::string& context_storage() {
  static std::string s;
  return s;
}
}  // namespace

void set_rank_context(const std::string& context) {
  std::lock_guard<std::mutex> lock(context_mutex());
  context_storage() = context;
}

std::string rank_context() {
  std::lock_guard<std::mutex> lock(context_mutex());
  return context_storage();
}

std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "unknown-host";
  return buf;
}

std::string default_rank_context(int world_rank, int world_size) {
  return "rank " + std::to_string(world_rank) + "/" + std::to_string(world_size) + " on host " + host_name();
}

}  // namespace tessera
