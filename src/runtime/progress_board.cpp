#include "src/runtime/progress_board.hpp"
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <thread>
#include <unistd.h>
#include "src/runtime/rank_context.hpp"
#include <vector>

namespace tessera {
namespace {

// One slot per rank, in that rank's window memory.
struct Slot {
  std::int64_t step;    // -1 = not started
  std::int64_t phase;   // index into kPhases
  double wtime;         // MPI_Wtime() of the update (only compared on this host: age is approximate across hosts)
};
constexpr int kSlotDoubles = sizeof(Slot) / sizeof(double);
static_assert(sizeof(Slot) == 3 * 8, "Slot must be 24 bytes");

const char* const kPhases[] = {"start", "train", "validate", "checkpoint", "other"};
constexpr int kPhaseCount = sizeof(kPhases) / sizeof(kPhases[0]);

struct Board {
  MPI_Win win = MPI_WIN_NULL;
  MPI_Comm world = MPI_COMM_NULL;  // duplicated
  Slot* mine = nullptr;
  int rank = 0;
  Slot last{-1, 0, 0};
};
Board g_board;

int phase_index(const char* phase) {
  for (int i = 0; i < kPhaseCount; ++i)
    if (std::strcmp(kPhases[i], phase) == 0) return i;
  return kPhaseCount - 1;
}

std::string fmt(double x) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", x);
  return b;
}

// After a timeout the Error unwinds run_training, whose destructors include
// collective ones (HDF5 file close → MPI_File_close → barrier) that the stalled
// peer never joins: the exception would never reach main's MPI_Abort. So the
// first timeout report also arms a one-shot exit: if the process is still alive
// `grace_s` later, it prints the report and _exit(1)s — mpirun and
// `srun --kill-on-bad-exit` then end the other ranks.
void arm_exit_watchdog(const std::string& axis, const std::string& report, double grace_s) {
  static std::atomic<bool> armed{false};
  if (armed.exchange(true)) return;
  std::string msg = "tessera: error [" + rank_context() + "]: a collective on axis '" + axis + "' timed out" + report +
                    "; ending the job (hang watchdog)\n";
  std::thread([msg, grace_s] {
    std::this_thread::sleep_for(std::chrono::duration<double>(grace_s));
    std::fputs(msg.c_str(), stderr);
    std::fflush(stderr);
    _exit(1);
  }).detach();
}

}  // namespace

bool progress_board_open() { return g_board.win != MPI_WIN_NULL; }

void open_progress_board(MPI_Comm world) {
  if (progress_board_open()) return;
  MPI_Comm_dup(world, &g_board.world);
  MPI_Comm_rank(g_board.world, &g_board.rank);
  void* base = nullptr;
  MPI_Win_allocate(sizeof(Slot), sizeof(Slot), MPI_INFO_NULL, g_board.world, &base, &g_board.win);
  g_board.mine = static_cast<Slot*>(base);
  *g_board.mine = Slot{-1, 0, MPI_Wtime()};
  // One passive-target epoch for the whole run: publishes and reads need no
  // further synchronisation with other ranks.
  MPI_Win_lock_all(MPI_MODE_NOCHECK, g_board.win);
  MPI_Barrier(g_board.world);  // every slot initialised before anyone reads
}

void close_progress_board() {
  if (!progress_board_open()) return;
  if (std::uncaught_exceptions() > 0) return;  // leak: the job aborts (see the header)
  MPI_Win_unlock_all(g_board.win);
  MPI_Win_free(&g_board.win);
  MPI_Comm_free(&g_board.world);
  g_board = Board{};
}

void publish_progress(std::int64_t step, const char* phase) {
  if (!progress_board_open()) return;
  g_board.last = Slot{step, phase_index(phase), MPI_Wtime()};
  MPI_Put(&g_board.last, kSlotDoubles, MPI_DOUBLE, g_board.rank, 0, kSlotDoubles, MPI_DOUBLE, g_board.win);
  MPI_Win_flush(g_board.rank, g_board.win);  // local completion only: no other rank involved
}

std::string progress_report(MPI_Comm comm, const std::string& axis, double answer_s) {
  if (!progress_board_open() || comm == MPI_COMM_NULL) return "";
  // World ranks of `comm`.
  MPI_Group g_comm, g_world;
  MPI_Comm_group(comm, &g_comm);
  MPI_Comm_group(g_board.world, &g_world);
  int n = 0;
  MPI_Group_size(g_comm, &n);
  std::vector<int> local(n), world(n);
  for (int i = 0; i < n; ++i) local[i] = i;
  MPI_Group_translate_ranks(g_comm, n, local.data(), g_world, world.data());
  MPI_Group_free(&g_comm);
  MPI_Group_free(&g_world);

  std::vector<Slot> slots(n);
  std::vector<MPI_Request> reqs(n, MPI_REQUEST_NULL);
  for (int i = 0; i < n; ++i)
    if (world[i] != MPI_UNDEFINED)
      MPI_Rget(&slots[i], kSlotDoubles, MPI_DOUBLE, world[i], 0, kSlotDoubles, MPI_DOUBLE, g_board.win, &reqs[i]);
  std::vector<int> answered(n, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(answer_s);
  for (;;) {
    bool all = true;
    for (int i = 0; i < n; ++i) {
      if (reqs[i] == MPI_REQUEST_NULL) { answered[i] = answered[i] || world[i] != MPI_UNDEFINED; continue; }
      int done = 0;
      MPI_Test(&reqs[i], &done, MPI_STATUS_IGNORE);
      if (done) answered[i] = 1; else all = false;
    }
    if (all || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Unanswered requests are abandoned (the job is about to abort).

  const Slot me = g_board.last;
  const double now = MPI_Wtime();
  std::string ranks, behind, silent;
  for (int i = 0; i < n; ++i) {
    ranks += (i ? ", " : "") + std::to_string(world[i]);
    if (world[i] == g_board.rank) continue;
    if (!answered[i]) {
      silent += (silent.empty() ? "" : ", ") + std::to_string(world[i]);
      continue;
    }
    const Slot& s = slots[i];
    if (s.step < me.step || (s.step == me.step && s.phase < me.phase)) {
      const char* ph = kPhases[s.phase >= 0 && s.phase < kPhaseCount ? s.phase : kPhaseCount - 1];
      behind += (behind.empty() ? "" : "; ") + std::string("world rank ") + std::to_string(world[i]) + " at step " +
                std::to_string(s.step) + " (" + ph + ", last update " + fmt(now - s.wtime) + " s ago)";
    }
  }
  std::string out = "; this rank is at step " + std::to_string(me.step) + " (" +
                    kPhases[me.phase >= 0 && me.phase < kPhaseCount ? me.phase : kPhaseCount - 1] + ")";
  out += "; ranks of axis '" + axis + "' (world ranks): [" + ranks + "]";
  if (!behind.empty()) out += "; behind (likely stalled): " + behind;
  if (!silent.empty()) out += "; no answer within " + fmt(answer_s) + " s from world rank(s) " + silent + " (likely stalled)";
  if (behind.empty() && silent.empty()) out += "; every rank of this axis has reached this step (the stall is elsewhere)";
  arm_exit_watchdog(axis, out, 3.0);
  return out;
}

}  // namespace tessera
