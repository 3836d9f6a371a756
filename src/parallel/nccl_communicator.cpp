// NCCL backend of tessera::Communicator: device-memory buffers, ops enqueued on
// a private CUDA stream. Compiled only when TESSERA_HAVE_NCCL (CMakeLists.txt).
//
// Blocking ops enqueue, record a CUDA event and wait on it with a poll loop that
// also checks ncclCommGetAsyncError and the communicator's timeout (on timeout
// the NCCL communicator is aborted — it cannot be used afterwards — and Error
// is thrown). PendingOp is a CUDA event on the stream.
// Point-to-point: NCCL has no tags and a send blocks the stream until the peer
// posts the matching receive, so exchanges must be ordered (e.g. even ranks
// send first) exactly as with blocking MPI.
#include <cuda_runtime.h>
#include <nccl.h>
#include <sched.h>
#include <chrono>
#include <cstdio>
#include <thread>
#include "src/parallel/communicator.hpp"
#include "src/runtime/error.hpp"
#include "src/runtime/rank_context.hpp"

namespace tessera {

bool nccl_available() { return true; }

namespace {

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::F32: return ncclFloat32;
    case DType::F64: return ncclFloat64;
    case DType::I32: return ncclInt32;
    case DType::I64: return ncclInt64;
    case DType::U8: return ncclUint8;
  }
  throw Error("unknown DType");
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return ncclSum;
    case ReduceOp::Max: return ncclMax;
    case ReduceOp::Min: return ncclMin;
  }
  throw Error("unknown ReduceOp");
}

std::string context_suffix() {
  std::string ctx = rank_context();
  return ctx.empty() ? std::string() : " [" + ctx + "]";
}

std::string seconds_str(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", s);
  return buf;
}

// Shared between the communicator and its PendingOps (which may outlive it).
struct NcclState {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  std::string axis;
  bool aborted = false;

  std::string where(const char* call) const {
    return std::string(call) + " on axis '" + axis + "'";
  }
  void check_nccl(ncclResult_t r, const char* call) const {
    if (r == ncclSuccess || r == ncclInProgress) return;
    std::string last = comm ? ncclGetLastError(comm) : "";
    throw Error("NCCL " + where(call) + " failed: " + ncclGetErrorString(r) + (last.empty() ? "" : " (" + last + ")") +
                context_suffix());
  }
  void check_cuda(cudaError_t e, const char* call) const {
    if (e != cudaSuccess) throw Error("CUDA " + where(call) + " failed: " + cudaGetErrorString(e) + context_suffix());
  }

  // Waits for `event`; polls NCCL's async error and the timeout.
  void wait_event(cudaEvent_t event, double timeout, const char* op) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    long spins = 0;
    for (;;) {
      cudaError_t q = cudaEventQuery(event);
      if (q == cudaSuccess) return;
      if (q != cudaErrorNotReady) check_cuda(q, op);
      if (aborted) throw Error("NCCL " + where(op) + ": communicator aborted after an earlier timed-out operation" + context_suffix());
      if (comm == nullptr) throw Error("NCCL " + where(op) + ": waited on after the communicator was destroyed");
      ncclResult_t async_err = ncclSuccess;
      check_nccl(ncclCommGetAsyncError(comm, &async_err), "ncclCommGetAsyncError");
      if (async_err != ncclSuccess && async_err != ncclInProgress) check_nccl(async_err, op);
      if (timeout > 0.0 && std::chrono::duration<double>(clock::now() - start).count() >= timeout) {
        ncclCommAbort(comm);  // frees the handle
        comm = nullptr;
        aborted = true;
        throw Error("NCCL " + where(op) + " timed out after " + seconds_str(timeout) +
                    " (NCCL communicator aborted)" + context_suffix());
      }
      if (++spins < 1000) {
        sched_yield();
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    }
  }
};

class NcclPendingOp final : public PendingOp {
 public:
  NcclPendingOp(std::shared_ptr<NcclState> state, double timeout, const char* op)
      : state_(std::move(state)), timeout_(timeout), op_(op) {
    state_->check_cuda(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming), "cudaEventCreateWithFlags");
    cudaError_t e = cudaEventRecord(event_, state_->stream);
    if (e != cudaSuccess) {
      cudaEventDestroy(event_);
      state_->check_cuda(e, "cudaEventRecord");
    }
  }
  ~NcclPendingOp() override {
    if (event_) cudaEventDestroy(event_);
  }
  void wait() override { state_->wait_event(event_, timeout_, op_); }
  bool test() override {
    cudaError_t q = cudaEventQuery(event_);
    if (q == cudaSuccess) return true;
    if (q != cudaErrorNotReady) state_->check_cuda(q, op_);
    return false;
  }

 private:
  std::shared_ptr<NcclState> state_;
  cudaEvent_t event_ = nullptr;
  double timeout_;
  const char* op_;
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(MPI_Comm mpi_comm, std::string axis)
      : Communicator(std::move(axis)), state_(std::make_shared<NcclState>()) {
    require(mpi_comm != MPI_COMM_NULL, "cannot create the NCCL communicator for axis '" + this->axis() + "': MPI_COMM_NULL");
    state_->axis = this->axis();
    MPI_Comm_rank(mpi_comm, &rank_);
    MPI_Comm_size(mpi_comm, &size_);
    ncclUniqueId id{};
    // Rank 0's failure must not leave the others blocked in MPI_Bcast: broadcast
    // a status word together with the id.
    struct {
      ncclUniqueId id;
      int ok;
    } msg{};
    std::string err;
    if (rank_ == 0) {
      ncclResult_t r = ncclGetUniqueId(&msg.id);
      msg.ok = r == ncclSuccess;
      if (!msg.ok) err = ncclGetErrorString(r);
    }
    MPI_Bcast(&msg, static_cast<int>(sizeof msg), MPI_BYTE, 0, mpi_comm);
    if (!msg.ok)
      throw Error("NCCL ncclGetUniqueId on axis '" + this->axis() + "' failed" + (err.empty() ? " on rank 0" : ": " + err) +
                  context_suffix());
    id = msg.id;
    state_->check_cuda(cudaStreamCreateWithFlags(&state_->stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    ncclResult_t r = ncclCommInitRank(&state_->comm, size_, id, rank_);
    if (r != ncclSuccess) {
      cudaStreamDestroy(state_->stream);
      state_->comm = nullptr;
      state_->check_nccl(r, "ncclCommInitRank");
    }
    cudaError_t e = cudaMalloc(&scratch_, sizeof(int));
    if (e != cudaSuccess) {
      release();
      state_->check_cuda(e, "cudaMalloc");
    }
  }

  ~NcclCommunicator() override { release(); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "nccl"; }
  bool failed() const override { return state_->aborted; }
  void* device_stream() const override { return static_cast<void*>(state_->stream); }

  void all_reduce(void* buf, std::size_t count_, DType dtype, ReduceOp op) override {
    enqueue_all_reduce(buf, count_, dtype, op);
    sync("ncclAllReduce");
  }
  std::unique_ptr<PendingOp> all_reduce_async(void* buf, std::size_t count_, DType dtype, ReduceOp op) override {
    enqueue_all_reduce(buf, count_, dtype, op);
    return std::make_unique<NcclPendingOp>(state_, timeout_seconds(), "ncclAllReduce");
  }
  void reduce_scatter(const void* send, void* recv, std::size_t recv_count, DType dtype, ReduceOp op) override {
    usable("ncclReduceScatter");
    count(OpKind::ReduceScatter, recv_count * size_ * dtype_size(dtype));
    state_->check_nccl(ncclReduceScatter(send, recv, recv_count, nccl_type(dtype), nccl_op(op), state_->comm, state_->stream),
                       "ncclReduceScatter");
    sync("ncclReduceScatter");
  }
  void all_gather(const void* send, void* recv, std::size_t send_count, DType dtype) override {
    usable("ncclAllGather");
    count(OpKind::AllGather, send_count * dtype_size(dtype));
    state_->check_nccl(ncclAllGather(send, recv, send_count, nccl_type(dtype), state_->comm, state_->stream), "ncclAllGather");
    sync("ncclAllGather");
  }
  void broadcast(void* buf, std::size_t count_, DType dtype, int root) override {
    usable("ncclBroadcast");
    check_peer(root, "ncclBroadcast");
    count(OpKind::Broadcast, count_ * dtype_size(dtype));
    state_->check_nccl(ncclBroadcast(buf, buf, count_, nccl_type(dtype), root, state_->comm, state_->stream), "ncclBroadcast");
    sync("ncclBroadcast");
  }
  void send(const void* buf, std::size_t count_, DType dtype, int peer, int /*tag*/) override {
    enqueue_send(buf, count_, dtype, peer);
    sync("ncclSend");
  }
  void recv(void* buf, std::size_t count_, DType dtype, int peer, int /*tag*/) override {
    enqueue_recv(buf, count_, dtype, peer);
    sync("ncclRecv");
  }
  std::unique_ptr<PendingOp> isend(const void* buf, std::size_t count_, DType dtype, int peer, int /*tag*/) override {
    enqueue_send(buf, count_, dtype, peer);
    return std::make_unique<NcclPendingOp>(state_, timeout_seconds(), "ncclSend");
  }
  std::unique_ptr<PendingOp> irecv(void* buf, std::size_t count_, DType dtype, int peer, int /*tag*/) override {
    enqueue_recv(buf, count_, dtype, peer);
    return std::make_unique<NcclPendingOp>(state_, timeout_seconds(), "ncclRecv");
  }
  void barrier() override {
    // NCCL has no barrier: a one-int all-reduce on the stream, then wait for it.
    usable("barrier");
    count(OpKind::Barrier, 0);
    state_->check_nccl(ncclAllReduce(scratch_, scratch_, 1, ncclInt32, ncclSum, state_->comm, state_->stream),
                       "ncclAllReduce (barrier)");
    sync("ncclAllReduce (barrier)");
  }

 private:
  void enqueue_all_reduce(void* buf, std::size_t n, DType dtype, ReduceOp op) {
    usable("ncclAllReduce");
    count(OpKind::AllReduce, n * dtype_size(dtype));
    state_->check_nccl(ncclAllReduce(buf, buf, n, nccl_type(dtype), nccl_op(op), state_->comm, state_->stream), "ncclAllReduce");
  }
  void enqueue_send(const void* buf, std::size_t n, DType dtype, int peer) {
    usable("ncclSend");
    check_peer(peer, "ncclSend");
    count(OpKind::Send, n * dtype_size(dtype));
    state_->check_nccl(ncclSend(buf, n, nccl_type(dtype), peer, state_->comm, state_->stream), "ncclSend");
  }
  void enqueue_recv(void* buf, std::size_t n, DType dtype, int peer) {
    usable("ncclRecv");
    check_peer(peer, "ncclRecv");
    count(OpKind::Recv, n * dtype_size(dtype));
    state_->check_nccl(ncclRecv(buf, n, nccl_type(dtype), peer, state_->comm, state_->stream), "ncclRecv");
  }
  void sync(const char* op) {
    NcclPendingOp ev(state_, timeout_seconds(), op);
    ev.wait();
  }
  void usable(const char* op) const {
    if (state_->aborted)
      throw Error("NCCL " + state_->where(op) + ": communicator aborted after an earlier timed-out operation" + context_suffix());
  }
  void check_peer(int peer, const char* op) const {
    if (peer < 0 || peer >= size_)
      throw Error("NCCL " + state_->where(op) + ": peer/root " + std::to_string(peer) + " is out of range (communicator size " +
                  std::to_string(size_) + ")");
  }
  void release() noexcept {
    if (scratch_) {
      cudaFree(scratch_);
      scratch_ = nullptr;
    }
    if (state_->comm) {
      ncclCommDestroy(state_->comm);
      state_->comm = nullptr;
    }
    if (state_->stream) {
      cudaStreamDestroy(state_->stream);
      state_->stream = nullptr;
    }
  }

  std::shared_ptr<NcclState> state_;
  int rank_ = 0;
  int size_ = 1;
  void* scratch_ = nullptr;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm comm, std::string axis) {
  return std::make_unique<NcclCommunicator>(comm, std::move(axis));
}

}  // namespace tessera
