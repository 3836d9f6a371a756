// Fail fast on impossible sizes: an estimate, from the config and the grid
// alone (nothing allocated), of the host memory one rank needs to train —
// parameters, gradients, AdamW moments, the checkpoint staging copies and the
// activations kept for backward — and what this node offers (/proc/meminfo
// MemAvailable, capped by the cgroup memory limit), shared by the ranks on it.
#pragma once
#include <mpi.h>
#include <cstdint>
#include <string>
#include "src/config/run_config.hpp"

namespace tessera {

struct MemoryEstimate {
  double parameters = 0;   // parameters on the largest stage / tp slice
  double params_bytes = 0;
  double grads_bytes = 0;
  double optimizer_bytes = 0;   // AdamW exp_avg + exp_avg_sq (÷ dp with ZeRO-1)
  double checkpoint_bytes = 0;  // host staging of params + moments while saving / loading
  double activation_bytes = 0;  // forward activations kept for backward (1F1B: up to pp micro-batches; less with
                                // train.recompute)
  RecomputeKind recompute = RecomputeKind::None;  // train.recompute the activation figure assumes
  double total() const { return params_bytes + grads_bytes + optimizer_bytes + checkpoint_bytes + activation_bytes; }
};

// Per rank (the largest stage), for cfg's model and [parallel] grid; seq_len =
// data.seq_len when set, else model.n_positions.
MemoryEstimate estimate_training_memory(const RunConfig& cfg);

// Bytes this process may still allocate: MemAvailable from /proc/meminfo, capped
// by the cgroup (v2 memory.max − memory.current, v1 limit − usage); < 0 when unknown.
// `source` (optional) says where the number came from.
double available_memory_bytes(std::string* source = nullptr);

// "1.2 GiB"-style text.
std::string format_bytes(double bytes);

// One line: "memory estimate per rank: 12.3 GiB (parameters 1.2 GiB, …)".
std::string describe(const MemoryEstimate& m);

// Collective over `world`: refuses (tessera::Error on every rank, with the
// estimate and what is available) when the estimate exceeds the memory of this
// rank's node divided among its ranks there. TESSERA_MEMORY_LIMIT_BYTES
// replaces the available figure (tests).
void check_training_memory(const RunConfig& cfg, MPI_Comm world);

}  // namespace tessera
