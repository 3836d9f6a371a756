// Progress board for the hang watchdog: every rank publishes, in an MPI window
// over the world communicator, the step and phase it has reached, how many
// collectives it has entered on each axis, whether it is waiting in one now
// (with a heartbeat counter the wait loop bumps every 0.1 s) and its rank
// context ("rank 2/4 (dp 1, pp 0, tp 0) on host H"). A rank whose collective
// timed out reads every slot twice, 1 s apart, and names
//   * the ranks of its communicator that never arrived at this operation
//     (fewer operations entered on that axis than this rank's #n), and
//   * the ranks that show no sign of life (heartbeat unchanged and no new
//     progress during the check: SIGSTOPped, stuck in a kernel or outside MPI),
// e.g. "…; not arrived at operation #41 on axis 'tp': world rank 0 [rank 0/4
// (dp 0, pp 0, tp 0) on host vm] (entered 40; not responding …); not responding
// (likely stalled): world rank 0 [rank 0/4 (dp 0, pp 0, tp 0) on host vm] …".
//
// Cost: publish_progress() is a local MPI_Put + flush to this rank's own slot
// (no message to any other rank), once per step and phase change; operation
// counting is a local increment; a wait that lasts over 20 ms puts its slot
// every 0.1 s. Reads happen only on a timeout: MPI_Rget from each rank, each
// answer awaited at most `answer_s` seconds (with Open MPI's osc/sm — all ranks
// on one node — reads are plain loads; across nodes a peer stuck outside MPI
// may not answer, and is then reported as "no answer" — itself a sign of a stall).
//
// One board per process (open_progress_board is collective over `world`;
// close_progress_board too, except while an exception unwinds — then the window
// is leaked on purpose: the job is about to MPI_Abort and a collective free
// would hang).
#pragma once
#include <mpi.h>
#include <cstdint>
#include <string>

namespace tessera {

void open_progress_board(MPI_Comm world);
void close_progress_board();
bool progress_board_open();

// Records that this rank is at `step`, doing `phase` (a string literal: kept by
// pointer; indices into a fixed table are what the peers read).
void publish_progress(std::int64_t step, const char* phase);

// ---- what the communicators report (all local; cheap) ----------------------
// A slot index for an axis name ("world", "dp", "tp", "pp", "embedding", or up to
// three others; -1 when the table is full). Resets that axis' operation count:
// call when the communicator is created (collectively over its ranks).
int progress_axis(const std::string& axis);
// Counts one collective entered on `axis_id`; returns its number (1, 2, …).
std::int64_t progress_op_started(int axis_id);
// Brackets a wait loop; progress_wait_tick() is called from inside it (it puts
// the slot, with a bumped heartbeat, at most every 0.1 s once the wait has lasted 20 ms).
void progress_wait_begin(int axis_id, const char* op, std::int64_t seq);
void progress_wait_tick();
void progress_wait_end();

// For timeout messages on communicator `comm` (axis `axis`): "; this rank is at
// step S (phase) …; not arrived …; not responding …". `seq` is the timed-out
// collective's number (progress_op_started), or -1 for a point-to-point op with
// `peer` (a rank of `comm`). "" when no board is open or `comm` is null.
// The first call also arms a one-shot exit: 3 s later, if the process is still
// alive (unwinding hung in a collective destructor), it prints the report and
// _exit(1)s so the launcher ends the job.
std::string progress_report(MPI_Comm comm, const std::string& axis, int axis_id = -1, std::int64_t seq = -1,
                            int peer = -1, double answer_s = 2.0);

// RAII: open at construction, close at destruction (see above).
struct ProgressBoardScope {
  explicit ProgressBoardScope(MPI_Comm world) { open_progress_board(world); }
  ~ProgressBoardScope() { close_progress_board(); }
  ProgressBoardScope(const ProgressBoardScope&) = delete;
  ProgressBoardScope& operator=(const ProgressBoardScope&) = delete;
};

}  // namespace tessera
