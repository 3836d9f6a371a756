// Early stopping (Hugging Face EarlyStoppingCallback semantics) on crafted validation curves: loss curve with
// patience, accuracy curve (greater is better), min_delta (best follows small improvements, the count does not
// reset), NaN/inf never improve, state save/restore mid-curve continues identically, metric directions.
#include <gtest/gtest.h>
#include <cmath>
#include <limits>
#include "src/runtime/error.hpp"
#include "src/train/early_stopping.hpp"

using namespace tessera;

namespace {
// Feeds values at steps 100, 200, ...; returns the 1-based evaluation at which should_stop() first became
// true (0 = never).
int run_curve(EarlyStopping& es, const std::vector<double>& values) {
  for (size_t k = 0; k < values.size(); ++k) {
    es.update(int64_t(k + 1) * 100, values[k]);
    if (es.should_stop()) return int(k + 1);
  }
  return 0;
}
}  // namespace

TEST(EarlyStopping, LossCurvePatience3) {
  EarlyStopping es("loss", false, 3, 0.0);
  const std::vector<double> v{1.0, 0.8, 0.7, 0.72, 0.71, 0.75};
  std::vector<bool> best;
  for (size_t k = 0; k < v.size(); ++k) {
    EXPECT_FALSE(es.should_stop()) << "stopped before evaluation " << k + 1;
    best.push_back(es.update(int64_t(k + 1) * 100, v[k]));
  }
  EXPECT_EQ(best, (std::vector<bool>{true, true, true, false, false, false}));
  EXPECT_TRUE(es.should_stop()) << "3 evaluations without improvement after the 3rd";
  EXPECT_EQ(es.best_step(), 300);
  EXPECT_EQ(es.best_value(), 0.7);
  EXPECT_EQ(es.bad_evaluations(), 3);
  EXPECT_EQ(es.evaluations(), 6);
  EarlyStopping es2("loss", false, 3, 0.0);
  EXPECT_EQ(run_curve(es2, v), 6);
}

TEST(EarlyStopping, ImprovementResetsCount) {
  EarlyStopping es("loss", false, 2, 0.0);
  // bad, bad would stop at 0.95; the improvement at 0.9 resets, then stops after two more bad ones.
  EXPECT_EQ(run_curve(es, {1.0, 1.1, 0.9, 0.95, 0.91, 0.5}), 5);
  EXPECT_EQ(es.best_step(), 300);
  EarlyStopping eq("loss", false, 2, 0.0);
  EXPECT_EQ(run_curve(eq, {1.0, 1.0, 1.0}), 3) << "an equal value is not an improvement";
  EXPECT_EQ(eq.best_step(), 100);
}

TEST(EarlyStopping, AccuracyGreaterIsBetter) {
  EarlyStopping es("accuracy", true, 2, 0.0);
  EXPECT_EQ(run_curve(es, {0.5, 0.6, 0.82, 0.8, 0.85, 0.84, 0.83, 0.9}), 7);
  EXPECT_EQ(es.best_step(), 500);
  EXPECT_EQ(es.best_value(), 0.85);
}

TEST(EarlyStopping, MinDelta) {
  // HF: the count resets only when the gain over the best exceeds min_delta; best_metric still follows every
  // strict improvement. Gains 0.05 (> 0.01 → reset), 0.005, 0.005, 0.005 (≤ 0.01 → count 1, 2, 3 → stop).
  EarlyStopping es("eval_loss", false, 3, 0.01);
  const std::vector<double> v{1.0, 0.95, 0.945, 0.94, 0.935};
  std::vector<bool> best;
  std::vector<int> bad;
  for (size_t k = 0; k < v.size(); ++k) {
    best.push_back(es.update(int64_t(k + 1), v[k]));
    bad.push_back(es.bad_evaluations());
  }
  EXPECT_EQ(best, (std::vector<bool>{true, true, true, true, true}));
  EXPECT_EQ(bad, (std::vector<int>{0, 0, 1, 2, 3}));
  EXPECT_TRUE(es.should_stop());
  EXPECT_EQ(es.best_step(), 5);
  EXPECT_EQ(es.best_value(), 0.935);
  // The gain is measured from the best, which crept: 0.58 (+0.08, bad 1, best 0.58), 0.65 (+0.07 over 0.58 —
  // though +0.15 over the last reset value 0.5 — bad 2 → stop).
  EarlyStopping es2("f1", true, 2, 0.1);
  EXPECT_EQ(run_curve(es2, {0.5, 0.58, 0.65}), 3);
  EXPECT_EQ(es2.best_value(), 0.65);
  // A jump beyond min_delta resets: 0.55 bad 1, 0.66 (+0.11) reset, 0.7 bad 1.
  EarlyStopping es3("f1", true, 2, 0.1);
  EXPECT_EQ(run_curve(es3, {0.5, 0.55, 0.66, 0.7}), 0);
  EXPECT_EQ(es3.bad_evaluations(), 1);
}

TEST(EarlyStopping, NonFiniteNeverImproves) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  EarlyStopping es("loss", false, 2, 0.0);
  EXPECT_FALSE(es.update(1, nan)) << "a NaN first value is not the best";
  EXPECT_FALSE(es.has_best());
  EXPECT_EQ(es.best_step(), -1);
  EXPECT_TRUE(std::isnan(es.best_value()));
  EXPECT_EQ(es.bad_evaluations(), 1);
  EXPECT_TRUE(es.update(2, 0.5)) << "the first finite value is the best and resets the count";
  EXPECT_EQ(es.bad_evaluations(), 0);
  EXPECT_FALSE(es.update(3, -inf));
  EXPECT_FALSE(es.update(4, nan));
  EXPECT_TRUE(es.should_stop());
  EXPECT_EQ(es.best_value(), 0.5);
  EarlyStopping acc("accuracy", true, 1, 0.0);
  acc.update(1, 0.3);
  EXPECT_FALSE(acc.update(2, inf));
  EXPECT_TRUE(acc.should_stop());
}

TEST(EarlyStopping, SaveRestoreContinuesIdentically) {
  const std::vector<double> v{0.9, 0.7, 0.75, 0.74, 0.6, 0.65, 0.66, 0.67};
  EarlyStopping whole("loss", false, 3, 0.005);
  const int stop_whole = run_curve(whole, v);
  EXPECT_EQ(stop_whole, 8);
  for (size_t cut = 0; cut <= 7; ++cut) {
    EarlyStopping first("loss", false, 3, 0.005);
    for (size_t k = 0; k < cut; ++k) first.update(int64_t(k + 1) * 100, v[k]);
    const auto state = first.save();
    EarlyStopping resumed("loss", false, 3, 0.005);
    resumed.restore(state);
    int stop = 0;
    for (size_t k = cut; k < v.size() && !stop; ++k) {
      resumed.update(int64_t(k + 1) * 100, v[k]);
      if (resumed.should_stop()) stop = int(k + 1);
    }
    EXPECT_EQ(stop, stop_whole) << "cut " << cut;
    EXPECT_EQ(resumed.best_step(), whole.best_step()) << "cut " << cut;
    EXPECT_EQ(resumed.best_value(), whole.best_value()) << "cut " << cut;
    EXPECT_EQ(resumed.evaluations(), whole.evaluations()) << "cut " << cut;
  }
}

TEST(EarlyStopping, RestoreAndConstructorErrors) {
  EarlyStopping es("loss", false, 2, 0.0);
  auto state = es.save();
  EarlyStopping acc("accuracy", true, 2, 0.0);
  EXPECT_THROW(acc.restore(state), Error) << "direction changed";
  state.erase("bad_evaluations");
  try {
    es.restore(state);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'bad_evaluations'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(EarlyStopping("loss", false, 0, 0.0), Error);
  EXPECT_THROW(EarlyStopping("loss", false, 1, -0.1), Error);
}

TEST(EarlyStopping, MetricDirection) {
  for (const char* n : {"loss", "eval_loss", "validation_loss", "perplexity", "eval_perplexity", "train_loss"})
    EXPECT_FALSE(metric_is_greater_better(n)) << n;
  for (const char* n : {"accuracy", "f1", "macro_f1", "micro_f1", "weighted_f1", "entity_f1", "exact_match", "bleu",
                        "eval_accuracy", "validation_macro_f1"})
    EXPECT_TRUE(metric_is_greater_better(n)) << n;
  try {
    metric_is_greater_better("rouge");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'rouge'"), std::string::npos) << e.what();
  }
}
