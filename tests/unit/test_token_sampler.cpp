// Generation sampling (src/tasks/token_sampler.hpp) against hand-worked numbers and
// plain-loop softmax references; sampling frequencies are held to 3 sigma.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "src/runtime/error.hpp"
#include "src/tasks/token_sampler.hpp"

using tessera::tasks::SamplingOptions;
using tessera::tasks::sample_next_token;
using tessera::tasks::next_token_probabilities;

namespace {

// softmax(z / T) by a plain loop.
std::vector<double> ref_softmax(const std::vector<float>& z, double T) {
  std::vector<double> p;
  double mx = -1e300, sum = 0;
  for (float v : z) mx = std::max(mx, v / T);
  for (float v : z) p.push_back(std::exp(v / T - mx)), sum += p.back();
  for (double& v : p) v /= sum;
  return p;
}

std::map<int32_t, int64_t> draw_counts(const std::vector<float>& z, const SamplingOptions& o, int64_t n) {
  std::map<int32_t, int64_t> c;
  for (int64_t s = 0; s < n; ++s) ++c[sample_next_token(z.data(), int64_t(z.size()), {}, o, uint64_t(s))];
  return c;
}

// |count - n p| <= 3 sqrt(n p (1 - p)) for every token.
void expect_frequencies(const std::map<int32_t, int64_t>& c, const std::vector<double>& p, int64_t n) {
  for (size_t i = 0; i < p.size(); ++i) {
    const auto it = c.find(int32_t(i));
    const double got = it == c.end() ? 0.0 : double(it->second);
    const double mean = double(n) * p[i], sigma = std::sqrt(double(n) * p[i] * (1 - p[i]));
    EXPECT_LE(std::abs(got - mean), 3 * sigma + 1e-9) << "token " << i << ": " << got << " draws, expected " << mean;
  }
}

std::vector<float> log_probs(const std::vector<double>& p) {
  std::vector<float> z;
  for (double v : p) z.push_back(float(std::log(v)));
  return z;
}

}  // namespace

TEST(TokenSampler, GreedyIsArgmaxLowestIndexOnTies) {
  const std::vector<float> z{0.1f, 2.0f, -1.0f, 2.0f, 1.9f};
  SamplingOptions o;
  o.temperature = 0.0;
  o.top_k = 3;    // ignored when greedy
  o.top_p = 0.1;  // ignored when greedy
  for (uint64_t step = 0; step < 20; ++step) EXPECT_EQ(sample_next_token(z.data(), 5, {}, o, step), 1);
  const auto p = next_token_probabilities(z.data(), 5, {}, o);
  EXPECT_EQ(p, (std::vector<double>{0, 1, 0, 0, 0}));
  const std::vector<float> neg{-5.0f, -INFINITY, -0.5f, -0.7f};
  EXPECT_EQ(sample_next_token(neg.data(), 4, {}, o, 0), 2);
}

TEST(TokenSampler, TopK1EqualsGreedy) {
  // distinct pseudo-random logits over a 257-token vocabulary, many seeds and steps
  std::vector<float> z(257);
  uint64_t x = 12345;
  SamplingOptions greedy;
  greedy.temperature = 0.0;
  SamplingOptions k1;
  k1.top_k = 1;
  k1.temperature = 1.7;
  for (int row = 0; row < 20; ++row) {
    for (auto& v : z) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      v = float((x >> 40) % 100000) / 7919.0f;
    }
    int32_t ref = 0;  // plain-loop argmax
    for (int i = 1; i < 257; ++i)
      if (z[size_t(i)] > z[size_t(ref)]) ref = i;
    EXPECT_EQ(sample_next_token(z.data(), 257, {}, greedy, 0), ref);
    for (uint64_t s = 0; s < 10; ++s) {
      k1.seed = uint64_t(row) * 31 + s;
      EXPECT_EQ(sample_next_token(z.data(), 257, {}, k1, s), ref);
    }
  }
}

TEST(TokenSampler, TopKKeepsTiesAtTheBoundaryAsHF) {
  // logits 3, 2, 2, 0 with top_k = 2: the 2nd largest is 2, both 2s stay (HF: z < kth removed)
  const std::vector<float> z{3.0f, 2.0f, 2.0f, 0.0f};
  SamplingOptions o;
  o.top_k = 2;
  const auto p = next_token_probabilities(z.data(), 4, {}, o);
  const double s = std::exp(3.0) + 2 * std::exp(2.0);
  EXPECT_NEAR(p[0], std::exp(3.0) / s, 1e-12);
  EXPECT_NEAR(p[1], std::exp(2.0) / s, 1e-12);
  EXPECT_NEAR(p[2], std::exp(2.0) / s, 1e-12);
  EXPECT_EQ(p[3], 0.0);
}

TEST(TokenSampler, TopPKeepsSmallestSetReachingTheMass) {
  // probabilities .15 .5 .05 .3 (ids 0..3): sorted .5 .3 | .15 .05; .5+.3 = .8 >= top_p .8
  const std::vector<float> z = log_probs({0.15, 0.5, 0.05, 0.3});
  SamplingOptions o;
  o.top_p = 0.8;
  o.seed = 7;
  const auto p = next_token_probabilities(z.data(), 4, {}, o);
  EXPECT_NEAR(p[1], 0.5 / 0.8, 1e-6);
  EXPECT_NEAR(p[3], 0.3 / 0.8, 1e-6);
  EXPECT_EQ(p[0], 0.0);
  EXPECT_EQ(p[2], 0.0);
  const auto c = draw_counts(z, o, 2000);
  std::set<int32_t> support;
  for (const auto& [id, n] : c) support.insert(id);
  EXPECT_EQ(support, (std::set<int32_t>{1, 3}));
  expect_frequencies(c, {0.0, 0.625, 0.0, 0.375}, 2000);
  // a bit more than .8 needs the .15 token too; a tiny top_p still keeps one token
  o.top_p = 0.81;
  auto p3 = next_token_probabilities(z.data(), 4, {}, o);
  EXPECT_NEAR(p3[0], 0.15 / 0.95, 1e-6);
  EXPECT_EQ(p3[2], 0.0);
  o.top_p = 0.01;
  EXPECT_EQ(next_token_probabilities(z.data(), 4, {}, o), (std::vector<double>{0, 1, 0, 0}));
}

TEST(TokenSampler, TopKThenTopP) {
  // .4 .3 .2 .1, top_k 3 -> .4/.9 .3/.9 .2/.9; top_p .7: .444 + .333 = .778 >= .7 -> 4/7, 3/7
  const std::vector<float> z = log_probs({0.4, 0.3, 0.2, 0.1});
  SamplingOptions o;
  o.top_k = 3;
  o.top_p = 0.7;
  const auto p = next_token_probabilities(z.data(), 4, {}, o);
  EXPECT_NEAR(p[0], 4.0 / 7.0, 1e-6);
  EXPECT_NEAR(p[1], 3.0 / 7.0, 1e-6);
  EXPECT_EQ(p[2], 0.0);
  EXPECT_EQ(p[3], 0.0);
}

TEST(TokenSampler, TemperatureDrawsMatchSoftmaxOverT) {
  const std::vector<float> z{1.0f, 0.5f, -0.3f, 2.0f, 0.0f};
  for (double T : {0.7, 2.5}) {
    SamplingOptions o;
    o.temperature = T;
    o.seed = 2024;
    const auto ref = ref_softmax(z, T);
    const auto p = next_token_probabilities(z.data(), 5, {}, o);
    for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(p[i], ref[i], 1e-12);
    const int64_t n = 20000;
    expect_frequencies(draw_counts(z, o, n), ref, n);
  }
}

TEST(TokenSampler, RepetitionPenaltyHandNumbers) {
  // ids 0 and 1 were seen (1 twice: penalised once): 2.0 -> 2.0/2 = 1.0, -1.0 -> -1.0*2 = -2.0
  const std::vector<float> z{2.0f, -1.0f, 0.5f, 3.0f};
  SamplingOptions o;
  o.repetition_penalty = 2.0;
  const auto p = next_token_probabilities(z.data(), 4, {0, 1, 1, 0}, o);
  const auto ref = ref_softmax({1.0f, -2.0f, 0.5f, 3.0f}, 1.0);
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(p[i], ref[i], 1e-12);
  // greedy sees the penalty: 3.0/1.2 = 2.5 < 2.9; -1.0*2 = -2.0 < -1.5
  SamplingOptions g;
  g.temperature = 0.0;
  g.repetition_penalty = 1.2;
  const std::vector<float> a{3.0f, 2.9f};
  EXPECT_EQ(sample_next_token(a.data(), 2, {}, g, 0), 0);
  EXPECT_EQ(sample_next_token(a.data(), 2, {0}, g, 0), 1);
  g.repetition_penalty = 2.0;
  const std::vector<float> b{-1.0f, -1.5f};
  EXPECT_EQ(sample_next_token(b.data(), 2, {0}, g, 0), 1);
  // then the temperature: softmax((1.0, -2.0, 0.5, 3.0) / 0.5)
  o.temperature = 0.5;
  const auto pt = next_token_probabilities(z.data(), 4, {0, 1}, o);
  const auto reft = ref_softmax({1.0f, -2.0f, 0.5f, 3.0f}, 0.5);
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(pt[i], reft[i], 1e-12);
}

TEST(TokenSampler, DeterministicInSeedAndStep) {
  const std::vector<float> z(64, 0.0f);  // uniform over 64 tokens
  SamplingOptions o;
  o.seed = 99;
  std::vector<int32_t> a, b, c;
  for (uint64_t s = 0; s < 200; ++s) {
    a.push_back(sample_next_token(z.data(), 64, {}, o, s));
    b.push_back(sample_next_token(z.data(), 64, {}, o, s));
  }
  EXPECT_EQ(a, b);
  o.seed = 100;
  for (uint64_t s = 0; s < 200; ++s) c.push_back(sample_next_token(z.data(), 64, {}, o, s));
  EXPECT_NE(a, c);
  EXPECT_GT(std::set<int32_t>(a.begin(), a.end()).size(), 40u);  // steps give different draws
}

TEST(TokenSampler, StopTokensAndSequences) {
  SamplingOptions o;
  o.stop_tokens = {50256, 13};
  EXPECT_TRUE(tessera::tasks::is_stop_token(13, o));
  EXPECT_FALSE(tessera::tasks::is_stop_token(14, o));
  using tessera::tasks::hits_stop;
  EXPECT_TRUE(hits_stop({5, 6, 7, 8}, {{9}, {7, 8}}));
  EXPECT_FALSE(hits_stop({5, 6, 7, 8}, {{6, 7}, {}}));
  EXPECT_FALSE(hits_stop({8}, {{7, 8}}));
  EXPECT_TRUE(hits_stop({7, 8}, {{7, 8}}));
  EXPECT_FALSE(hits_stop({}, {{}}));
}

TEST(TokenSampler, BadOptionsAndLogitsThrow) {
  const std::vector<float> z{1.0f, 2.0f};
  auto bad = [&](auto set, const char* what) {
    SamplingOptions o;
    set(o);
    try {
      sample_next_token(z.data(), 2, {}, o, 0);
      ADD_FAILURE() << "no error for " << what;
    } catch (const tessera::Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  bad([](SamplingOptions& o) { o.temperature = -1; }, "temperature");
  bad([](SamplingOptions& o) { o.top_k = -2; }, "top_k");
  bad([](SamplingOptions& o) { o.top_p = 0.0; }, "top_p");
  bad([](SamplingOptions& o) { o.top_p = 1.5; }, "top_p");
  bad([](SamplingOptions& o) { o.repetition_penalty = 0.0; }, "repetition_penalty");
  SamplingOptions o;
  EXPECT_THROW(sample_next_token(z.data(), 2, {2}, o, 0), tessera::Error);  // history id outside V
  const std::vector<float> nan{1.0f, NAN};
  EXPECT_THROW(sample_next_token(nan.data(), 2, {}, o, 0), tessera::Error);
  const std::vector<float> masked{-INFINITY, -INFINITY};
  EXPECT_THROW(sample_next_token(masked.data(), 2, {}, o, 0), tessera::Error);
  const std::vector<float> one_left{-INFINITY, 0.5f};
  EXPECT_EQ(sample_next_token(one_left.data(), 2, {}, o, 3), 1);
}
