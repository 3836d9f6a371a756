// `tessera calibrate CONFIG [--split validation] [--bins 15] [--output DIR]
// [--checkpoint CKPT | --ensemble A.h5,B.h5] [--mc-dropout T --seed S]
// [--fit-temperature]`: calibration of a sequence classifier on a split of its task
// dataset: ECE / MCE (equal-width confidence bins), Brier score, NLL, accuracy,
// accuracy vs coverage (selective prediction), a reliability diagram PNG and
// DIR/calibration.json (docs/explain.md "Calibration and uncertainty").
// --fit-temperature fits T on the split by minimising the NLL and stores it in the
// checkpoint (/run/scalars@temperature); calibrate, eval and predict then apply it.
#pragma once
#include <mpi.h>

namespace CLI {
class App;
}

namespace tessera {

void register_calibrate(CLI::App& app);
int run_calibrate(MPI_Comm comm);

}  // namespace tessera
