// `tessera tune STUDY.toml [--study-dir DIR]`: hyperparameter and architecture
// search (docs/tune.md). Trials run concurrently as groups of ranks_per_trial MPI
// ranks of this job, or as several jobs (Slurm array tasks) sharing one study
// directory. Exit 0 when the budget is spent, 3 when stopped by a signal (run the
// same command again to resume), 1 on a bad study file (nothing started).
#pragma once
#include <mpi.h>

namespace CLI {
class App;
}

namespace tessera {

void register_tune(CLI::App& app);
// Runs it when it was selected and returns its exit code; -1 when it was not.
int run_tune(MPI_Comm comm);

}  // namespace tessera
