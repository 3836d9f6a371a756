#include "src/runtime/progress_board.hpp"
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <thread>
#include <unistd.h>
#include <vector>
#include "src/runtime/rank_context.hpp"

namespace tessera {
namespace {

constexpr int kAxes = 8;
constexpr int kContextBytes = 112;

// One slot per rank, in that rank's window memory (plain old data, read as bytes).
struct Slot {
  std::int64_t step;       // -1 = not started
  std::int64_t phase;      // index into kPhases
  double wtime;            // MPI_Wtime() of the last step/phase update (ages are approximate across hosts)
  std::int64_t beats;      // bumped by every put (wait-loop heartbeat, progress)
  std::int64_t waiting;    // 1 = inside a communicator wait now
  std::int64_t wait_axis;  // axis slot of that wait
  std::int64_t wait_op;    // index into kOps
  std::int64_t wait_seq;   // its operation number (-1 = point-to-point)
  double wait_since;       // MPI_Wtime() when the wait began
  std::int64_t seq[kAxes]; // collectives entered per axis
  char context[kContextBytes];
};
static_assert(sizeof(Slot) == 9 * 8 + kAxes * 8 + kContextBytes, "Slot must be packed");

const char* const kPhases[] = {"start", "train", "validate", "checkpoint", "other"};
constexpr int kPhaseCount = sizeof(kPhases) / sizeof(kPhases[0]);
const char* const kOps[] = {"all_reduce", "reduce_scatter", "all_gather", "broadcast", "send",
                            "recv",       "isend",          "irecv",      "barrier",   "operation"};
constexpr int kOpCount = sizeof(kOps) / sizeof(kOps[0]);

// This rank's state: kept outside the board so communicators created before the
// board opens (ProcessGrid) count from the start.
struct Local {
  Slot slot{};
  std::string axes[kAxes] = {"world", "dp", "tp", "pp", "embedding", "", "", ""};
  std::chrono::steady_clock::time_point wait_start{}, last_put{};
  bool put_during_wait = false;
};
Local g_local;

struct Board {
  MPI_Win win = MPI_WIN_NULL;
  MPI_Comm world = MPI_COMM_NULL;  // duplicated
  int rank = 0;
  int size = 0;
};
Board g_board;

int phase_index(const char* phase) {
  for (int i = 0; i < kPhaseCount; ++i)
    if (std::strcmp(kPhases[i], phase) == 0) return i;
  return kPhaseCount - 1;
}
int op_index(const char* op) {
  for (int i = 0; i < kOpCount; ++i)
    if (std::strcmp(kOps[i], op) == 0) return i;
  return kOpCount - 1;
}
const char* phase_name(std::int64_t i) { return kPhases[i >= 0 && i < kPhaseCount ? i : kPhaseCount - 1]; }
const char* op_name(std::int64_t i) { return kOps[i >= 0 && i < kOpCount ? i : kOpCount - 1]; }
std::string axis_name(std::int64_t i) {
  return i >= 0 && i < kAxes && !g_local.axes[i].empty() ? g_local.axes[i] : std::string("?");
}

std::string fmt(double x) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", x);
  return b;
}

void set_context(Slot& s) {
  const std::string ctx = rank_context();
  std::memset(s.context, 0, kContextBytes);
  std::memcpy(s.context, ctx.data(), std::min<std::size_t>(ctx.size(), kContextBytes - 1));
}

void put_slot() {
  if (g_board.win == MPI_WIN_NULL) return;
  ++g_local.slot.beats;
  MPI_Put(&g_local.slot, int(sizeof(Slot)), MPI_BYTE, g_board.rank, 0, int(sizeof(Slot)), MPI_BYTE, g_board.win);
  MPI_Win_flush(g_board.rank, g_board.win);  // local completion only: no other rank involved
  g_local.last_put = std::chrono::steady_clock::now();
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

// Reads the slots of world ranks `ranks` (each answer awaited at most answer_s).
std::vector<Slot> read_slots(const std::vector<int>& ranks, std::vector<int>& answered, double answer_s) {
  const int n = int(ranks.size());
  std::vector<Slot> slots(n);
  std::vector<MPI_Request> reqs(n, MPI_REQUEST_NULL);
  answered.assign(n, 0);
  for (int i = 0; i < n; ++i) {
    if (ranks[i] == g_board.rank) {
      slots[i] = g_local.slot;
      answered[i] = 1;
    } else {
      MPI_Rget(&slots[i], int(sizeof(Slot)), MPI_BYTE, ranks[i], 0, int(sizeof(Slot)), MPI_BYTE, g_board.win, &reqs[i]);
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(answer_s);
  for (;;) {
    bool all = true;
    for (int i = 0; i < n; ++i) {
      if (reqs[i] == MPI_REQUEST_NULL) continue;
      int done = 0;
      MPI_Test(&reqs[i], &done, MPI_STATUS_IGNORE);
      if (done) answered[i] = 1; else all = false;
    }
    if (all || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Unanswered requests are abandoned (the job is about to abort).
  return slots;
}

std::string who(int world_rank, const Slot& s) {
  std::string ctx(s.context, strnlen(s.context, kContextBytes));
  return "world rank " + std::to_string(world_rank) + (ctx.empty() ? "" : " [" + ctx + "]");
}

// What a peer is doing, from two reads `check_s` apart.
std::string state(const Slot& a, const Slot& b, double now, double check_s) {
  const bool alive = b.beats != a.beats;
  std::string s = "at step " + std::to_string(b.step) + " (" + phase_name(b.phase) + ")";
  if (b.waiting)
    s += alive ? ", waiting in " : ", stopped inside ";
  if (b.waiting)
    s += std::string(op_name(b.wait_op)) + " on axis '" + axis_name(b.wait_axis) + "'" +
         (b.wait_seq >= 0 ? " #" + std::to_string(b.wait_seq) : std::string()) + " for " + fmt(now - b.wait_since) + " s";
  else
    s += ", in no collective";
  if (!alive) s += "; no heartbeat in " + fmt(check_s) + " s, last update " + fmt(now - b.wtime) + " s ago";
  return s;
}

}  // namespace

bool progress_board_open() { return g_board.win != MPI_WIN_NULL; }

void open_progress_board(MPI_Comm world) {
  if (progress_board_open()) return;
  MPI_Comm_dup(world, &g_board.world);
  MPI_Comm_rank(g_board.world, &g_board.rank);
  MPI_Comm_size(g_board.world, &g_board.size);
  void* base = nullptr;
  MPI_Win_allocate(sizeof(Slot), sizeof(Slot), MPI_INFO_NULL, g_board.world, &base, &g_board.win);
  g_local.slot.step = -1;
  g_local.slot.phase = 0;
  g_local.slot.wtime = MPI_Wtime();
  set_context(g_local.slot);
  std::memcpy(base, &g_local.slot, sizeof(Slot));
  // One passive-target epoch for the whole run: publishes and reads need no
  // further synchronisation with other ranks.
  MPI_Win_lock_all(MPI_MODE_NOCHECK, g_board.win);
  put_slot();
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
  g_local.slot.step = step;
  g_local.slot.phase = phase_index(phase);
  g_local.slot.wtime = MPI_Wtime();
  set_context(g_local.slot);
  put_slot();
}

int progress_axis(const std::string& axis) {
  for (int i = 0; i < kAxes; ++i) {
    if (g_local.axes[i].empty()) g_local.axes[i] = axis;
    if (g_local.axes[i] == axis) {
      g_local.slot.seq[i] = 0;
      return i;
    }
  }
  return -1;
}

std::int64_t progress_op_started(int axis_id) {
  if (axis_id < 0 || axis_id >= kAxes) return -1;
  return ++g_local.slot.seq[axis_id];
}

void progress_wait_begin(int axis_id, const char* op, std::int64_t seq) {
  Slot& s = g_local.slot;
  s.waiting = 1;
  s.wait_axis = axis_id;
  s.wait_op = op_index(op);
  s.wait_seq = seq;
  s.wait_since = progress_board_open() ? MPI_Wtime() : 0.0;
  g_local.wait_start = std::chrono::steady_clock::now();
  g_local.put_during_wait = false;
}

void progress_wait_tick() {
  if (!progress_board_open()) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - g_local.wait_start < std::chrono::milliseconds(20)) return;
  if (g_local.put_during_wait && now - g_local.last_put < std::chrono::milliseconds(100)) return;
  put_slot();
  g_local.put_during_wait = true;
}

void progress_wait_end() {
  g_local.slot.waiting = 0;
  if (g_local.put_during_wait) put_slot();  // peers saw "waiting": tell them it is over
  g_local.put_during_wait = false;
}

std::string progress_report(MPI_Comm comm, const std::string& axis, int axis_id, std::int64_t seq, int peer,
                            double answer_s) {
  if (!progress_board_open() || comm == MPI_COMM_NULL) return "";
  // World ranks of `comm`.
  MPI_Group g_comm, g_world;
  MPI_Comm_group(comm, &g_comm);
  MPI_Comm_group(g_board.world, &g_world);
  int n = 0;
  MPI_Group_size(g_comm, &n);
  std::vector<int> local(n), members(n);
  for (int i = 0; i < n; ++i) local[i] = i;
  MPI_Group_translate_ranks(g_comm, n, local.data(), g_world, members.data());
  MPI_Group_free(&g_comm);
  MPI_Group_free(&g_world);

  // Every world rank, twice, `check_s` apart: a rank in a wait loop bumps its
  // heartbeat every 0.1 s; one that does not is stopped or stuck.
  constexpr double check_s = 1.0;
  std::vector<int> world(g_board.size);
  for (int r = 0; r < g_board.size; ++r) world[r] = r;
  std::vector<int> ans1, ans2;
  const std::vector<Slot> first = read_slots(world, ans1, answer_s);
  // Keep this rank's own heartbeat going meanwhile (another rank may be checking it).
  const auto check_end = std::chrono::steady_clock::now() + std::chrono::duration<double>(check_s);
  while (std::chrono::steady_clock::now() < check_end) {
    put_slot();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::vector<Slot> second = read_slots(world, ans2, answer_s);
  const double now = MPI_Wtime();
  auto answered = [&](int r) { return ans1[r] && ans2[r]; };
  auto responding = [&](int r) { return r == g_board.rank || (answered(r) && first[r].beats != second[r].beats); };

  const Slot& me = g_local.slot;
  std::string ranks, behind, missing, silent, dead;
  for (int i = 0; i < n; ++i) ranks += (i ? ", " : "") + std::to_string(members[i]);
  std::string out = "; this rank is at step " + std::to_string(me.step) + " (" + phase_name(me.phase) + ")";
  if (seq >= 0) out += ", operation #" + std::to_string(seq) + " on axis '" + axis + "'";
  out += "; ranks of axis '" + axis + "' (world ranks): [" + ranks + "]";
  for (int i = 0; i < n; ++i) {
    const int r = members[i];
    if (r == MPI_UNDEFINED || r == g_board.rank) continue;
    if (!answered(r)) {
      silent += (silent.empty() ? "" : ", ") + std::to_string(r);
      continue;
    }
    const Slot& s = second[r];
    if (s.step < me.step || (s.step == me.step && s.phase < me.phase))
      behind += (behind.empty() ? "" : "; ") + std::string("world rank ") + std::to_string(r) + " at step " +
                std::to_string(s.step) + " (" + phase_name(s.phase) + ", last update " + fmt(now - s.wtime) + " s ago)";
    const bool not_arrived = seq >= 0 && axis_id >= 0 && axis_id < kAxes && s.seq[axis_id] < seq;
    const bool is_peer = seq < 0 && peer == i;
    if (not_arrived || is_peer)
      missing += (missing.empty() ? "" : "; ") + who(r, s) +
                 (not_arrived ? " (entered " + std::to_string(s.seq[axis_id]) + " so far; " : " (") +
                 state(first[r], s, now, check_s) + ")";
  }
  for (int r = 0; r < g_board.size; ++r)
    if (answered(r) && !responding(r)) dead += (dead.empty() ? "" : "; ") + who(r, second[r]) + " " + state(first[r], second[r], now, check_s);
  if (!behind.empty()) out += "; behind (likely stalled): " + behind;
  if (!missing.empty())
    out += seq >= 0 ? "; not arrived at operation #" + std::to_string(seq) + " on axis '" + axis + "': " + missing
                    : "; peer " + missing;
  if (!dead.empty()) out += "; not responding (stalled rank: stopped, or stuck outside MPI): " + dead;
  if (!silent.empty()) out += "; no answer within " + fmt(answer_s) + " s from world rank(s) " + silent + " (likely stalled)";
  if (behind.empty() && missing.empty() && silent.empty() && dead.empty())
    out += "; every rank of this axis has reached this operation and every rank is responding (the stall is elsewhere)";
  arm_exit_watchdog(axis, out, 3.0);
  return out;
}

}  // namespace tessera
