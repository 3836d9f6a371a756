// MPI backend of tessera::Communicator, plus the backend-independent helpers.
// Every blocking op is a nonblocking MPI call completed by wait_requests(): a
// test loop with an optional timeout (the hang watchdog).
#include <sched.h>
#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>
#include "src/parallel/communicator.hpp"
#include "src/runtime/error.hpp"
#include "src/runtime/progress_board.hpp"  // hang watchdog: name the ranks that are behind
#include "src/runtime/rank_context.hpp"

namespace tessera {

// ---- backend-independent helpers -------------------------------------------

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F64: return 8;
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::U8: return 1;
  }
  throw Error("unknown DType");
}

const char* to_string(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::F64: return "f64";
    case DType::I32: return "i32";
    case DType::I64: return "i64";
    case DType::U8: return "u8";
  }
  return "?";
}

const char* to_string(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Max: return "max";
    case ReduceOp::Min: return "min";
  }
  return "?";
}

const char* to_string(OpKind k) {
  switch (k) {
    case OpKind::AllReduce: return "all_reduce";
    case OpKind::ReduceScatter: return "reduce_scatter";
    case OpKind::AllGather: return "all_gather";
    case OpKind::Broadcast: return "broadcast";
    case OpKind::Send: return "send";
    case OpKind::Recv: return "recv";
    case OpKind::Barrier: return "barrier";
  }
  return "?";
}

std::uint64_t Communicator::total_bytes() const {
  std::uint64_t t = 0;
  for (const auto& b : bytes_) t += b.load(std::memory_order_relaxed);
  return t;
}

void Communicator::reset_counters() {
  wait_ns_->store(0, std::memory_order_relaxed);
  for (auto& b : bytes_) b.store(0, std::memory_order_relaxed);
  for (auto& c : calls_) c.store(0, std::memory_order_relaxed);
}

#ifndef TESSERA_HAVE_NCCL
std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm, std::string axis) {
  throw Error("cannot create the NCCL communicator for axis '" + axis +
              "': Tessera was built without NCCL (configure with the CUDA toolkit and libnccl)");
}
bool nccl_available() { return false; }
#endif

// ---- MPI backend ------------------------------------------------------------

namespace {

// Largest element count handed to one MPI call (MPI counts are int).
constexpr std::size_t kMaxChunk = std::size_t(1) << 30;

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::F32: return MPI_FLOAT;
    case DType::F64: return MPI_DOUBLE;
    case DType::I32: return MPI_INT32_T;
    case DType::I64: return MPI_INT64_T;
    case DType::U8: return MPI_UINT8_T;
  }
  throw Error("unknown DType");
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return MPI_SUM;
    case ReduceOp::Max: return MPI_MAX;
    case ReduceOp::Min: return MPI_MIN;
  }
  throw Error("unknown ReduceOp");
}

std::string mpi_error_string(int code) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, buf, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(buf, static_cast<std::size_t>(len));
}

// What a wait needs to name itself in an error and to honour the timeout.
struct OpInfo {
  std::string axis;
  const char* op = "";
  double timeout = 0.0;
  int peer = -1;        // for send/recv
  int axis_id = -1;     // progress-board axis slot
  std::int64_t seq = -1;  // collective number on this axis (progress board)
  bool cancel_on_timeout = false;  // receives can be cancelled
  bool collective = true;          // MPI forbids freeing/cancelling collective requests
  MPI_Comm comm = MPI_COMM_NULL;   // for the progress report on timeout
  std::shared_ptr<std::atomic<std::uint64_t>> wait_ns;  // the communicator's wait-time counter
};

std::string op_label(const OpInfo& info) {
  std::string s = std::string("MPI ") + info.op + " on axis '" + info.axis + "'";
  if (info.peer >= 0) s += " (peer " + std::to_string(info.peer) + ")";
  return s;
}

std::string context_suffix() {
  std::string ctx = rank_context();
  return ctx.empty() ? std::string() : " [" + ctx + "]";
}

// Completes `reqs`. Returns false on timeout (requests still pending, or
// cancelled when info.cancel_on_timeout); throws on MPI errors.
bool wait_requests(std::vector<MPI_Request>& reqs, const OpInfo& info) {
  if (reqs.empty()) return true;
  struct WaitTimer {  // adds the time spent here to the communicator's wait counter
    std::atomic<std::uint64_t>* counter;
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    ~WaitTimer() {
      if (counter)
        counter->fetch_add(uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now() - t0).count()),
                           std::memory_order_relaxed);
    }
  } timer{info.wait_ns.get()};
  const int n = static_cast<int>(reqs.size());
  if (info.timeout <= 0.0) {
    int rc = MPI_Waitall(n, reqs.data(), MPI_STATUSES_IGNORE);
    if (rc != MPI_SUCCESS) throw Error(op_label(info) + " failed: " + mpi_error_string(rc) + context_suffix());
    return true;
  }
  using clock = std::chrono::steady_clock;
  {
    int done = 0;
    int rc = MPI_Testall(n, reqs.data(), &done, MPI_STATUSES_IGNORE);
    if (rc != MPI_SUCCESS) throw Error(op_label(info) + " failed: " + mpi_error_string(rc) + context_suffix());
    if (done) return true;
  }
  progress_wait_begin(info.axis_id, info.op, info.seq);  // heartbeats while waiting (progress board)
  auto deadline = clock::now() + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(info.timeout));
  auto last_iteration = clock::now();
  long spins = 0;
  for (;;) {
    // A gap of over a second between two iterations means this process itself
    // was stopped (SIGSTOP, a debugger) or starved: that time is not the peers'
    // fault, so the deadline moves out by it (a rank resumed by the launcher's
    // SIGCONT must not blame the ranks that waited for it).
    const auto now = clock::now();
    if (now - last_iteration > std::chrono::seconds(1)) deadline += now - last_iteration;
    last_iteration = now;
    int done = 0;
    int rc = MPI_Testall(n, reqs.data(), &done, MPI_STATUSES_IGNORE);
    if (rc != MPI_SUCCESS) {
      progress_wait_end();
      throw Error(op_label(info) + " failed: " + mpi_error_string(rc) + context_suffix());
    }
    if (done) {
      progress_wait_end();
      return true;
    }
    if (clock::now() >= deadline) break;
    progress_wait_tick();
    // Spin briefly (latency), then back off so oversubscribed ranks get the core.
    if (++spins < 1000) {
      sched_yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(spins < 5000 ? 20 : 200));
    }
  }
  if (info.cancel_on_timeout) {
    for (auto& r : reqs) {
      if (r == MPI_REQUEST_NULL) continue;
      MPI_Cancel(&r);
      MPI_Wait(&r, MPI_STATUS_IGNORE);
    }
  }
  return false;
}

class MpiCommunicator;

class MpiPendingOp final : public PendingOp {
 public:
  MpiPendingOp(std::vector<MPI_Request> reqs, OpInfo info, std::shared_ptr<std::atomic<bool>> broken)
      : reqs_(std::move(reqs)), info_(std::move(info)), broken_(std::move(broken)) {}
  ~MpiPendingOp() override {
    // Not waited for: point-to-point requests are released to complete in the
    // background; collective requests cannot be freed (MPI forbids it) and are
    // abandoned.
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized || info_.collective) return;
    for (auto& r : reqs_)
      if (r != MPI_REQUEST_NULL) MPI_Request_free(&r);
  }
  void wait() override {
    if (!wait_requests(reqs_, info_)) {
      if (info_.collective) broken_->store(true);
      throw Error(op_label(info_) + " timed out after " + format_seconds(info_.timeout) + context_suffix() +
                  progress_report(info_.comm, info_.axis, info_.axis_id, info_.seq, info_.peer));
    }
  }
  bool test() override {
    int done = 0;
    int rc = MPI_Testall(static_cast<int>(reqs_.size()), reqs_.data(), &done, MPI_STATUSES_IGNORE);
    if (rc != MPI_SUCCESS) throw Error(op_label(info_) + " failed: " + mpi_error_string(rc) + context_suffix());
    return done != 0;
  }
  static std::string format_seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g s", s);
    return buf;
  }

 private:
  std::vector<MPI_Request> reqs_;
  OpInfo info_;
  std::shared_ptr<std::atomic<bool>> broken_;
};

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(MPI_Comm comm, std::string axis) : Communicator(std::move(axis)), comm_(comm) {
    require(comm != MPI_COMM_NULL, "cannot create the MPI communicator for axis '" + this->axis() + "': MPI_COMM_NULL");
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    axis_id_ = progress_axis(this->axis());
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "mpi"; }
  bool failed() const override { return broken_->load(); }

  void all_reduce(void* buf, std::size_t count, DType dtype, ReduceOp op) override {
    complete(start_all_reduce(buf, count, dtype, op), info("all_reduce"));
  }

  std::unique_ptr<PendingOp> all_reduce_async(void* buf, std::size_t count, DType dtype, ReduceOp op) override {
    return pending(start_all_reduce(buf, count, dtype, op), info("all_reduce"));
  }

  void reduce_scatter(const void* send, void* recv, std::size_t recv_count, DType dtype, ReduceOp op) override {
    check_usable("reduce_scatter");
    check_count(recv_count, "reduce_scatter");
    count(OpKind::ReduceScatter, recv_count * size_ * dtype_size(dtype));
    if (recv_count == 0) return;
    const std::size_t block = recv_count * dtype_size(dtype);
    const char* s = static_cast<const char*>(send);
    char* r = static_cast<char*>(recv);
    const bool in_place = r == s + block * rank_;
    if (!in_place && r < s + block * size_ && s < r + block)
      throw Error("MPI reduce_scatter on axis '" + axis() + "': send and recv buffers overlap (only recv == send + rank*recv_count is allowed)");
    std::vector<MPI_Request> reqs(1);
    int rc;
    if (in_place) {
      // MPI's in-place form leaves block 0's position holding the result.
      rc = MPI_Ireduce_scatter_block(MPI_IN_PLACE, const_cast<char*>(s), static_cast<int>(recv_count), mpi_type(dtype),
                                     mpi_op(op), comm_, &reqs[0]);
    } else {
      rc = MPI_Ireduce_scatter_block(send, recv, static_cast<int>(recv_count), mpi_type(dtype), mpi_op(op), comm_, &reqs[0]);
    }
    check_rc(rc, "reduce_scatter");
    complete(reqs, info("reduce_scatter"));
    if (in_place && rank_ != 0) std::memmove(r, s, block);
  }

  void all_gather(const void* send, void* recv, std::size_t send_count, DType dtype) override {
    check_usable("all_gather");
    check_count(send_count, "all_gather");
    count(OpKind::AllGather, send_count * dtype_size(dtype));
    if (send_count == 0) return;
    const std::size_t block = send_count * dtype_size(dtype);
    const char* s = static_cast<const char*>(send);
    char* r = static_cast<char*>(recv);
    const bool in_place = s == r + block * rank_;
    if (!in_place && s < r + block * size_ && r < s + block)
      throw Error("MPI all_gather on axis '" + axis() + "': send and recv buffers overlap (only send == recv + rank*send_count is allowed)");
    std::vector<MPI_Request> reqs(1);
    int rc = MPI_Iallgather(in_place ? MPI_IN_PLACE : send, static_cast<int>(send_count), mpi_type(dtype), recv,
                            static_cast<int>(send_count), mpi_type(dtype), comm_, &reqs[0]);
    check_rc(rc, "all_gather");
    complete(reqs, info("all_gather"));
  }

  void broadcast(void* buf, std::size_t count_, DType dtype, int root) override {
    check_usable("broadcast");
    check_peer(root, "broadcast", "root");
    count(OpKind::Broadcast, count_ * dtype_size(dtype));
    std::vector<MPI_Request> reqs;
    for_chunks(buf, count_, dtype, [&](void* p, int n) {
      reqs.emplace_back();
      check_rc(MPI_Ibcast(p, n, mpi_type(dtype), root, comm_, &reqs.back()), "broadcast");
    });
    complete(reqs, info("broadcast"));
  }

  void send(const void* buf, std::size_t count_, DType dtype, int peer, int tag) override {
    complete(start_send(buf, count_, dtype, peer, tag), info("send", peer));
  }
  void recv(void* buf, std::size_t count_, DType dtype, int peer, int tag) override {
    complete(start_recv(buf, count_, dtype, peer, tag), info("recv", peer, true));
  }
  std::unique_ptr<PendingOp> isend(const void* buf, std::size_t count_, DType dtype, int peer, int tag) override {
    return pending(start_send(buf, count_, dtype, peer, tag), info("isend", peer));
  }
  std::unique_ptr<PendingOp> irecv(void* buf, std::size_t count_, DType dtype, int peer, int tag) override {
    return pending(start_recv(buf, count_, dtype, peer, tag), info("irecv", peer, true));
  }

  void barrier() override {
    check_usable("barrier");
    count(OpKind::Barrier, 0);
    std::vector<MPI_Request> reqs(1);
    check_rc(MPI_Ibarrier(comm_, &reqs[0]), "barrier");
    complete(reqs, info("barrier"));
  }

 private:
  template <class F>
  void for_chunks(const void* buf, std::size_t n, DType dtype, F&& f) {
    char* p = static_cast<char*>(const_cast<void*>(buf));
    const std::size_t es = dtype_size(dtype);
    for (std::size_t off = 0; off < n; off += kMaxChunk) {
      std::size_t len = std::min(kMaxChunk, n - off);
      f(p + off * es, static_cast<int>(len));
    }
  }

  std::vector<MPI_Request> start_all_reduce(void* buf, std::size_t n, DType dtype, ReduceOp op) {
    check_usable("all_reduce");
    count(OpKind::AllReduce, n * dtype_size(dtype));
    std::vector<MPI_Request> reqs;
    for_chunks(buf, n, dtype, [&](void* p, int len) {
      reqs.emplace_back();
      check_rc(MPI_Iallreduce(MPI_IN_PLACE, p, len, mpi_type(dtype), mpi_op(op), comm_, &reqs.back()), "all_reduce");
    });
    return reqs;
  }

  std::vector<MPI_Request> start_send(const void* buf, std::size_t n, DType dtype, int peer, int tag) {
    check_usable("send");
    check_peer(peer, "send", "peer");
    count(OpKind::Send, n * dtype_size(dtype));
    std::vector<MPI_Request> reqs;
    if (n == 0) {
      reqs.emplace_back();
      check_rc(MPI_Isend(buf, 0, mpi_type(dtype), peer, tag, comm_, &reqs.back()), "send");
    }
    for_chunks(buf, n, dtype, [&](void* p, int len) {
      reqs.emplace_back();
      check_rc(MPI_Isend(p, len, mpi_type(dtype), peer, tag, comm_, &reqs.back()), "send");
    });
    return reqs;
  }

  std::vector<MPI_Request> start_recv(void* buf, std::size_t n, DType dtype, int peer, int tag) {
    check_usable("recv");
    check_peer(peer, "recv", "peer");
    count(OpKind::Recv, n * dtype_size(dtype));
    std::vector<MPI_Request> reqs;
    if (n == 0) {
      reqs.emplace_back();
      check_rc(MPI_Irecv(buf, 0, mpi_type(dtype), peer, tag, comm_, &reqs.back()), "recv");
    }
    for_chunks(buf, n, dtype, [&](void* p, int len) {
      reqs.emplace_back();
      check_rc(MPI_Irecv(p, len, mpi_type(dtype), peer, tag, comm_, &reqs.back()), "recv");
    });
    return reqs;
  }

  OpInfo info(const char* op, int peer = -1, bool cancellable = false) const {
    OpInfo i;
    i.axis = axis();
    i.op = op;
    i.timeout = timeout_seconds();
    i.peer = peer;
    i.cancel_on_timeout = cancellable;
    i.collective = peer < 0;
    i.comm = comm_;
    i.wait_ns = wait_ns_;
    i.axis_id = axis_id_;
    if (i.collective) i.seq = progress_op_started(axis_id_);
    return i;
  }

  void complete(std::vector<MPI_Request> reqs, const OpInfo& i) {
    if (!wait_requests(reqs, i)) {
      if (i.collective) {
        // Collective still in flight with the caller's buffer: MPI cannot cancel
        // or free it, so the requests are abandoned and this communicator refuses
        // further use (its collective sequence is out of step).
        broken_->store(true);
      } else if (!i.cancel_on_timeout) {
        // Unmatched send: release it to complete in the background.
        for (auto& r : reqs)
          if (r != MPI_REQUEST_NULL) MPI_Request_free(&r);
      }
      throw Error(op_label(i) + " timed out after " + MpiPendingOp::format_seconds(i.timeout) + context_suffix() +
                  progress_report(i.comm, i.axis, i.axis_id, i.seq, i.peer));
    }
  }

  std::unique_ptr<PendingOp> pending(std::vector<MPI_Request> reqs, OpInfo i) {
    return std::make_unique<MpiPendingOp>(std::move(reqs), std::move(i), broken_);
  }

  void check_usable(const char* op) const {
    if (broken_->load())
      throw Error(std::string("MPI ") + op + " on axis '" + axis() +
                  "': communicator unusable after an earlier timed-out operation" + context_suffix());
  }
  void check_count(std::size_t n, const char* op) const {
    if (n > static_cast<std::size_t>(INT_MAX))
      throw Error(std::string("MPI ") + op + " on axis '" + axis() + "': count " + std::to_string(n) +
                  " exceeds the MPI limit of " + std::to_string(INT_MAX) + " elements per rank");
  }
  void check_peer(int peer, const char* op, const char* what) const {
    if (peer < 0 || peer >= size_)
      throw Error(std::string("MPI ") + op + " on axis '" + axis() + "': " + what + " " + std::to_string(peer) +
                  " is out of range (communicator size " + std::to_string(size_) + ")");
  }
  void check_rc(int rc, const char* op) const {
    if (rc != MPI_SUCCESS)
      throw Error(std::string("MPI ") + op + " on axis '" + axis() + "' failed: " + mpi_error_string(rc) + context_suffix());
  }

  MPI_Comm comm_;
  int axis_id_ = -1;
  int rank_ = 0;
  int size_ = 1;
  std::shared_ptr<std::atomic<bool>> broken_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(MPI_Comm comm, std::string axis) {
  return std::make_unique<MpiCommunicator>(comm, std::move(axis));
}

}  // namespace tessera
