// Graceful-stop requests for preemptible jobs (Slurm `--signal=B:USR1@120`,
// `scancel --signal=USR1`, a plain SIGTERM). install_stop_signal_handler()
// makes SIGUSR1 and SIGTERM set a process-wide flag instead of killing the
// process; the trainer polls it once per step, agrees across ranks (all-reduce
// MAX), checkpoints and returns (the CLI then exits 3: "checkpointed and stopped
// early: requeue/resubmit with --resume"). A second SIGTERM after the first
// restores the default action, so a stuck job can still be terminated.
#pragma once

namespace tessera {

// Installs the handlers (idempotent). Safe to call before or after MPI_Init.
void install_stop_signal_handler();

// 0 = no request; otherwise the number of the first signal received.
int stop_signal_received();

// Clears the flag (tests).
void reset_stop_signal();

}  // namespace tessera
