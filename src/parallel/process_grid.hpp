// tessera::ProcessGrid: the Megatron-style DP × TP × PP decomposition of an MPI
// communicator. Rank order: tensor-parallel innermost, then pipeline, then data:
//     world_rank = tp_rank + tp * (pp_rank + pp * dp_rank)
// so a TP group is a block of consecutive ranks (one node, fast links).
//
// Axis communicators (created once, collectively, in the constructor, freed in
// the destructor; each rank's rank inside an axis communicator is its
// coordinate on that axis):
//   tp_comm        ranks with the same (dp, pp)          size tp
//   pp_comm        ranks with the same (dp, tp)          size pp
//   dp_comm        ranks with the same (pp, tp)          size dp
//   embedding_comm first and last pipeline stage of the same (dp, tp): size 2,
//                  rank 0 = first stage; MPI_COMM_NULL on the other stages and
//                  everywhere when pp == 1 (tied embeddings stay on one rank)
//   world_comm     a duplicate of `world` (grid traffic never mixes with the
//                  caller's own use of `world`)
// tp()/pp()/dp()/embedding()/world() are host-memory MPI Communicators over
// them; dp_device()/tp_device()/embedding_device() are the ones for buffers in the
// kernels' memory space (NCCL when that is device memory).
// Constructing a grid sets the rank context (src/runtime/rank_context.hpp) to
// "rank 5/8 (dp 1, pp 0, tp 1) on host H"; it is left in place afterwards so an
// error caught after the grid is gone still names the coordinates.
#pragma once
#include <mpi.h>
#include <memory>
#include <string>
#include "src/parallel/communicator.hpp"

namespace tessera {

class ProcessGrid {
 public:
  // Collective over `world`. Throws Error when a size is < 1 or when
  // dp*tp*pp != size of `world` ("parallel grid dp×tp×pp = 2×2×1 = 4 does not
  // match the 8 MPI ranks").
  ProcessGrid(MPI_Comm world, int dp, int tp, int pp);
  ~ProcessGrid();
  ProcessGrid(const ProcessGrid&) = delete;
  ProcessGrid& operator=(const ProcessGrid&) = delete;

  int world_rank() const { return world_rank_; }
  int world_size() const { return world_size_; }
  int dp_size() const { return dp_size_; }
  int tp_size() const { return tp_size_; }
  int pp_size() const { return pp_size_; }
  int dp_rank() const { return dp_rank_; }
  int tp_rank() const { return tp_rank_; }
  int pp_rank() const { return pp_rank_; }

  bool is_first_stage() const { return pp_rank_ == 0; }
  bool is_last_stage() const { return pp_rank_ == pp_size_ - 1; }
  // True on the ranks that hold an embedding_comm (first/last stage, pp > 1).
  bool in_embedding_group() const { return embedding_comm_ != MPI_COMM_NULL; }

  // World rank of the given coordinates (throws Error when out of range).
  int rank_of(int dp_rank, int pp_rank, int tp_rank) const;

  MPI_Comm world_comm() const { return world_comm_; }
  MPI_Comm tp_comm() const { return tp_comm_; }
  MPI_Comm pp_comm() const { return pp_comm_; }
  MPI_Comm dp_comm() const { return dp_comm_; }
  MPI_Comm embedding_comm() const { return embedding_comm_; }

  Communicator& world() { return *world_; }
  Communicator& tp() { return *tp_; }
  Communicator& pp() { return *pp_; }
  Communicator& dp() { return *dp_; }
  // Throws Error when !in_embedding_group().
  Communicator& embedding();

  // Communicators for buffers in the kernels' memory space (tessera::MemSpace: the gradient and
  // parameter slabs, optimizer state). With host memory (the Serial/OpenMP builds) they are dp(),
  // tp() and embedding() themselves. With device memory (a CUDA Kokkos) they are NCCL
  // communicators over the same ranks when NCCL is built (created on first use, which is
  // collective over the axis), else the MPI ones behind host staging copies
  // (make_host_staged_communicator; rank 0 says so once on stderr).
  Communicator& dp_device();
  Communicator& tp_device();
  Communicator& embedding_device();

  // Applies Communicator::set_timeout_seconds to every axis communicator.
  void set_timeout_seconds(double seconds);

  // "rank 5 (dp 1, pp 0, tp 1)"
  std::string describe() const;
  // "rank 5/8 (dp 1, pp 0, tp 1) on host H" (what the rank context is set to)
  std::string context() const;

 private:
  int world_rank_ = 0, world_size_ = 1;
  int dp_size_ = 1, tp_size_ = 1, pp_size_ = 1;
  int dp_rank_ = 0, tp_rank_ = 0, pp_rank_ = 0;
  MPI_Comm world_comm_ = MPI_COMM_NULL;
  MPI_Comm tp_comm_ = MPI_COMM_NULL;
  MPI_Comm pp_comm_ = MPI_COMM_NULL;
  MPI_Comm dp_comm_ = MPI_COMM_NULL;
  MPI_Comm embedding_comm_ = MPI_COMM_NULL;
  std::unique_ptr<Communicator> world_, tp_, pp_, dp_, embedding_;
  std::unique_ptr<Communicator> dp_device_, tp_device_, embedding_device_;  // device memory only
  Communicator& device_communicator(std::unique_ptr<Communicator>& slot, Communicator& host, MPI_Comm comm);
  double timeout_seconds_ = 0.0;
  std::string host_;
};

}  // namespace tessera
