// 1F1B schedule: every micro-batch is forwarded then backwarded exactly once per
// stage, warm-up length is P-s-1, in-flight count never exceeds P-s, and the
// schedules of neighbouring stages are consistent (a stage's forward of m comes
// after the previous stage's forward of m; its backward of m after the next
// stage's backward of m — checked by simulating the pipeline).
#include <gtest/gtest.h>
#include <map>
#include "src/train/pipeline_schedule.hpp"

using namespace tessera;

TEST(PipelineSchedule, CountsOrderAndInFlight) {
  for (int P : {1, 2, 3, 4})
    for (int M : {1, 2, 3, 5, 8})
      for (int s = 0; s < P; ++s) {
        auto ops = one_f_one_b_schedule(s, P, M);
        ASSERT_EQ(int(ops.size()), 2 * M);
        std::vector<int> fwd(M, 0), bwd(M, 0);
        int in_flight = 0, peak = 0, warm = 0;
        bool seen_bwd = false;
        for (auto& op : ops) {
          if (op.kind == PipelineOp::Forward) {
            ASSERT_EQ(bwd[op.micro], 0);
            ++fwd[op.micro];
            ++in_flight;
            if (!seen_bwd) ++warm;
          } else {
            ASSERT_EQ(fwd[op.micro], 1) << "backward before forward";
            ++bwd[op.micro];
            --in_flight;
            seen_bwd = true;
          }
          peak = std::max(peak, in_flight);
        }
        for (int m = 0; m < M; ++m) EXPECT_EQ(fwd[m] + bwd[m], 2);
        EXPECT_LE(peak, max_in_flight(s, P, M));
        EXPECT_EQ(warm, std::min(P - s - 1, M) + (M > std::min(P - s - 1, M) ? 1 : 0));
      }
}

// Simulates blocking receives: each stage executes its ops in order; a forward of m
// on stage s>0 needs stage s-1's forward of m done; a backward of m on stage s<P-1
// needs stage s+1's backward of m done. The schedule must never deadlock.
TEST(PipelineSchedule, NeverDeadlocks) {
  for (int P : {2, 3, 4})
    for (int M : {1, 2, 4, 7}) {
      std::vector<std::vector<PipelineOp>> sched;
      for (int s = 0; s < P; ++s) sched.push_back(one_f_one_b_schedule(s, P, M));
      std::vector<size_t> pc(P, 0);
      std::map<std::tuple<int, int, int>, bool> done;  // (stage, kind, micro)
      bool progress = true;
      while (progress) {
        progress = false;
        for (int s = 0; s < P; ++s) {
          if (pc[s] >= sched[s].size()) continue;
          const auto& op = sched[s][pc[s]];
          bool ready = op.kind == PipelineOp::Forward ? (s == 0 || done[{s - 1, 0, op.micro}])
                                                      : (s == P - 1 || done[{s + 1, 1, op.micro}]);
          if (ready) {
            done[{s, op.kind == PipelineOp::Forward ? 0 : 1, op.micro}] = true;
            ++pc[s];
            progress = true;
          }
        }
      }
      for (int s = 0; s < P; ++s) EXPECT_EQ(pc[s], sched[s].size()) << "deadlock P=" << P << " M=" << M;
    }
}
