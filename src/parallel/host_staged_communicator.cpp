#include "src/parallel/host_staged_communicator.hpp"
#include <cstdint>
#include <vector>
#include "kernels/views.hpp"

namespace tessera {

namespace {

using Bytes = Kokkos::View<char*, MemSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
using HostBytes = Kokkos::View<char*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;

void to_host(std::vector<char>& host, const void* dev, std::size_t bytes) {
  host.resize(bytes);
  if (bytes == 0) return;
  Kokkos::fence();
  Kokkos::deep_copy(HostBytes(host.data(), bytes), Bytes(static_cast<char*>(const_cast<void*>(dev)), bytes));
}

void to_device(void* dev, const char* host, std::size_t bytes) {
  if (bytes == 0) return;
  Kokkos::deep_copy(Bytes(static_cast<char*>(dev), bytes), HostBytes(const_cast<char*>(host), bytes));
  Kokkos::fence();
}

class DoneOp final : public PendingOp {
 public:
  void wait() override {}
  bool test() override { return true; }
};

class HostStagedCommunicator final : public Communicator {
 public:
  explicit HostStagedCommunicator(Communicator& host) : Communicator(host.axis()), host_(host) {}

  int rank() const override { return host_.rank(); }
  int size() const override { return host_.size(); }
  const char* backend() const override { return "mpi (host-staged)"; }
  bool failed() const override { return host_.failed(); }

  void all_reduce(void* buf, std::size_t count, DType dtype, ReduceOp op) override {
    const std::size_t n = count * dtype_size(dtype);
    count_op(OpKind::AllReduce, n);
    to_host(a_, buf, n);
    host_.all_reduce(a_.data(), count, dtype, op);
    to_device(buf, a_.data(), n);
  }
  std::unique_ptr<PendingOp> all_reduce_async(void* buf, std::size_t count, DType dtype, ReduceOp op) override {
    all_reduce(buf, count, dtype, op);
    return std::make_unique<DoneOp>();
  }
  void reduce_scatter(const void* send, void* recv, std::size_t recv_count, DType dtype, ReduceOp op) override {
    const std::size_t block = recv_count * dtype_size(dtype), n = block * std::size_t(size());
    count_op(OpKind::ReduceScatter, n);
    const bool in_place = static_cast<const char*>(send) + block * std::size_t(rank()) == recv;
    to_host(a_, send, n);
    if (in_place) {
      host_.reduce_scatter(a_.data(), a_.data() + block * std::size_t(rank()), recv_count, dtype, op);
      to_device(recv, a_.data() + block * std::size_t(rank()), block);
    } else {
      b_.resize(block);
      host_.reduce_scatter(a_.data(), b_.data(), recv_count, dtype, op);
      to_device(recv, b_.data(), block);
    }
  }
  void all_gather(const void* send, void* recv, std::size_t send_count, DType dtype) override {
    const std::size_t block = send_count * dtype_size(dtype), n = block * std::size_t(size());
    count_op(OpKind::AllGather, block);
    const bool in_place = static_cast<const char*>(recv) + block * std::size_t(rank()) == send;
    if (in_place) {
      to_host(a_, recv, n);
      host_.all_gather(a_.data() + block * std::size_t(rank()), a_.data(), send_count, dtype);
    } else {
      to_host(b_, send, block);
      a_.resize(n);
      host_.all_gather(b_.data(), a_.data(), send_count, dtype);
    }
    to_device(recv, a_.data(), n);
  }
  void broadcast(void* buf, std::size_t count, DType dtype, int root) override {
    const std::size_t n = count * dtype_size(dtype);
    count_op(OpKind::Broadcast, n);
    to_host(a_, buf, n);
    host_.broadcast(a_.data(), count, dtype, root);
    to_device(buf, a_.data(), n);
  }
  void send(const void* buf, std::size_t count, DType dtype, int peer, int tag) override {
    const std::size_t n = count * dtype_size(dtype);
    count_op(OpKind::Send, n);
    to_host(a_, buf, n);
    host_.send(a_.data(), count, dtype, peer, tag);
  }
  void recv(void* buf, std::size_t count, DType dtype, int peer, int tag) override {
    const std::size_t n = count * dtype_size(dtype);
    count_op(OpKind::Recv, n);
    a_.resize(n);
    host_.recv(a_.data(), count, dtype, peer, tag);
    to_device(buf, a_.data(), n);
  }
  std::unique_ptr<PendingOp> isend(const void* buf, std::size_t count, DType dtype, int peer, int tag) override {
    send(buf, count, dtype, peer, tag);
    return std::make_unique<DoneOp>();
  }
  std::unique_ptr<PendingOp> irecv(void* buf, std::size_t count, DType dtype, int peer, int tag) override {
    recv(buf, count, dtype, peer, tag);
    return std::make_unique<DoneOp>();
  }
  void barrier() override {
    count_op(OpKind::Barrier, 0);
    host_.barrier();
  }

 private:
  void count_op(OpKind kind, std::size_t bytes) { count(kind, bytes); }
  Communicator& host_;
  std::vector<char> a_, b_;  // host staging buffers, reused
};

}  // namespace

std::unique_ptr<Communicator> make_host_staged_communicator(Communicator& host) {
  return std::make_unique<HostStagedCommunicator>(host);
}

}  // namespace tessera
