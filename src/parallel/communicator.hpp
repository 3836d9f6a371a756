// tessera::Communicator: the one interface the engine uses for collective and
// point-to-point traffic along one axis of the parallel grid (tp, pp, dp,
// embedding, world). Two backends:
//   make_mpi_communicator   host memory, MPI (always available)
//   make_nccl_communicator  device memory, NCCL on a CUDA stream (TESSERA_HAVE_NCCL)
//
// Semantics common to both backends
//   * Counts are in elements of the given DType; buffers are contiguous.
//   * Blocking calls return when this rank's part is complete (result readable).
//   * Async calls return a PendingOp; the buffers must stay alive and untouched
//     until wait() returns or test() returned true. Every rank of the
//     communicator must issue the collectives in the same order.
//   * reduce_scatter: send holds size()*recv_count elements; rank r receives the
//     reduction of block r. In-place form: recv == send + rank()*recv_count
//     (the rest of send is clobbered). Otherwise send/recv must not overlap.
//   * all_gather: recv holds size()*send_count elements, block r from rank r.
//     In-place form: send == recv + rank()*send_count.
//   * send/recv tags: MPI matches on (peer, tag); NCCL ignores the tag and
//     matches messages per peer in issue order.
//   * Timeouts (set_timeout_seconds, default 0 = wait forever): a blocking op or
//     PendingOp::wait() that does not complete in time throws tessera::Error
//     naming the backend, axis, op and this rank's context (rank_context()).
//     A timed-out receive is cancelled; after a timed-out collective the
//     communicator is unusable (every later op throws) — end the job.
//   * Traffic accounting: bytes(kind) is the payload this rank handed to ops of
//     that kind since the last reset_counters(): all_reduce / broadcast / send /
//     recv count*sizeof(dtype); reduce_scatter size()*recv_count*sizeof (the
//     input); all_gather send_count*sizeof (the input); barrier 0. calls(kind)
//     counts the calls. Async ops count when issued.
#pragma once
#include <mpi.h>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace tessera {

enum class DType { F32, F64, I32, I64, U8 };
enum class ReduceOp { Sum, Max, Min };
enum class OpKind { AllReduce, ReduceScatter, AllGather, Broadcast, Send, Recv, Barrier };
inline constexpr int kOpKindCount = 7;

std::size_t dtype_size(DType t);
const char* to_string(DType t);     // "f32", "f64", "i32", "i64", "u8"
const char* to_string(ReduceOp op);  // "sum", "max", "min"
const char* to_string(OpKind k);     // "all_reduce", "reduce_scatter", …

// A nonblocking operation in flight. Destroying it without wait() does not wait:
// call wait() (or see test() return true) before reusing the buffers.
class PendingOp {
 public:
  virtual ~PendingOp() = default;
  // Blocks until complete (honours the communicator's timeout; throws Error).
  virtual void wait() = 0;
  // True when complete; never blocks.
  virtual bool test() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // The grid axis this communicator spans: "tp", "pp", "dp", "embedding", "world", …
  const std::string& axis() const { return axis_; }
  // "mpi" or "nccl".
  virtual const char* backend() const = 0;
  // True after a collective timed out: the communicator refuses further ops and
  // its underlying MPI communicator must not be freed (MPI may still progress
  // the abandoned operation; freeing it crashes Open MPI) — end the job.
  virtual bool failed() const { return false; }
  // The CUDA stream (cudaStream_t) the ops run on; nullptr for host backends.
  virtual void* device_stream() const { return nullptr; }

  virtual void all_reduce(void* buf, std::size_t count, DType dtype, ReduceOp op) = 0;
  virtual std::unique_ptr<PendingOp> all_reduce_async(void* buf, std::size_t count, DType dtype, ReduceOp op) = 0;
  virtual void reduce_scatter(const void* send, void* recv, std::size_t recv_count, DType dtype, ReduceOp op) = 0;
  virtual void all_gather(const void* send, void* recv, std::size_t send_count, DType dtype) = 0;
  virtual void broadcast(void* buf, std::size_t count, DType dtype, int root) = 0;
  virtual void send(const void* buf, std::size_t count, DType dtype, int peer, int tag) = 0;
  virtual void recv(void* buf, std::size_t count, DType dtype, int peer, int tag) = 0;
  virtual std::unique_ptr<PendingOp> isend(const void* buf, std::size_t count, DType dtype, int peer, int tag) = 0;
  virtual std::unique_ptr<PendingOp> irecv(void* buf, std::size_t count, DType dtype, int peer, int tag) = 0;
  virtual void barrier() = 0;

  // Hang watchdog: seconds a blocking op / wait() may take; <= 0 waits forever.
  void set_timeout_seconds(double seconds) { timeout_seconds_ = seconds; }
  double timeout_seconds() const { return timeout_seconds_; }

  // Traffic accounting (see the header comment).
  std::uint64_t bytes(OpKind kind) const { return bytes_[index(kind)].load(std::memory_order_relaxed); }
  std::uint64_t calls(OpKind kind) const { return calls_[index(kind)].load(std::memory_order_relaxed); }
  std::uint64_t total_bytes() const;
  // Seconds this rank spent blocked waiting for this axis' operations to complete
  // (blocking ops and PendingOp::wait) since the last reset_counters().
  double wait_seconds() const { return double(wait_ns_->load(std::memory_order_relaxed)) * 1e-9; }
  void reset_counters();

 protected:
  explicit Communicator(std::string axis) : axis_(std::move(axis)) {}
  // Shared with pending operations, which outlive no communicator but report their waits.
  std::shared_ptr<std::atomic<std::uint64_t>> wait_ns_ = std::make_shared<std::atomic<std::uint64_t>>(0);
  void count(OpKind kind, std::uint64_t bytes) {
    bytes_[index(kind)].fetch_add(bytes, std::memory_order_relaxed);
    calls_[index(kind)].fetch_add(1, std::memory_order_relaxed);
  }

 private:
  static std::size_t index(OpKind k) { return static_cast<std::size_t>(k); }
  std::string axis_;
  double timeout_seconds_ = 0.0;
  std::array<std::atomic<std::uint64_t>, kOpKindCount> bytes_{};
  std::array<std::atomic<std::uint64_t>, kOpKindCount> calls_{};
};

// Host-memory communicator over `comm`. Does not take ownership: `comm` must
// outlive the communicator (ProcessGrid owns and frees its MPI communicators).
std::unique_ptr<Communicator> make_mpi_communicator(MPI_Comm comm, std::string axis);

// Device-memory communicator: NCCL over the ranks of `comm` (collective over
// `comm`: rank 0 creates the ncclUniqueId and broadcasts it with MPI_Bcast).
// Select the CUDA device (cudaSetDevice) before calling. Ops run on a private
// CUDA stream; PendingOp is a CUDA event. Throws Error("… built without NCCL")
// when Tessera was built without NCCL.
std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm comm, std::string axis);

// True when make_nccl_communicator is available in this build.
bool nccl_available();

}  // namespace tessera
