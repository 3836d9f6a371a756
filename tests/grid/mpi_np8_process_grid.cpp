// ProcessGrid on 8 ranks (run under `mpirun -np 8`): every factorisation of 8,
// coordinates, the rank formula, axis communicator sizes and memberships,
// the embedding communicator, and the mismatch error. Every rank asserts.
#include <gtest/gtest.h>
#include <mpi.h>
#include <string>
#include <tuple>
#include <vector>
#include "src/parallel/process_grid.hpp"
#include "src/runtime/error.hpp"
#include "src/runtime/rank_context.hpp"

using tessera::DType;
using tessera::ProcessGrid;
using tessera::ReduceOp;

namespace {

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int world_size() {
  int n = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

// All (dp, tp, pp) with dp*tp*pp == n.
std::vector<std::tuple<int, int, int>> factorisations(int n) {
  std::vector<std::tuple<int, int, int>> out;
  for (int dp = 1; dp <= n; ++dp)
    for (int tp = 1; tp <= n; ++tp)
      if (n % (dp * tp) == 0) out.emplace_back(dp, tp, n / (dp * tp));
  return out;
}

// Sum of world ranks over a communicator, through the Communicator interface.
long long sum_of_ranks(tessera::Communicator& c) {
  long long v = world_rank();
  c.all_reduce(&v, 1, DType::I64, ReduceOp::Sum);
  return v;
}

// The world ranks of a raw MPI communicator, in its rank order.
std::vector<int> members(MPI_Comm c) {
  int n = 0;
  MPI_Comm_size(c, &n);
  std::vector<int> out(n);
  int me = world_rank();
  MPI_Allgather(&me, 1, MPI_INT, out.data(), 1, MPI_INT, c);
  return out;
}

// Fails on every rank when any rank failed, so a broken rank cannot leave the
// others waiting in a collective of the next test.
void agree_no_failures() {
  int bad = ::testing::Test::HasFailure() ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  ASSERT_EQ(bad, 0) << "a failure on some rank (see that rank's output)";
}

}  // namespace

TEST(ProcessGrid, RunsOnEightRanks) { ASSERT_EQ(world_size(), 8) << "run with mpirun -np 8"; }

TEST(ProcessGrid, EveryFactorisationOfEight) {
  const int n = world_size();
  const int me = world_rank();
  const auto shapes = factorisations(n);
  ASSERT_EQ(shapes.size(), n == 8 ? 10u : shapes.size());
  for (const auto& [dp, tp, pp] : shapes) {
    SCOPED_TRACE("dp×tp×pp = " + std::to_string(dp) + "×" + std::to_string(tp) + "×" + std::to_string(pp));
    ProcessGrid g(MPI_COMM_WORLD, dp, tp, pp);
    g.set_timeout_seconds(60);  // a hang becomes an error, not a ctest timeout

    // Sizes and coordinates (tp innermost, then pp, then dp).
    EXPECT_EQ(g.world_rank(), me);
    EXPECT_EQ(g.world_size(), n);
    EXPECT_EQ(g.dp_size(), dp);
    EXPECT_EQ(g.tp_size(), tp);
    EXPECT_EQ(g.pp_size(), pp);
    EXPECT_EQ(g.tp_rank(), me % tp);
    EXPECT_EQ(g.pp_rank(), (me / tp) % pp);
    EXPECT_EQ(g.dp_rank(), me / (tp * pp));
    EXPECT_EQ(g.tp_rank() + tp * (g.pp_rank() + pp * g.dp_rank()), me);
    EXPECT_EQ(g.rank_of(g.dp_rank(), g.pp_rank(), g.tp_rank()), me);
    for (int d = 0; d < dp; ++d)
      for (int p = 0; p < pp; ++p)
        for (int t = 0; t < tp; ++t) EXPECT_EQ(g.rank_of(d, p, t), t + tp * (p + pp * d));
    EXPECT_THROW(g.rank_of(dp, 0, 0), tessera::Error);
    EXPECT_THROW(g.rank_of(0, 0, -1), tessera::Error);
    EXPECT_EQ(g.is_first_stage(), g.pp_rank() == 0);
    EXPECT_EQ(g.is_last_stage(), g.pp_rank() == pp - 1);

    // Axis communicators: sizes, my rank in each = my coordinate.
    EXPECT_EQ(g.tp().size(), tp);
    EXPECT_EQ(g.pp().size(), pp);
    EXPECT_EQ(g.dp().size(), dp);
    EXPECT_EQ(g.world().size(), n);
    EXPECT_EQ(g.tp().rank(), g.tp_rank());
    EXPECT_EQ(g.pp().rank(), g.pp_rank());
    EXPECT_EQ(g.dp().rank(), g.dp_rank());
    EXPECT_EQ(g.world().rank(), me);
    EXPECT_EQ(g.tp().axis(), "tp");
    EXPECT_EQ(g.pp().axis(), "pp");
    EXPECT_EQ(g.dp().axis(), "dp");
    EXPECT_EQ(g.world().axis(), "world");

    // Memberships: exact member lists in communicator rank order…
    std::vector<int> want_tp, want_pp, want_dp;
    for (int t = 0; t < tp; ++t) want_tp.push_back(g.rank_of(g.dp_rank(), g.pp_rank(), t));
    for (int p = 0; p < pp; ++p) want_pp.push_back(g.rank_of(g.dp_rank(), p, g.tp_rank()));
    for (int d = 0; d < dp; ++d) want_dp.push_back(g.rank_of(d, g.pp_rank(), g.tp_rank()));
    EXPECT_EQ(members(g.tp_comm()), want_tp);
    EXPECT_EQ(members(g.pp_comm()), want_pp);
    EXPECT_EQ(members(g.dp_comm()), want_dp);
    // …and sums of world ranks through the Communicator objects.
    long long s_tp = 0, s_pp = 0, s_dp = 0;
    for (int r : want_tp) s_tp += r;
    for (int r : want_pp) s_pp += r;
    for (int r : want_dp) s_dp += r;
    EXPECT_EQ(sum_of_ranks(g.tp()), s_tp);
    EXPECT_EQ(sum_of_ranks(g.pp()), s_pp);
    EXPECT_EQ(sum_of_ranks(g.dp()), s_dp);
    EXPECT_EQ(sum_of_ranks(g.world()), static_cast<long long>(n) * (n - 1) / 2);

    // Embedding group: first and last stage of the same (dp, tp), only if pp > 1.
    const bool want_embedding = pp > 1 && (g.is_first_stage() || g.is_last_stage());
    EXPECT_EQ(g.in_embedding_group(), want_embedding);
    if (want_embedding) {
      ASSERT_NE(g.embedding_comm(), MPI_COMM_NULL);
      const int first = g.rank_of(g.dp_rank(), 0, g.tp_rank());
      const int last = g.rank_of(g.dp_rank(), pp - 1, g.tp_rank());
      EXPECT_EQ(members(g.embedding_comm()), (std::vector<int>{first, last}));
      EXPECT_EQ(g.embedding().size(), 2);
      EXPECT_EQ(g.embedding().rank(), g.is_first_stage() ? 0 : 1);
      EXPECT_EQ(g.embedding().axis(), "embedding");
      EXPECT_EQ(sum_of_ranks(g.embedding()), first + last);
    } else {
      EXPECT_EQ(g.embedding_comm(), MPI_COMM_NULL);
      EXPECT_THROW(g.embedding(), tessera::Error);
    }

    // describe() and the rank context.
    const std::string d = "rank " + std::to_string(me) + " (dp " + std::to_string(g.dp_rank()) + ", pp " +
                          std::to_string(g.pp_rank()) + ", tp " + std::to_string(g.tp_rank()) + ")";
    EXPECT_EQ(g.describe(), d);
    const std::string ctx = "rank " + std::to_string(me) + "/" + std::to_string(n) + " (dp " + std::to_string(g.dp_rank()) +
                            ", pp " + std::to_string(g.pp_rank()) + ", tp " + std::to_string(g.tp_rank()) + ") on host " +
                            tessera::host_name();
    EXPECT_EQ(g.context(), ctx);
    EXPECT_EQ(tessera::rank_context(), ctx);
    agree_no_failures();
  }
}

TEST(ProcessGrid, TwoByTwoByTwoCoordinates) {
  if (world_size() != 8) GTEST_SKIP();
  ProcessGrid g(MPI_COMM_WORLD, 2, 2, 2);
  // The example from the docs: rank 5 is (dp 1, pp 0, tp 1).
  if (g.world_rank() == 5) {
    EXPECT_EQ(g.describe(), "rank 5 (dp 1, pp 0, tp 1)");
  }
  // Rank 6 = tp 0 + 2*(pp 1 + 2*dp 1).
  EXPECT_EQ(g.rank_of(1, 1, 0), 6);
  agree_no_failures();
}

TEST(ProcessGrid, MismatchIsAnError) {
  const int n = world_size();
  try {
    ProcessGrid g(MPI_COMM_WORLD, 2, 2, 1);
    FAIL() << "expected tessera::Error";
  } catch (const tessera::Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "parallel grid dp×tp×pp = 2×2×1 = 4 does not match the " + std::to_string(n) + " MPI ranks");
  }
  try {
    ProcessGrid g(MPI_COMM_WORLD, 3, 3, 1);
    FAIL() << "expected tessera::Error";
  } catch (const tessera::Error& e) {
    EXPECT_NE(std::string(e.what()).find("3×3×1 = 9 does not match"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ProcessGrid(MPI_COMM_WORLD, 0, n, 1), tessera::Error);
  EXPECT_THROW(ProcessGrid(MPI_COMM_WORLD, n, 1, -1), tessera::Error);
  // The failed constructions created no communicators: a valid grid still works.
  ProcessGrid g(MPI_COMM_WORLD, n, 1, 1);
  long long v = 1;
  g.world().all_reduce(&v, 1, DType::I64, ReduceOp::Sum);
  EXPECT_EQ(v, n);
  agree_no_failures();
}

TEST(ProcessGrid, GridsAreIndependentOfEachOther) {
  // Two live grids over the same world (e.g. a trainer and an evaluator) do not
  // interfere: their communicators are distinct.
  if (world_size() != 8) GTEST_SKIP();
  ProcessGrid a(MPI_COMM_WORLD, 2, 2, 2);
  ProcessGrid b(MPI_COMM_WORLD, 1, 8, 1);
  int cmp = 0;
  MPI_Comm_compare(a.world_comm(), MPI_COMM_WORLD, &cmp);
  EXPECT_EQ(cmp, MPI_CONGRUENT);
  MPI_Comm_compare(a.world_comm(), b.world_comm(), &cmp);
  EXPECT_EQ(cmp, MPI_CONGRUENT);
  long long x = 1, y = 1;
  auto pa = a.tp().all_reduce_async(&x, 1, DType::I64, ReduceOp::Sum);
  b.tp().all_reduce(&y, 1, DType::I64, ReduceOp::Sum);
  pa->wait();
  EXPECT_EQ(x, 2);
  EXPECT_EQ(y, 8);
  agree_no_failures();
}
