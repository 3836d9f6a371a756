#include "src/parallel/process_grid.hpp"
#include <exception>
#include <iostream>
#include <type_traits>
#include "kernels/views.hpp"
#include "src/parallel/host_staged_communicator.hpp"
#include "src/runtime/error.hpp"
#include "src/runtime/rank_context.hpp"

namespace tessera {

namespace {

void check_mpi(int rc, const char* call) {
  if (rc != MPI_SUCCESS) throw Error(std::string("parallel grid: ") + call + " failed (MPI error " + std::to_string(rc) + ")");
}

void free_comm(MPI_Comm& c) {
  if (c != MPI_COMM_NULL) MPI_Comm_free(&c);
  c = MPI_COMM_NULL;
}

}  // namespace

ProcessGrid::ProcessGrid(MPI_Comm world, int dp, int tp, int pp) : dp_size_(dp), tp_size_(tp), pp_size_(pp) {
  require(world != MPI_COMM_NULL, "parallel grid: the world communicator is MPI_COMM_NULL");
  check_mpi(MPI_Comm_rank(world, &world_rank_), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(world, &world_size_), "MPI_Comm_size");
  if (dp < 1 || tp < 1 || pp < 1)
    throw Error("parallel grid dp×tp×pp = " + std::to_string(dp) + "×" + std::to_string(tp) + "×" + std::to_string(pp) +
                ": every size must be at least 1");
  const long long product = static_cast<long long>(dp) * tp * pp;
  if (product != world_size_)
    throw Error("parallel grid dp×tp×pp = " + std::to_string(dp) + "×" + std::to_string(tp) + "×" + std::to_string(pp) +
                " = " + std::to_string(product) + " does not match the " + std::to_string(world_size_) +
                (world_size_ == 1 ? " MPI rank" : " MPI ranks"));

  tp_rank_ = world_rank_ % tp;
  pp_rank_ = (world_rank_ / tp) % pp;
  dp_rank_ = world_rank_ / (tp * pp);
  host_ = host_name();

  try {
    check_mpi(MPI_Comm_dup(world, &world_comm_), "MPI_Comm_dup");
    check_mpi(MPI_Comm_split(world_comm_, dp_rank_ * pp + pp_rank_, tp_rank_, &tp_comm_), "MPI_Comm_split (tp)");
    check_mpi(MPI_Comm_split(world_comm_, dp_rank_ * tp + tp_rank_, pp_rank_, &pp_comm_), "MPI_Comm_split (pp)");
    check_mpi(MPI_Comm_split(world_comm_, pp_rank_ * tp + tp_rank_, dp_rank_, &dp_comm_), "MPI_Comm_split (dp)");
    if (pp > 1) {
      const bool member = is_first_stage() || is_last_stage();
      check_mpi(MPI_Comm_split(world_comm_, member ? dp_rank_ * tp + tp_rank_ : MPI_UNDEFINED, pp_rank_, &embedding_comm_),
                "MPI_Comm_split (embedding)");
    }
    world_ = make_mpi_communicator(world_comm_, "world");
    tp_ = make_mpi_communicator(tp_comm_, "tp");
    pp_ = make_mpi_communicator(pp_comm_, "pp");
    dp_ = make_mpi_communicator(dp_comm_, "dp");
    if (embedding_comm_ != MPI_COMM_NULL) embedding_ = make_mpi_communicator(embedding_comm_, "embedding");
  } catch (...) {
    free_comm(embedding_comm_);
    free_comm(dp_comm_);
    free_comm(pp_comm_);
    free_comm(tp_comm_);
    free_comm(world_comm_);
    throw;
  }
  set_rank_context(context());
}

ProcessGrid::~ProcessGrid() {
  // After a timed-out collective MPI may still progress the abandoned operation:
  // freeing its communicator would crash Open MPI, so leak them all (the job is
  // about to end anyway).
  bool failed = false;
  for (Communicator* c : {world_.get(), tp_.get(), pp_.get(), dp_.get(), embedding_.get(), dp_device_.get(),
                          tp_device_.get(), embedding_device_.get()})
    if (c && c->failed()) failed = true;
  embedding_device_.reset();
  tp_device_.reset();
  dp_device_.reset();
  embedding_.reset();
  dp_.reset();
  pp_.reset();
  tp_.reset();
  world_.reset();
  int finalized = 0;
  MPI_Finalized(&finalized);
  // While an error unwinds, the other ranks may be inside a collective: freeing
  // communicators could wait on them; main() aborts the job right after.
  if (finalized || failed || std::uncaught_exceptions() > 0) return;
  free_comm(embedding_comm_);
  free_comm(dp_comm_);
  free_comm(pp_comm_);
  free_comm(tp_comm_);
  free_comm(world_comm_);
}

int ProcessGrid::rank_of(int dp_rank, int pp_rank, int tp_rank) const {
  if (dp_rank < 0 || dp_rank >= dp_size_ || pp_rank < 0 || pp_rank >= pp_size_ || tp_rank < 0 || tp_rank >= tp_size_)
    throw Error("parallel grid: coordinates (dp " + std::to_string(dp_rank) + ", pp " + std::to_string(pp_rank) + ", tp " +
                std::to_string(tp_rank) + ") are outside the " + std::to_string(dp_size_) + "×" + std::to_string(tp_size_) +
                "×" + std::to_string(pp_size_) + " grid");
  return tp_rank + tp_size_ * (pp_rank + pp_size_ * dp_rank);
}

Communicator& ProcessGrid::embedding() {
  if (!embedding_)
    throw Error("parallel grid: " + describe() + " has no embedding communicator (" +
                (pp_size_ == 1 ? std::string("pp = 1") : std::string("not the first or last pipeline stage")) + ")");
  return *embedding_;
}

void ProcessGrid::set_timeout_seconds(double seconds) {
  timeout_seconds_ = seconds;
  for (Communicator* c : {world_.get(), tp_.get(), pp_.get(), dp_.get(), embedding_.get(), dp_device_.get(),
                          tp_device_.get(), embedding_device_.get()})
    if (c) c->set_timeout_seconds(seconds);
}

Communicator& ProcessGrid::device_communicator(std::unique_ptr<Communicator>& slot, Communicator& host, MPI_Comm comm) {
  if constexpr (std::is_same_v<MemSpace, Kokkos::HostSpace>) {
    (void)slot;
    (void)comm;
    return host;
  } else {
    if (!slot) {
      if (nccl_available()) {
        slot = make_nccl_communicator(comm, host.axis());
      } else {
        if (world_rank_ == 0)
          std::cerr << "tessera: " << host.axis() << " reductions of device buffers go through host memory (MPI): "
                    << "this build has no NCCL\n";
        slot = make_host_staged_communicator(host);
      }
      slot->set_timeout_seconds(timeout_seconds_);
    }
    return *slot;
  }
}

Communicator& ProcessGrid::dp_device() { return device_communicator(dp_device_, *dp_, dp_comm_); }
Communicator& ProcessGrid::tp_device() { return device_communicator(tp_device_, *tp_, tp_comm_); }
Communicator& ProcessGrid::embedding_device() {
  Communicator& host = embedding();  // throws when this rank has none
  return device_communicator(embedding_device_, host, embedding_comm_);
}

std::string ProcessGrid::describe() const {
  return "rank " + std::to_string(world_rank_) + " (dp " + std::to_string(dp_rank_) + ", pp " + std::to_string(pp_rank_) +
         ", tp " + std::to_string(tp_rank_) + ")";
}

std::string ProcessGrid::context() const {
  return "rank " + std::to_string(world_rank_) + "/" + std::to_string(world_size_) + " (dp " + std::to_string(dp_rank_) +
         ", pp " + std::to_string(pp_rank_) + ", tp " + std::to_string(tp_rank_) + ") on host " + host_;
}

}  // namespace tessera
