// Genetic algorithm, steady-state and asynchronous (Goldberg 1989, "Genetic
// Algorithms in Search, Optimization and Machine Learning"; steady-state GA as in
// DeepHyper/LBANN-style HPC searches): a freed group gets a child of the current
// population at once. Population = the `elite` best finished trials plus the most
// recent others (up to `population`); parents by tournament selection; uniform
// crossover; mutation per kind (numeric: Gaussian step in the unit cube, ints
// rounded to their step; categorical: another choice); conditional parameters
// that become active are sampled fresh.
#include <algorithm>
#include <cmath>
#include <numeric>
#include "src/tune/sampler.hpp"

namespace tessera {

nlohmann::json ga_crossover(const SearchSpace& space, const nlohmann::json& a, const nlohmann::json& b,
                            std::mt19937_64& rng) {
  std::bernoulli_distribution coin(0.5);
  nlohmann::json child = nlohmann::json::object();
  for (const Param& p : space.params()) {
    if (!space.active(p, child)) continue;
    const bool in_a = a.contains(p.name), in_b = b.contains(p.name);
    if (in_a && in_b) child[p.name] = coin(rng) ? a.at(p.name) : b.at(p.name);
    else if (in_a) child[p.name] = a.at(p.name);
    else if (in_b) child[p.name] = b.at(p.name);
    else child[p.name] = space.sample_value(p, rng);
  }
  return child;
}

nlohmann::json ga_mutate(const SearchSpace& space, const nlohmann::json& x, double prob, double sd,
                         std::mt19937_64& rng) {
  std::bernoulli_distribution flip(prob);
  std::normal_distribution<double> step(0.0, sd);
  nlohmann::json out = nlohmann::json::object();
  for (const Param& p : space.params()) {
    if (!space.active(p, out)) continue;
    if (!x.contains(p.name)) {
      out[p.name] = space.sample_value(p, rng);
      continue;
    }
    const nlohmann::json& v = x.at(p.name);
    if (!flip(rng)) {
      out[p.name] = v;
    } else if (p.kind == ParamKind::Categorical) {
      if (p.choices.size() < 2) {
        out[p.name] = v;
        continue;
      }
      std::uniform_int_distribution<size_t> pick(0, p.choices.size() - 2);
      size_t k = pick(rng);
      const size_t cur = size_t(std::find(p.choices.begin(), p.choices.end(), v) - p.choices.begin());
      if (k >= cur) ++k;
      out[p.name] = p.choices[std::min(k, p.choices.size() - 1)];
    } else {
      const double u = std::clamp(space.to_unit(p, v.get<double>()) + step(rng), 0.0, 1.0);
      nlohmann::json nv = space.snap(p, space.from_unit(p, u));
      if (p.kind == ParamKind::Int && nv == v) {  // ints: move at least one step when mutated
        const int64_t dir = step(rng) >= 0 ? 1 : -1;
        nv = space.snap(p, double(v.get<int64_t>() + dir * p.step));
      }
      out[p.name] = nv;
    }
  }
  return out;
}

namespace {

class GaSampler : public Sampler {
 public:
  explicit GaSampler(const SamplerSettings& s) : s_(s) {}

  nlohmann::json propose(const SearchSpace& space, const SamplerInput& in, std::mt19937_64& rng) override {
    const size_t P = size_t(std::max(2, s_.population));
    if (in.observed.size() < P) return make_random_sampler()->propose(space, in, rng);
    // Population: the elite (best overall) + the most recent finished trials.
    std::vector<size_t> by_score(in.observed.size());
    std::iota(by_score.begin(), by_score.end(), 0);
    std::sort(by_score.begin(), by_score.end(),
              [&](size_t a, size_t b) { return in.observed[a].score > in.observed[b].score; });
    std::vector<size_t> pop(by_score.begin(), by_score.begin() + std::min<size_t>(size_t(std::max(0, s_.elite)), P));
    for (size_t i = in.observed.size(); i-- > 0 && pop.size() < P;)
      if (std::find(pop.begin(), pop.end(), i) == pop.end()) pop.push_back(i);
    std::uniform_int_distribution<size_t> pick(0, pop.size() - 1);
    auto tournament = [&]() {
      size_t best = pop[pick(rng)];
      for (int k = 1; k < std::max(1, s_.tournament); ++k) {
        const size_t c = pop[pick(rng)];
        if (in.observed[c].score > in.observed[best].score) best = c;
      }
      return best;
    };
    std::bernoulli_distribution cross(s_.crossover_prob);
    nlohmann::json child;
    for (int tries = 0; tries < 50; ++tries) {
      const size_t a = tournament(), b = tournament();
      child = cross(rng) ? ga_crossover(space, in.observed[a].params, in.observed[b].params, rng)
                         : in.observed[a].params;
      child = ga_mutate(space, child, s_.mutation_prob, s_.mutation_sd, rng);
      if (!already_tried(child, in)) return child;
    }
    return make_random_sampler()->propose(space, in, rng);
  }

 private:
  SamplerSettings s_;
};

}  // namespace

std::unique_ptr<Sampler> make_ga_sampler(const SamplerSettings& s) { return std::make_unique<GaSampler>(s); }

std::unique_ptr<Sampler> make_sampler(const SamplerSettings& s) {
  if (s.kind == "grid") return make_grid_sampler(s.grid_points);
  if (s.kind == "bo") return make_bo_sampler(s);
  if (s.kind == "ga") return make_ga_sampler(s);
  return make_random_sampler();
}

}  // namespace tessera
