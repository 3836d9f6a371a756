// The MPI Communicator on 4 ranks (run under `mpirun -np 4`): collectives for
// each dtype/op, async all_reduce, reduce_scatter, all_gather (incl. in-place
// forms), broadcast, blocking and nonblocking ring exchanges, byte counters,
// and the hang-watchdog timeout. Every rank asserts.
#include <gtest/gtest.h>
#include <mpi.h>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>
#include "src/parallel/communicator.hpp"
#include "src/parallel/process_grid.hpp"
#include "src/runtime/error.hpp"

using tessera::Communicator;
using tessera::DType;
using tessera::OpKind;
using tessera::ReduceOp;

namespace {

// A fresh duplicate of MPI_COMM_WORLD per test (freed at the end).
class CommTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MPI_Comm_dup(MPI_COMM_WORLD, &raw_);
    comm_ = tessera::make_mpi_communicator(raw_, "test");
    comm_->set_timeout_seconds(60);  // a hang fails the test instead of ctest's timeout
    rank_ = comm_->rank();
    size_ = comm_->size();
  }
  void TearDown() override {
    // Fail on every rank when any rank failed (keeps the ranks in step).
    int bad = HasFailure() ? 1 : 0;
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    EXPECT_EQ(bad, 0) << "a failure on some rank (see that rank's output)";
    comm_.reset();
    MPI_Comm_free(&raw_);
  }
  MPI_Comm raw_ = MPI_COMM_NULL;
  std::unique_ptr<Communicator> comm_;
  int rank_ = 0, size_ = 1;
};

template <class T>
void check_all_reduce(Communicator& c, DType dt) {
  const int r = c.rank(), n = c.size();
  const size_t count = 37;
  std::vector<T> v(count);
  for (size_t i = 0; i < count; ++i) v[i] = static_cast<T>(r + 1) * static_cast<T>(i % 5 + 1);
  c.all_reduce(v.data(), count, dt, ReduceOp::Sum);
  for (size_t i = 0; i < count; ++i) EXPECT_EQ(v[i], static_cast<T>(n * (n + 1) / 2) * static_cast<T>(i % 5 + 1)) << i;

  for (size_t i = 0; i < count; ++i) v[i] = static_cast<T>((r * 7 + static_cast<int>(i)) % 11);
  c.all_reduce(v.data(), count, dt, ReduceOp::Max);
  for (size_t i = 0; i < count; ++i) {
    T want = 0;
    for (int q = 0; q < n; ++q) want = std::max(want, static_cast<T>((q * 7 + static_cast<int>(i)) % 11));
    EXPECT_EQ(v[i], want) << i;
  }

  for (size_t i = 0; i < count; ++i) v[i] = static_cast<T>((r * 3 + static_cast<int>(i)) % 7 + 1);
  c.all_reduce(v.data(), count, dt, ReduceOp::Min);
  for (size_t i = 0; i < count; ++i) {
    T want = 100;
    for (int q = 0; q < n; ++q) want = std::min(want, static_cast<T>((q * 3 + static_cast<int>(i)) % 7 + 1));
    EXPECT_EQ(v[i], want) << i;
  }
}

}  // namespace

TEST_F(CommTest, RunsOnFourRanks) {
  EXPECT_EQ(size_, 4) << "run with mpirun -np 4";
  EXPECT_STREQ(comm_->backend(), "mpi");
  EXPECT_EQ(comm_->axis(), "test");
  EXPECT_EQ(comm_->device_stream(), nullptr);
}

TEST_F(CommTest, AllReduceEveryDtype) {
  check_all_reduce<float>(*comm_, DType::F32);
  check_all_reduce<double>(*comm_, DType::F64);
  check_all_reduce<std::int64_t>(*comm_, DType::I64);
  check_all_reduce<std::int32_t>(*comm_, DType::I32);
  check_all_reduce<std::uint8_t>(*comm_, DType::U8);
}

TEST_F(CommTest, AllReduceFloatValues) {
  std::vector<float> v = {0.5f * rank_, -1.25f, 1e-3f * (rank_ + 1)};
  comm_->all_reduce(v.data(), v.size(), DType::F32, ReduceOp::Sum);
  EXPECT_FLOAT_EQ(v[0], 0.5f * (size_ * (size_ - 1) / 2));
  EXPECT_FLOAT_EQ(v[1], -1.25f * size_);
  EXPECT_FLOAT_EQ(v[2], 1e-3f * (size_ * (size_ + 1) / 2));
  double d = rank_ == 2 ? 3.5 : -1.0;
  comm_->all_reduce(&d, 1, DType::F64, ReduceOp::Max);
  EXPECT_EQ(d, size_ > 2 ? 3.5 : -1.0);
  // count 0 is a no-op that still works on every rank
  comm_->all_reduce(nullptr, 0, DType::F32, ReduceOp::Sum);
}

TEST_F(CommTest, AsyncAllReduce) {
  const size_t n = 1 << 16;
  std::vector<double> a(n, 1.0 + rank_), b(n, 2.0 * rank_);
  auto pa = comm_->all_reduce_async(a.data(), n, DType::F64, ReduceOp::Sum);
  auto pb = comm_->all_reduce_async(b.data(), n, DType::F64, ReduceOp::Max);
  pb->wait();
  pa->wait();
  EXPECT_TRUE(pa->test());
  const double sa = size_ * (size_ + 1) / 2.0;
  for (size_t i = 0; i < n; i += 997) {
    EXPECT_EQ(a[i], sa);
    EXPECT_EQ(b[i], 2.0 * (size_ - 1));
  }
  // test() polling until completion
  std::int64_t x = rank_;
  auto px = comm_->all_reduce_async(&x, 1, DType::I64, ReduceOp::Sum);
  while (!px->test()) {
  }
  EXPECT_EQ(x, size_ * (size_ - 1) / 2);
}

TEST_F(CommTest, ReduceScatter) {
  const size_t rc = 5;
  std::vector<float> send(rc * size_), recv(rc, -1.0f);
  for (size_t i = 0; i < send.size(); ++i) send[i] = static_cast<float>(rank_ * 100 + i);
  comm_->reduce_scatter(send.data(), recv.data(), rc, DType::F32, ReduceOp::Sum);
  for (size_t j = 0; j < rc; ++j) {
    float want = 0;
    for (int q = 0; q < size_; ++q) want += static_cast<float>(q * 100 + rank_ * rc + j);
    EXPECT_EQ(recv[j], want) << j;
  }
  // In-place form: recv is this rank's block of send.
  std::vector<std::int64_t> buf(rc * size_);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<std::int64_t>(i) * (rank_ + 1);
  comm_->reduce_scatter(buf.data(), buf.data() + rank_ * rc, rc, DType::I64, ReduceOp::Sum);
  for (size_t j = 0; j < rc; ++j)
    EXPECT_EQ(buf[rank_ * rc + j], static_cast<std::int64_t>(rank_ * rc + j) * (size_ * (size_ + 1) / 2)) << j;
  // Other overlaps are refused before anything is sent (on every rank alike).
  EXPECT_THROW(comm_->reduce_scatter(buf.data(), buf.data() + 1, rc, DType::I64, ReduceOp::Sum), tessera::Error);
}

TEST_F(CommTest, AllGather) {
  const size_t sc = 3;
  std::vector<double> send(sc), recv(sc * size_, -1);
  for (size_t i = 0; i < sc; ++i) send[i] = rank_ * 10.0 + i;
  comm_->all_gather(send.data(), recv.data(), sc, DType::F64);
  for (int q = 0; q < size_; ++q)
    for (size_t i = 0; i < sc; ++i) EXPECT_EQ(recv[q * sc + i], q * 10.0 + i);
  // In-place form: send is this rank's block of recv.
  std::vector<std::int32_t> all(sc * size_, -7);
  for (size_t i = 0; i < sc; ++i) all[rank_ * sc + i] = rank_ * 10 + static_cast<int>(i);
  comm_->all_gather(all.data() + rank_ * sc, all.data(), sc, DType::I32);
  for (int q = 0; q < size_; ++q)
    for (size_t i = 0; i < sc; ++i) EXPECT_EQ(all[q * sc + i], q * 10 + static_cast<int>(i));
}

TEST_F(CommTest, Broadcast) {
  const int root = size_ - 1;
  std::vector<std::uint8_t> b(100, static_cast<std::uint8_t>(rank_));
  if (rank_ == root)
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(i * 3);
  comm_->broadcast(b.data(), b.size(), DType::U8, root);
  for (size_t i = 0; i < b.size(); ++i) EXPECT_EQ(b[i], static_cast<std::uint8_t>(i * 3));
  EXPECT_THROW(comm_->broadcast(b.data(), 1, DType::U8, size_), tessera::Error);
}

TEST_F(CommTest, SendRecvRing) {
  const int next = (rank_ + 1) % size_, prev = (rank_ + size_ - 1) % size_;
  std::vector<float> out(1000, static_cast<float>(rank_)), in(1000, -1.0f);
  // Blocking ring: even ranks send first so a rendezvous send cannot deadlock.
  if (rank_ % 2 == 0) {
    comm_->send(out.data(), out.size(), DType::F32, next, 7);
    comm_->recv(in.data(), in.size(), DType::F32, prev, 7);
  } else {
    comm_->recv(in.data(), in.size(), DType::F32, prev, 7);
    comm_->send(out.data(), out.size(), DType::F32, next, 7);
  }
  for (float x : in) EXPECT_EQ(x, static_cast<float>(prev));
  EXPECT_THROW(comm_->send(out.data(), 1, DType::F32, -1, 0), tessera::Error);
  EXPECT_THROW(comm_->recv(in.data(), 1, DType::F32, size_, 0), tessera::Error);
}

TEST_F(CommTest, IsendIrecvBothWays) {
  const int next = (rank_ + 1) % size_, prev = (rank_ + size_ - 1) % size_;
  const size_t n = 200000;  // large enough for the rendezvous protocol
  std::vector<double> to_next(n, rank_ + 0.5), to_prev(n, rank_ - 0.5), from_prev(n), from_next(n);
  auto r1 = comm_->irecv(from_prev.data(), n, DType::F64, prev, 1);
  auto r2 = comm_->irecv(from_next.data(), n, DType::F64, next, 2);
  auto s1 = comm_->isend(to_next.data(), n, DType::F64, next, 1);
  auto s2 = comm_->isend(to_prev.data(), n, DType::F64, prev, 2);
  s2->wait();
  s1->wait();
  r2->wait();
  r1->wait();
  EXPECT_EQ(from_prev[0], prev + 0.5);
  EXPECT_EQ(from_prev[n - 1], prev + 0.5);
  EXPECT_EQ(from_next[0], next - 0.5);
  EXPECT_EQ(from_next[n - 1], next - 0.5);
}

TEST_F(CommTest, ByteCounters) {
  comm_->reset_counters();
  EXPECT_EQ(comm_->total_bytes(), 0u);
  std::vector<double> d(10, 1.0);
  comm_->all_reduce(d.data(), 10, DType::F64, ReduceOp::Sum);                        // 80
  comm_->all_reduce_async(d.data(), 4, DType::F64, ReduceOp::Sum)->wait();             // 32
  std::vector<float> send(3 * size_), recv(3);
  comm_->reduce_scatter(send.data(), recv.data(), 3, DType::F32, ReduceOp::Sum);       // 12*size
  std::vector<float> gathered(2 * size_);
  comm_->all_gather(send.data(), gathered.data(), 2, DType::F32);                      // 8
  std::vector<std::int32_t> b(5);
  comm_->broadcast(b.data(), 5, DType::I32, 0);                                        // 20
  comm_->barrier();                                                                    // 0
  const int next = (rank_ + 1) % size_, prev = (rank_ + size_ - 1) % size_;
  std::vector<std::uint8_t> msg(9), got(9);
  auto r = comm_->irecv(got.data(), 9, DType::U8, prev, 3);                             // 9
  comm_->send(msg.data(), 9, DType::U8, next, 3);                                       // 9
  r->wait();
  EXPECT_EQ(comm_->bytes(OpKind::AllReduce), 112u);
  EXPECT_EQ(comm_->calls(OpKind::AllReduce), 2u);
  EXPECT_EQ(comm_->bytes(OpKind::ReduceScatter), 12u * size_);
  EXPECT_EQ(comm_->bytes(OpKind::AllGather), 8u);
  EXPECT_EQ(comm_->bytes(OpKind::Broadcast), 20u);
  EXPECT_EQ(comm_->bytes(OpKind::Barrier), 0u);
  EXPECT_EQ(comm_->calls(OpKind::Barrier), 1u);
  EXPECT_EQ(comm_->bytes(OpKind::Send), 9u);
  EXPECT_EQ(comm_->bytes(OpKind::Recv), 9u);
  EXPECT_EQ(comm_->total_bytes(), 112u + 12u * size_ + 8u + 20u + 9u + 9u);
  comm_->reset_counters();
  EXPECT_EQ(comm_->total_bytes(), 0u);
  EXPECT_EQ(comm_->calls(OpKind::AllReduce), 0u);
  EXPECT_STREQ(tessera::to_string(OpKind::ReduceScatter), "reduce_scatter");
  EXPECT_EQ(tessera::dtype_size(DType::I64), 8u);
}

TEST_F(CommTest, RecvTimesOutWhenPeerNeverSends) {
  tessera::ProcessGrid grid(MPI_COMM_WORLD, size_, 1, 1);  // sets the rank context
  comm_->set_timeout_seconds(0.5);
  if (rank_ == 0) {
    float x = 0;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      comm_->recv(&x, 1, DType::F32, 1, 99);
      ADD_FAILURE() << "expected a timeout";
    } catch (const tessera::Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("MPI recv on axis 'test' (peer 1) timed out after 0.5 s"), std::string::npos) << m;
      EXPECT_NE(m.find("[rank 0/" + std::to_string(size_) + " (dp 0, pp 0, tp 0) on host "), std::string::npos) << m;
    }
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_GE(waited, 0.5);
    EXPECT_LT(waited, 10.0);
    // An irecv's wait() times out the same way.
    auto p = comm_->irecv(&x, 1, DType::F32, 2 % size_, 98);
    EXPECT_THROW(p->wait(), tessera::Error);
  }
  // The receives were cancelled: the communicator is still usable by everyone.
  comm_->set_timeout_seconds(60);
  comm_->barrier();
  std::int64_t v = 1;
  comm_->all_reduce(&v, 1, DType::I64, ReduceOp::Sum);
  EXPECT_EQ(v, size_);
  // Nothing stray is left to match: a fresh tag-99 message arrives intact.
  if (rank_ == 1) {
    float y = 42;
    comm_->send(&y, 1, DType::F32, 0, 99);
  } else if (rank_ == 0) {
    float y = 0;
    comm_->recv(&y, 1, DType::F32, 1, 99);
    EXPECT_EQ(y, 42.0f);
  }
}

TEST_F(CommTest, CollectiveTimeoutPoisonsTheCommunicator) {
  // Rank 0 enters a barrier on its own private communicator that the others
  // join only after it gave up; the communicator then refuses further use.
  MPI_Comm lonely;
  MPI_Comm_dup(MPI_COMM_WORLD, &lonely);
  bool failed = false;
  {
    auto c = tessera::make_mpi_communicator(lonely, "lonely");
    c->set_timeout_seconds(0.3);
    if (rank_ == 0) {
      try {
        c->barrier();
        ADD_FAILURE() << "expected a timeout";
      } catch (const tessera::Error& e) {
        EXPECT_NE(std::string(e.what()).find("MPI barrier on axis 'lonely' timed out after 0.3 s"), std::string::npos)
            << e.what();
      }
      float f = 1;
      try {
        c->all_reduce(&f, 1, DType::F32, ReduceOp::Sum);
        ADD_FAILURE() << "expected an error";
      } catch (const tessera::Error& e) {
        EXPECT_NE(std::string(e.what()).find("unusable after an earlier timed-out operation"), std::string::npos) << e.what();
      }
      EXPECT_TRUE(c->failed());
    } else {
      EXPECT_FALSE(c->failed());
    }
    failed = c->failed();
    MPI_Barrier(MPI_COMM_WORLD);
    // The others complete the abandoned (nonblocking) barrier so MPI can retire
    // it; rank 0 progresses it inside its next MPI calls.
    if (rank_ != 0) {
      MPI_Request req;
      MPI_Ibarrier(lonely, &req);
      MPI_Wait(&req, MPI_STATUS_IGNORE);
    }
  }
  // Rank 0 must not free `lonely`: its abandoned barrier is still progressed by
  // MPI, and freeing the communicator under it crashes Open MPI (this is why
  // ProcessGrid leaks its communicators after a failure).
  if (!failed) MPI_Comm_free(&lonely);
}

TEST(NcclCommunicator, AvailabilityMatchesTheBuild) {
#ifdef TESSERA_HAVE_NCCL
  EXPECT_TRUE(tessera::nccl_available());
#else
  EXPECT_FALSE(tessera::nccl_available());
  try {
    tessera::make_nccl_communicator(MPI_COMM_WORLD, "dp");
    FAIL() << "expected tessera::Error";
  } catch (const tessera::Error& e) {
    EXPECT_NE(std::string(e.what()).find("built without NCCL"), std::string::npos) << e.what();
  }
#endif
}
