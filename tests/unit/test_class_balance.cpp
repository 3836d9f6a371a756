// Class weights: "balanced" = n_samples / (n_classes · count_c) (scikit-learn's compute_class_weight formula)
// on concrete label sets worked out by hand, the class with no samples is an error naming it, explicit weights
// from config strings (positional and label=weight), class counting.
#include <gtest/gtest.h>
#include <functional>
#include "src/runtime/error.hpp"
#include "src/train/class_balance.hpp"

using namespace tessera;

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST(ClassBalance, BalancedMatchesScikitLearnFormula) {
  // y = [0,0,0,0,0,0,1,1,1,2]: counts [6,3,1], n_samples 10, n_classes 3 →
  // compute_class_weight("balanced") = 10/(3·[6,3,1]) = [0.5555…, 1.1111…, 3.3333…].
  const std::vector<int32_t> y{0, 0, 0, 0, 0, 0, 1, 1, 1, 2};
  const auto counts = class_counts(y, 3);
  EXPECT_EQ(counts, (std::vector<int64_t>{6, 3, 1}));
  const auto w = class_weights_balanced(counts);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_DOUBLE_EQ(w[0], 10.0 / 18.0);
  EXPECT_DOUBLE_EQ(w[1], 10.0 / 9.0);
  EXPECT_DOUBLE_EQ(w[2], 10.0 / 3.0);
  EXPECT_NEAR(w[0], 0.5555555555555556, 1e-15);
  // Σ_c count_c·w_c = n_samples.
  EXPECT_NEAR(6 * w[0] + 3 * w[1] + 1 * w[2], 10.0, 1e-12);
  // Already balanced → all 1.
  EXPECT_EQ(class_weights_balanced({4, 4, 4, 4}), (std::vector<double>(4, 1.0)));
  // Two classes 90/10: [100/180, 100/20] = [0.5555…, 5].
  const auto w2 = class_weights_balanced({90, 10});
  EXPECT_DOUBLE_EQ(w2[0], 100.0 / 180.0);
  EXPECT_DOUBLE_EQ(w2[1], 5.0);
}

TEST(ClassBalance, EmptyClassIsAnErrorNamingIt) {
  const auto msg = error_of([] { class_weights_balanced({5, 0, 2}); });
  EXPECT_NE(msg.find("class 1"), std::string::npos) << msg;
  EXPECT_THROW(class_weights_balanced({}), Error);
}

TEST(ClassBalance, ClassCountsSkipIgnoreAndRejectOutOfRange) {
  EXPECT_EQ(class_counts({1, -100, 1, 0, -100}, 2), (std::vector<int64_t>{1, 2}));
  const auto msg = error_of([] { class_counts({0, 1, 2}, 2); });
  EXPECT_NE(msg.find("position 2"), std::string::npos) << msg;
  EXPECT_THROW(class_counts({-1}, 2), Error);
}

TEST(ClassBalance, ParsePositionalAndNamedWeights) {
  const std::vector<std::string> labels{"negative", "neutral", "positive"};
  EXPECT_EQ(parse_class_weights({"1", "2.5", "0.25"}, labels, "loss.class_weights"),
            (std::vector<double>{1.0, 2.5, 0.25}));
  EXPECT_EQ(parse_class_weights({"positive=3", "negative=1e-1", "neutral=0"}, labels, "loss.class_weights"),
            (std::vector<double>{0.1, 0.0, 3.0}));
}

TEST(ClassBalance, ParseErrorsNameKeyAndItem) {
  const std::vector<std::string> labels{"a", "b"};
  const std::string key = "loss.class_weights";
  auto err = [&](std::vector<std::string> items) {
    return error_of([&] { parse_class_weights(items, labels, key); });
  };
  for (const auto& [items, needle] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"1"}, "1 weights given for 2 classes"},
           {{"1", "x"}, "'x' is not a number"},
           {{"1", "2abc"}, "'2abc'"},
           {{"1", ""}, "not a number"},
           {{"1", "-1"}, ">= 0"},
           {{"1", "inf"}, "finite"},
           {{"1", "nan"}, "finite"},
           {{"a=1", "2"}, "mix"},
           {{"a=1", "c=2"}, "unknown label 'c'"},
           {{"a=1", "a=2"}, "'a' given twice"},
           {{"a=1"}, "no weight for label 'b'"},
           {{"0", "0"}, "all class weights are 0"},
       }) {
    const auto msg = err(items);
    EXPECT_NE(msg.find(key), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << "want '" << needle << "' in: " << msg;
  }
}
