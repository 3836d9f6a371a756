// Progress board for the hang watchdog: every rank publishes the step and phase
// it has reached in an MPI window over the world communicator, so a rank whose
// collective timed out can name the peers that never arrived, e.g.
//   "… timed out after 5 s [rank 0/2 …]; this rank is at step 3 (train);
//    ranks of axis 'dp' (world ranks): [0, 1]; behind: world rank 1 at step 2
//    (train, last update 5.0 s ago)"
//
// Cost: publish() is a local MPI_Put + flush to this rank's own slot (no
// message to any other rank). Reads happen only on a timeout: MPI_Rget from each
// rank of the stalled communicator, each answer awaited at most `answer_s`
// seconds (with Open MPI's osc/sm — all ranks on one node — reads are plain
// loads; across nodes a peer stuck outside MPI may not answer, and is then
// reported as "no answer" — itself a sign of a stall).
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

// For timeout messages: "; this rank is at step S (phase); ranks of axis 'A'
// (world ranks): [...]; behind: …". "" when no board is open or `comm` is null.
// The first call also arms a one-shot exit: 3 s later, if the process is still
// alive (unwinding hung in a collective destructor), it prints the report and
// _exit(1)s so the launcher ends the job.
std::string progress_report(MPI_Comm comm, const std::string& axis, double answer_s = 2.0);

// RAII: open at construction, close at destruction (see above).
struct ProgressBoardScope {
  explicit ProgressBoardScope(MPI_Comm world) { open_progress_board(world); }
  ~ProgressBoardScope() { close_progress_board(); }
  ProgressBoardScope(const ProgressBoardScope&) = delete;
  ProgressBoardScope& operator=(const ProgressBoardScope&) = delete;
};

}  // namespace tessera
