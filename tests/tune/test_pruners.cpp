// ASHA promotes exactly the top ⌊n/η⌋ of each rung (and only decides at rung
// steps); the median rule prunes below the median of the others at the same step.
#include <gtest/gtest.h>
#include <algorithm>
#include <random>
#include "src/tune/pruner.hpp"

using namespace tessera;

TEST(Asha, PromotesExactlyTheTopOneOverEtaOfAFullRung) {
  std::mt19937_64 rng(5);
  for (int eta : {2, 3, 4}) {
    for (int n : {1, 2, 3, 7, 9, 12, 27}) {
      std::vector<double> rung(static_cast<size_t>(n));
      for (double& v : rung) v = std::uniform_real_distribution<double>(0, 1)(rng);
      int promoted = 0;
      std::vector<double> sorted = rung;
      std::sort(sorted.rbegin(), sorted.rend());
      const int k = std::max(1, n / eta);
      for (double v : rung) {
        const bool p = asha_promotes(rung, v, eta);
        promoted += p;
        EXPECT_EQ(p, v >= sorted[size_t(k - 1)]) << "eta " << eta << " n " << n;
      }
      EXPECT_EQ(promoted, k) << "eta " << eta << " n " << n;
    }
  }
}

TEST(Asha, DecidesAtRungStepsOnly) {
  PrunerSettings s;
  s.kind = "asha";
  s.min_resource = 2;
  s.reduction_factor = 3;  // rungs at steps 2, 6, 18
  std::vector<Curve> others = {{{2, 0.9}, {6, 0.95}}, {{2, 0.8}, {6, 0.85}}, {{2, 0.7}}};
  EXPECT_TRUE(decide_prune(s, {{2, 0.1}}, 2, others, 0).prune);   // worst of 4 at rung 0: top ⌊4/3⌋ = 1
  EXPECT_FALSE(decide_prune(s, {{2, 0.95}}, 2, others, 0).prune); // best of 4
  EXPECT_FALSE(decide_prune(s, {{2, 0.1}, {4, 0.1}}, 4, others, 0).prune);  // step 4 is no rung
  const PruneDecision d = decide_prune(s, {{2, 0.95}, {6, 0.5}}, 6, others, 0);  // rung 1: 3 trials, top 1
  EXPECT_TRUE(d.prune);
  EXPECT_NE(d.reason.find("rung 1"), std::string::npos) << d.reason;
}

TEST(MedianRule, PrunesBelowTheMedianAfterStartupAndWarmup) {
  PrunerSettings s;
  s.kind = "median";
  s.n_startup_trials = 2;
  s.n_warmup_steps = 1;
  std::vector<Curve> others = {{{2, 0.5}}, {{2, 0.6}}, {{2, 0.9}}};
  EXPECT_TRUE(decide_prune(s, {{2, 0.55}}, 2, others, 3).prune);    // median 0.6
  EXPECT_FALSE(decide_prune(s, {{2, 0.65}}, 2, others, 3).prune);
  EXPECT_FALSE(decide_prune(s, {{2, 0.1}}, 2, others, 1).prune);    // before n_startup_trials
  EXPECT_FALSE(decide_prune(s, {{1, 0.1}}, 1, others, 3).prune);    // within the warm-up
}
