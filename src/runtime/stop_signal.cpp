#include "src/runtime/stop_signal.hpp"
#include <atomic>
#include <csignal>

namespace tessera {
namespace {

std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the handler needs a lock-free flag");

extern "C" void tessera_stop_handler(int sig) {
  int expected = 0;
  if (!g_stop_signal.compare_exchange_strong(expected, sig) && sig == SIGTERM) {
    // Second SIGTERM: give the default action back (the next one terminates).
    std::signal(SIGTERM, SIG_DFL);
  }
}

}  // namespace

void install_stop_signal_handler() {
  static std::atomic<bool> installed{false};
  if (installed.exchange(true)) return;
  struct sigaction sa {};
  sa.sa_handler = tessera_stop_handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int stop_signal_received() { return g_stop_signal.load(std::memory_order_relaxed); }

void reset_stop_signal() { g_stop_signal.store(0, std::memory_order_relaxed); }

}  // namespace tessera
