// Running a study inside one MPI job: the world is split (MPI_Comm_split) into
// groups of ranks_per_trial ranks; each group is a full DP × TP × PP grid running
// one trial at a time through run_training, the same entry point as `train`. A
// group that finishes takes the next trial at once from the locked journal (no
// barrier between groups); world rank 0 writes the study header and, at the end,
// the outputs. Several jobs (Slurm array tasks) may run the same study directory.
#pragma once
#include <mpi.h>
#include "src/tune/study_file.hpp"

namespace tessera {

// 0 = the budget is spent; 3 = stopped by a signal (resume by running it again).
int run_study(const StudySpec& spec, MPI_Comm world);

}  // namespace tessera
