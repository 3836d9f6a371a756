// Which checkpoint `train --resume` continues from: the newest complete
// step_*.h5 in the checkpoint directory that passes resume_problem()
// (io/checkpoint_verify.hpp: valid state, nothing --resume needs missing, every
// chunk's checksum verifies). Newer ones that fail are skipped, with the reason.
#pragma once
#include <mpi.h>
#include <functional>
#include <string>
#include <vector>

namespace tessera {

struct ResumeChoice {
  std::string file;                  // "" = no checkpoint in the directory at all: start fresh
  std::vector<std::string> skipped;  // "skipped <file>: <reason>", newest first
};

// Collective over comm: rank 0 verifies, every rank gets the same choice. Throws
// Error listing every reason when checkpoints exist but none can be resumed.
ResumeChoice choose_resume_checkpoint(const std::string& dir, MPI_Comm comm);

// Runs fn and prefixes any Error it throws with "<file>: " (position, early-stopping
// state restored from a checkpoint).
void with_checkpoint_context(const std::string& file, const std::function<void()>& fn);

}  // namespace tessera
