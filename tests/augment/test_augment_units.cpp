// The pieces of tessera augment and SMOTE without the CLI: text normalisation and
// word n-gram Jaccard, the filters on crafted candidates, seeded perturbations, and
// SMOTE's neighbour search (against a brute-force sort) and interpolation (every
// synthetic row on the segment between its source row and a same-class neighbour).
#include <gtest/gtest.h>
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include "kernels/counter_rng.hpp"
#include "src/model/smote_rows.hpp"
#include "src/tasks/augment_filters.hpp"
#include "src/tasks/near_duplicate.hpp"
#include "src/tasks/word_perturbation.hpp"

using namespace tessera;
using namespace tessera::tasks;

TEST(AugmentText, NormalizeAndNgrams) {
  EXPECT_EQ(normalize_text("  The Movie,  was GREAT!! "), "the movie was great");
  EXPECT_EQ(normalize_text("don't"), "don t");
  const auto g = word_ngrams("a b c a b", 2);
  EXPECT_EQ(g, (std::set<std::string>{"a b", "b c", "c a"}));
  EXPECT_EQ(word_ngrams("single", 2), (std::set<std::string>{"single"}));
  EXPECT_DOUBLE_EQ(jaccard({"x", "y"}, {"y", "z"}), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(jaccard({}, {}), 1.0);
}

TEST(AugmentFilters, EachFilterRemovesWhatItShouldAndCounts) {
  const std::vector<std::string> train = {"the film was a dull and tedious mess", "a bright funny film"};
  // bigrams of train[0]: the film, film was, was a, a dull, dull and, and tedious, tedious mess (7)
  std::vector<Candidate> c = {
      {"The film was a DULL and tedious mess!", 0, "generated", "0"},        // exact dup of train (normalised)
      {"the film was a dull and tedious mess indeed", 0, "generated", "0"},  // 7/8 bigrams shared: near dup
      {"the film was a dull story with no end", 0, "generated", "0"},        // 4 shared of 7+5-... below 0.8
      {"awful", 0, "generated", "1"},                                        // too short (min 2 words)
      {"the film was a dull story with no end", 0, "generated", "1"},        // exact dup of an earlier candidate
      {"one two three four five six seven eight nine ten eleven", 0, "generated", "1"},  // too long (max 10)
      {"boring plot and wooden acting throughout", 0, "generated", "2"},
      {"wooden acting and a boring plot throughout", 0, "generated", "2"},
  };
  AugmentFilterOptions o;
  o.min_words = 2;
  o.max_words = 10;
  o.near_dup = 0.8;
  o.ngram = 2;
  FilterCounts n;
  const auto kept = filter_candidates(train, c, {-1}, o, {}, n);
  EXPECT_EQ(n.candidates, 8);
  EXPECT_EQ(n.exact_dup, 2);
  EXPECT_EQ(n.near_dup, 1);
  EXPECT_EQ(n.length, 2);
  EXPECT_EQ(n.classifier, 0);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[0].text, "the film was a dull story with no end");
  EXPECT_EQ(kept[1].text, "boring plot and wooden acting throughout");
  EXPECT_EQ(kept[2].text, "wooden acting and a boring plot throughout");
  EXPECT_NE(n.summary().find("8 candidates, removed: exact-dup 2, near-dup 1, length 2, classifier 0"), std::string::npos)
      << n.summary();

  // Threshold: Jaccard(candidate 2, train 0) = 4 / (7 + 8 - 4) = 0.364 → kept at 0.8, dropped at 0.3.
  const double j = jaccard(word_ngrams(c[2].text, 2), word_ngrams(train[0], 2));
  EXPECT_NEAR(j, 4.0 / 11.0, 1e-12);
  o.near_dup = 0.36;
  filter_candidates(train, c, {-1}, o, {}, n);
  EXPECT_EQ(n.near_dup, 3);  // candidates 1, 2 and 4 (4 is no exact dup once 2 is gone, but as near)
  EXPECT_EQ(n.exact_dup, 1);
  o.near_dup = 2.0;  // off
  filter_candidates(train, c, {-1}, o, {}, n);
  EXPECT_EQ(n.near_dup, 0);
}

TEST(AugmentFilters, ClassifierAndQuota) {
  std::vector<Candidate> c;
  for (int i = 0; i < 6; ++i) c.push_back({"text number " + std::to_string(i) + " here", i % 2, "generated", ""});
  // p(intended class) = 0.1 · i: candidates 0..4 below 0.5 are dropped, 5 kept.
  std::vector<std::string> seen;
  ClassProbability p = [&](const std::vector<std::string>& texts, const std::vector<int32_t>& labels) {
    seen = texts;
    std::vector<double> out;
    for (size_t i = 0; i < texts.size(); ++i) {
      EXPECT_EQ(labels[i], int(i % 2));
      out.push_back(0.1 * double(i));
    }
    return out;
  };
  AugmentFilterOptions o;
  o.min_confidence = 0.35;
  FilterCounts n;
  auto kept = filter_candidates({}, c, {-1, -1}, o, p, n);
  EXPECT_EQ(seen.size(), 6u);
  EXPECT_EQ(n.classifier, 4);  // 0, 0.1, 0.2, 0.3 < 0.35
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].text, c[4].text);
  // quota: class 0 at most 1, class 1 unlimited
  o.min_confidence = 0;
  kept = filter_candidates({}, c, {1, -1}, o, p, n);
  EXPECT_EQ(n.surplus, 2);
  EXPECT_EQ(kept.size(), 4u);
}

TEST(AugmentPerturb, SeededDeletionAndSwap) {
  const std::string s = "one two three four five six seven eight";
  PerturbOptions o;
  o.delete_prob = 0.25;
  o.swaps = 2;
  EXPECT_EQ(perturb_words(s, o, 3, 5), perturb_words(s, o, 3, 5));
  std::set<std::string> outs;
  for (uint64_t i = 0; i < 20; ++i) {
    const std::string t = perturb_words(s, o, 3, i);
    outs.insert(t);
    // every output word is a source word, none twice (deletions and swaps only)
    std::multiset<std::string> src, got;
    for (const auto& w : split_words(s)) src.insert(w);
    for (const auto& w : split_words(t)) got.insert(w);
    EXPECT_TRUE(std::includes(src.begin(), src.end(), got.begin(), got.end())) << t;
    EXPECT_GE(got.size(), 1u);
  }
  EXPECT_GT(outs.size(), 10u);
  o.delete_prob = 0;
  o.swaps = 0;
  EXPECT_EQ(perturb_words("  a   b c ", o, 1, 1), "a b c");
  o.delete_prob = 0.99;
  EXPECT_EQ(split_words(perturb_words("a b c d e f", o, 1, 2)).size() >= 1, true);
}

TEST(Smote, NearestNeighboursMatchBruteForce) {
  const int64_t C = 5, n = 40;
  std::vector<double> cand(size_t(n * C));
  for (size_t i = 0; i < cand.size(); ++i) cand[i] = std::floor(rng_uniform(RngKey{1, 2, 3, 4}, i) * 4);  // many ties
  for (int q = 0; q < 10; ++q) {
    std::vector<double> x(static_cast<size_t>(C));
    for (int64_t j = 0; j < C; ++j) x[size_t(j)] = rng_uniform(RngKey{9, uint64_t(q), 0, 0}, uint64_t(j)) * 4;
    for (int k : {1, 3, 7, 40, 60}) {
      const auto got = nearest_neighbours(x.data(), cand, C, k);
      // brute force: all distances, stable sort by (distance, index)
      std::vector<std::pair<double, int64_t>> all;
      for (int64_t i = 0; i < n; ++i) {
        double d = 0;
        for (int64_t j = 0; j < C; ++j) d += (cand[size_t(i * C + j)] - x[size_t(j)]) * (cand[size_t(i * C + j)] - x[size_t(j)]);
        all.push_back({d, i});
      }
      std::sort(all.begin(), all.end());
      ASSERT_EQ(got.size(), size_t(std::min<int64_t>(k, n)));
      for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], all[i].second) << "k " << k << " rank " << i;
    }
  }
}

TEST(Smote, SyntheticRowsLieOnSegmentsToSameClassNeighbours) {
  const int64_t C = 3;
  const int B = 8, k = 2;
  SmoteOptions o;
  o.ratio = 1.5;
  o.k = k;
  o.minority = {0, 1, 1};  // class 0 is the majority
  o.seed = 4;
  SmoteRows smote(o, C);
  EXPECT_EQ(minority_classes({0, 0, 0, 1, 2, 2}, 3), (std::vector<char>{0, 1, 1}));
  std::vector<std::vector<double>> bank1, bank2;  // what the bank should hold, per class
  int64_t total = 0, steps_with_rows = 0;
  for (uint64_t step = 0; step < 6; ++step) {
    std::vector<double> x(size_t(B * C));
    std::vector<int32_t> y(static_cast<size_t>(B));
    for (int b = 0; b < B; ++b) {
      y[size_t(b)] = int32_t(rng_bits(RngKey{7, step, 0, 1}, uint64_t(b)) % 3);
      for (int64_t j = 0; j < C; ++j) x[size_t(b * C + j)] = rng_uniform(RngKey{7, step, 1, 1}, uint64_t(b * C + j));
    }
    y[0] = 1;  // at least one minority row every step
    const auto before1 = bank1, before2 = bank2;
    const SmoteBatch sb = smote.synthesize(x.data(), y.data(), B, B, step, 0);
    total += sb.count();
    steps_with_rows += sb.count() > 0;
    for (int64_t s = 0; s < sb.count(); ++s) {
      const int b = sb.source[size_t(s)];
      const int32_t c = sb.labels[size_t(s)];
      ASSERT_EQ(c, y[size_t(b)]);
      ASSERT_NE(c, 0) << "majority rows get no synthetic rows";
      const double lam = sb.lambda[size_t(s)];
      ASSERT_GE(lam, 0.0);
      ASSERT_LT(lam, 1.0);
      // candidates: bank then the batch's other rows of class c; the neighbour is among the k nearest
      std::vector<double> cand;
      for (const auto& v : c == 1 ? before1 : before2) cand.insert(cand.end(), v.begin(), v.end());
      for (int o2 = 0; o2 < B; ++o2)
        if (o2 != b && y[size_t(o2)] == c) cand.insert(cand.end(), x.begin() + o2 * C, x.begin() + (o2 + 1) * C);
      const auto nn = nearest_neighbours(&x[size_t(b * C)], cand, C, k);
      bool on_segment = false;
      for (int64_t i : nn) {
        bool all = true;
        for (int64_t j = 0; j < C; ++j) {
          const double want = x[size_t(b * C + j)] + lam * (cand[size_t(i * C + j)] - x[size_t(b * C + j)]);
          all = all && std::abs(sb.rows[size_t(s * C + j)] - want) < 1e-12;
        }
        on_segment = on_segment || all;
      }
      EXPECT_TRUE(on_segment) << "step " << step << " synthetic row " << s;
    }
    for (int b = 0; b < B; ++b) {
      std::vector<double> v(x.begin() + b * C, x.begin() + (b + 1) * C);
      if (y[size_t(b)] == 1) bank1.push_back(v);
      if (y[size_t(b)] == 2) bank2.push_back(v);
    }
    EXPECT_EQ(smote.bank_rows(1), int64_t(bank1.size()));
    EXPECT_EQ(smote.bank_rows(0), 0);
  }
  EXPECT_GT(total, 10);
  EXPECT_GE(steps_with_rows, 5);
}

TEST(Smote, RatioCountsAndCap) {
  SmoteOptions o;
  o.ratio = 3;
  o.k = 1;
  o.minority = {0, 1};
  SmoteRows smote(o, 2);
  const std::vector<double> x = {0, 0, 1, 1, 2, 2, 3, 3};
  const std::vector<int32_t> y = {1, 1, 0, 0};
  // two minority rows, each has the other as its only candidate: 3 rows each
  SmoteBatch sb = smote.synthesize(x.data(), y.data(), 4, 100, 0, 0);
  ASSERT_EQ(sb.count(), 6);
  for (int64_t s = 0; s < 3; ++s) EXPECT_NEAR(sb.rows[size_t(2 * s)], sb.lambda[size_t(s)], 1e-15);  // 0 → (1,1)
  sb = smote.synthesize(x.data(), y.data(), 4, 4, 1, 0);
  EXPECT_EQ(sb.count(), 4);  // capped
  // a lone minority row with an empty bank gets nothing
  SmoteRows fresh(o, 2);
  const std::vector<int32_t> y1 = {1, 0, 0, 0};
  EXPECT_EQ(fresh.synthesize(x.data(), y1.data(), 4, 100, 0, 0).count(), 0);
  EXPECT_EQ(fresh.synthesize(x.data(), y1.data(), 4, 100, 1, 0).count(), 3);  // now the bank has one
}
