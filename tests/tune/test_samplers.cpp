// Sampler properties: GA operators keep every value in its domain and give
// children exactly the parameters active under their own values; random points
// respect log/step domains; the grid is complete without duplicates; BO batch
// proposals (constant liar) never repeat a running point; BO beats random search
// on Branin at the same small budget (median over seeds).
#include <gtest/gtest.h>
#include <algorithm>
#include <cmath>
#include <set>
#include "src/tune/sampler.hpp"

using namespace tessera;

namespace {

SearchSpace conditional_space() {
  std::vector<Param> ps;
  Param lr{"optim.lr", ParamKind::Float, 1e-5, 1e-2, true};
  Param warm{"optim.warmup_steps", ParamKind::Int, 0, 12, false, 3};
  Param sched{"optim.schedule", ParamKind::Categorical};
  sched.choices = {"cosine", "linear", "constant"};
  Param ratio{"optim.min_lr_ratio", ParamKind::Float, 0.0, 0.5};
  ratio.parent = "optim.schedule";
  ratio.parent_values = {"cosine", "linear"};
  Param layers{"model.n_layer", ParamKind::Int, 1, 64, true};
  return SearchSpace({lr, warm, sched, ratio, layers});
}

void expect_valid(const SearchSpace& s, const nlohmann::json& x) {
  std::set<std::string> expected;
  for (const Param& p : s.params()) {
    if (!s.active(p, x)) {
      EXPECT_FALSE(x.contains(p.name)) << p.name << " inactive but present in " << x.dump();
      continue;
    }
    ASSERT_TRUE(x.contains(p.name)) << p.name << " active but missing in " << x.dump();
    const auto& v = x.at(p.name);
    if (p.kind == ParamKind::Categorical) {
      EXPECT_NE(std::find(p.choices.begin(), p.choices.end(), v), p.choices.end()) << v.dump();
    } else {
      const double d = v.get<double>();
      EXPECT_GE(d, p.low) << p.name;
      EXPECT_LE(d, p.high) << p.name;
      if (p.kind == ParamKind::Int) {
        EXPECT_TRUE(v.is_number_integer()) << p.name;
        EXPECT_EQ((v.get<int64_t>() - int64_t(p.low)) % p.step, 0) << p.name << " off its step";
      }
    }
    expected.insert(p.name);
  }
  EXPECT_EQ(x.size(), expected.size()) << x.dump();
}

double branin(double x1, double x2) {  // x1 ∈ [-5, 10], x2 ∈ [0, 15]; f* = 0.397887
  const double a = 1, b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, r = 6, s = 10, t = 1 / (8 * M_PI);
  return a * std::pow(x2 - b * x1 * x1 + c * x1 - r, 2) + s * (1 - t) * std::cos(x1) + s;
}

double best_after(const std::string& kind, int budget, uint64_t seed) {
  Param a{"x1", ParamKind::Float, -5, 10}, b{"x2", ParamKind::Float, 0, 15};
  SearchSpace space({a, b});
  SamplerSettings st;
  st.kind = kind;
  auto sampler = make_sampler(st);
  SamplerInput in;
  std::mt19937_64 rng(seed);
  double best = INFINITY;
  for (int i = 0; i < budget; ++i) {
    in.trial_number = i;
    const nlohmann::json x = sampler->propose(space, in, rng);
    const double f = branin(x["x1"].get<double>(), x["x2"].get<double>());
    best = std::min(best, f);
    in.observed.push_back({x, -f});
    in.tried.push_back(x);
  }
  return best;
}

}  // namespace

TEST(GaOperators, KeepValuesInRangeAndRespectConditions) {
  const SearchSpace s = conditional_space();
  std::mt19937_64 rng(1);
  for (int i = 0; i < 400; ++i) {
    const nlohmann::json a = s.sample(rng), b = s.sample(rng);
    expect_valid(s, a);
    const nlohmann::json c = ga_crossover(s, a, b, rng);
    expect_valid(s, c);
    for (const auto& [k, v] : c.items()) EXPECT_TRUE((a.contains(k) && a[k] == v) || (b.contains(k) && b[k] == v) ||
                                                     (!a.contains(k) && !b.contains(k))) << k;
    const nlohmann::json m = ga_mutate(s, c, 1.0, 0.3, rng);
    expect_valid(s, m);
    EXPECT_NE(m["optim.schedule"], c["optim.schedule"]);  // a mutated categorical changes
  }
}

TEST(GaOperators, EncodeDecodeRoundTripsValidPoints) {
  const SearchSpace s = conditional_space();
  std::mt19937_64 rng(2);
  for (int i = 0; i < 200; ++i) {
    const nlohmann::json x = s.sample(rng);
    const nlohmann::json y = s.decode(s.encode(x));
    for (const auto& [k, v] : x.items()) {
      if (v.is_number_float()) EXPECT_NEAR(y[k].get<double>(), v.get<double>(), 1e-9 * std::abs(v.get<double>()));
      else EXPECT_EQ(y[k], v) << k;
    }
    EXPECT_EQ(y.size(), x.size());
  }
}

TEST(GridSampler, CoversTheGridOnceWithConditions) {
  const SearchSpace s = conditional_space();
  const auto g = grid_points(s, 3);
  // lr 3 × warmup {0,3,6,9,12}→3 values × (cosine/linear × ratio 3 + constant) × n_layer 3
  EXPECT_EQ(g.size(), size_t(3 * 3 * (2 * 3 + 1) * 3));
  std::set<std::string> seen;
  for (const auto& x : g) {
    expect_valid(s, x);
    EXPECT_TRUE(seen.insert(x.dump()).second) << "duplicate " << x.dump();
  }
}

TEST(BoSampler, BatchProposalsNeverRepeatARunningPoint) {
  Param a{"x1", ParamKind::Int, 0, 3}, b{"x2", ParamKind::Categorical};
  b.choices = {"u", "v"};
  SearchSpace space({a, b});  // 8 points only: collisions are likely without the liar
  SamplerSettings st;
  st.kind = "bo";
  st.n_startup_trials = 3;
  auto bo = make_sampler(st);
  SamplerInput in;
  std::mt19937_64 rng(4);
  for (const auto& x : {nlohmann::json{{"x1", 0}, {"x2", "u"}}, nlohmann::json{{"x1", 3}, {"x2", "v"}},
                        nlohmann::json{{"x1", 1}, {"x2", "u"}}}) {
    in.observed.push_back({x, -std::abs(x["x1"].get<double>() - 2.0)});
    in.tried.push_back(x);
  }
  for (int k = 0; k < 5; ++k) {  // five concurrent groups ask in turn
    const nlohmann::json x = bo->propose(space, in, rng);
    EXPECT_EQ(std::count(in.tried.begin(), in.tried.end(), x), 0) << x.dump();
    in.running.push_back(x);
    in.tried.push_back(x);
  }
}

TEST(BoSampler, BeatsRandomSearchOnBranin) {
  std::vector<double> bo, rnd;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    bo.push_back(best_after("bo", 25, seed));
    rnd.push_back(best_after("random", 25, seed));
  }
  std::sort(bo.begin(), bo.end());
  std::sort(rnd.begin(), rnd.end());
  EXPECT_LT(bo[2], rnd[2]) << "median best after 25: bo " << bo[2] << " random " << rnd[2];
  EXPECT_LT(bo[2], 0.397887 + 0.5);
}
