// The host-staged Communicator (src/parallel/host_staged_communicator.hpp: what a CUDA build without
// NCCL uses for device buffers) on 4 ranks: every op on View1 buffers in the kernels' memory space
// gives what the wrapped MPI communicator gives on host vectors (in-place forms included), counts
// its own traffic, and its async ops are complete on return. Also: with host memory,
// ProcessGrid::dp_device()/tp_device() are dp()/tp() themselves (the host build's gradient
// reduction is unchanged).
#include <gtest/gtest.h>
#include <mpi.h>
#include <cstdint>
#include <vector>
#include "kernels/views.hpp"
#include "src/parallel/communicator.hpp"
#include "src/parallel/host_staged_communicator.hpp"
#include "src/parallel/process_grid.hpp"

using namespace tessera;

namespace {

class StagedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MPI_Comm_dup(MPI_COMM_WORLD, &raw_);
    mpi_ = make_mpi_communicator(raw_, "dp");
    mpi_->set_timeout_seconds(60);
    staged_ = make_host_staged_communicator(*mpi_);
    rank_ = mpi_->rank();
    size_ = mpi_->size();
  }
  void TearDown() override {
    int bad = HasFailure() ? 1 : 0;
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    EXPECT_EQ(bad, 0) << "a failure on some rank (see that rank's output)";
    staged_.reset();
    mpi_.reset();
    MPI_Comm_free(&raw_);
  }
  // Values that differ per rank and element and are exact in float sums.
  std::vector<float> pattern(size_t n, int salt) const {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = float((rank_ + 1) * 3 + int(i % 7) * (salt + 1) - 5);
    return v;
  }
  static View1<float> to_view(const std::vector<float>& h) {
    View1<float> v("staged_test", h.size());
    Kokkos::deep_copy(v, HostView1<float>(const_cast<float*>(h.data()), h.size()));
    return v;
  }
  static std::vector<float> from_view(const View1<float>& v) {
    std::vector<float> h(v.extent(0));
    Kokkos::deep_copy(HostView1<float>(h.data(), h.size()), v);
    return h;
  }
  MPI_Comm raw_ = MPI_COMM_NULL;
  std::unique_ptr<Communicator> mpi_, staged_;
  int rank_ = 0, size_ = 1;
};

TEST_F(StagedTest, AllReduceAndAsyncEqualMpi) {
  for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min}) {
    std::vector<float> want = pattern(41, int(op));
    View1<float> v = to_view(want);
    mpi_->all_reduce(want.data(), want.size(), DType::F32, op);
    staged_->all_reduce(v.data(), v.extent(0), DType::F32, op);
    EXPECT_EQ(from_view(v), want) << to_string(op);
  }
  std::vector<float> want = pattern(1000, 9);
  View1<float> v = to_view(want);
  mpi_->all_reduce(want.data(), want.size(), DType::F32, ReduceOp::Sum);
  auto op = staged_->all_reduce_async(v.data(), v.extent(0), DType::F32, ReduceOp::Sum);
  EXPECT_TRUE(op->test());  // staging completes before returning
  op->wait();
  EXPECT_EQ(from_view(v), want);
  EXPECT_EQ(staged_->calls(OpKind::AllReduce), 4u);
  EXPECT_EQ(staged_->bytes(OpKind::AllReduce), (3u * 41u + 1000u) * 4u);
  EXPECT_STREQ(staged_->backend(), "mpi (host-staged)");
  EXPECT_EQ(staged_->axis(), "dp");
}

TEST_F(StagedTest, ReduceScatterSeparateAndInPlace) {
  const size_t block = 13, n = block * size_t(size_);
  std::vector<float> send = pattern(n, 2), want(block);
  mpi_->reduce_scatter(send.data(), want.data(), block, DType::F32, ReduceOp::Sum);
  View1<float> s = to_view(send), r("recv", block);
  staged_->reduce_scatter(s.data(), r.data(), block, DType::F32, ReduceOp::Sum);
  EXPECT_EQ(from_view(r), want);
  // In place (what ZeRO-1 does with the gradient slab): recv = send + rank·block.
  View1<float> g = to_view(send);
  staged_->reduce_scatter(g.data(), g.data() + size_t(rank_) * block, block, DType::F32, ReduceOp::Sum);
  const std::vector<float> got = from_view(g);
  EXPECT_EQ(std::vector<float>(got.begin() + long(rank_ * block), got.begin() + long((rank_ + 1) * block)), want);
}

TEST_F(StagedTest, AllGatherSeparateAndInPlace) {
  const size_t block = 11, n = block * size_t(size_);
  std::vector<float> mine = pattern(block, 3), want(n);
  mpi_->all_gather(mine.data(), want.data(), block, DType::F32);
  View1<float> s = to_view(mine), r("recv", n);
  staged_->all_gather(s.data(), r.data(), block, DType::F32);
  EXPECT_EQ(from_view(r), want);
  // In place (ZeRO-1's parameter gather): send = recv + rank·block.
  std::vector<float> slab(n, -1.0f);
  std::copy(mine.begin(), mine.end(), slab.begin() + long(size_t(rank_) * block));
  View1<float> p = to_view(slab);
  staged_->all_gather(p.data() + size_t(rank_) * block, p.data(), block, DType::F32);
  EXPECT_EQ(from_view(p), want);
}

TEST_F(StagedTest, BroadcastAndRingExchange) {
  std::vector<float> want = pattern(17, 4);
  View1<float> b = to_view(want);
  mpi_->broadcast(want.data(), want.size(), DType::F32, 2);
  staged_->broadcast(b.data(), b.extent(0), DType::F32, 2);
  EXPECT_EQ(from_view(b), want);
  // Even ranks send first, so blocking staged sends cannot deadlock.
  const int next = (rank_ + 1) % size_, prev = (rank_ + size_ - 1) % size_;
  std::vector<float> out = pattern(23, 5);
  View1<float> o = to_view(out), in("in", out.size());
  if (rank_ % 2 == 0) {
    staged_->send(o.data(), out.size(), DType::F32, next, 7);
    staged_->recv(in.data(), out.size(), DType::F32, prev, 7);
  } else {
    staged_->recv(in.data(), out.size(), DType::F32, prev, 7);
    staged_->send(o.data(), out.size(), DType::F32, next, 7);
  }
  const std::vector<float> got = from_view(in);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], float((prev + 1) * 3 + int(i % 7) * 6 - 5)) << i;
}

TEST(ProcessGridDevice, HostMemoryUsesTheMpiCommunicators) {
  if constexpr (!std::is_same_v<MemSpace, Kokkos::HostSpace>) GTEST_SKIP() << "device memory build";
  ProcessGrid grid(MPI_COMM_WORLD, 2, 2, 1);
  EXPECT_EQ(&grid.dp_device(), &grid.dp());
  EXPECT_EQ(&grid.tp_device(), &grid.tp());
  EXPECT_STREQ(grid.dp_device().backend(), "mpi");
}

}  // namespace
