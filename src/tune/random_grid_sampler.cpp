// Random search (Bergstra & Bengio 2012, "Random Search for Hyper-Parameter
// Optimization") and grid search over the space.
#include <algorithm>
#include <cmath>
#include "src/runtime/error.hpp"
#include "src/tune/sampler.hpp"

namespace tessera {

namespace {

}  // namespace

bool already_tried(const nlohmann::json& x, const SamplerInput& in) {
  return std::find(in.tried.begin(), in.tried.end(), x) != in.tried.end();
}

namespace {

class RandomSampler : public Sampler {
 public:
  nlohmann::json propose(const SearchSpace& space, const SamplerInput& in, std::mt19937_64& rng) override {
    nlohmann::json x = space.sample(rng);
    for (int tries = 0; tries < 100 && already_tried(x, in); ++tries) x = space.sample(rng);
    return x;
  }
};

class GridSampler : public Sampler {
 public:
  explicit GridSampler(int points) : points_(points) {}
  nlohmann::json propose(const SearchSpace& space, const SamplerInput& in, std::mt19937_64& rng) override {
    if (grid_.empty()) grid_ = grid_points(space, points_);
    // The first grid point not tried yet (a re-run trial keeps its point; this is for new ones).
    for (size_t k = 0; k < grid_.size(); ++k) {
      const nlohmann::json& g = grid_[(size_t(in.trial_number) + k) % grid_.size()];
      if (!already_tried(g, in)) return g;
    }
    return RandomSampler().propose(space, in, rng);  // grid exhausted
  }

 private:
  int points_;
  std::vector<nlohmann::json> grid_;
};

}  // namespace

std::vector<nlohmann::json> grid_points(const SearchSpace& space, int per_float) {
  std::vector<nlohmann::json> out = {nlohmann::json::object()};
  for (const Param& p : space.params()) {
    std::vector<nlohmann::json> values;
    if (p.kind == ParamKind::Categorical) {
      values = p.choices;
    } else if (p.kind == ParamKind::Int && (int64_t(p.high) - int64_t(p.low)) / p.step + 1 <= per_float) {
      for (int64_t v = int64_t(p.low); v <= int64_t(p.high); v += p.step) values.push_back(v);
    } else {
      for (int i = 0; i < per_float; ++i) {
        const nlohmann::json v = space.snap(p, space.from_unit(p, per_float == 1 ? 0.5 : double(i) / (per_float - 1)));
        if (std::find(values.begin(), values.end(), v) == values.end()) values.push_back(v);
      }
    }
    std::vector<nlohmann::json> next;
    for (const nlohmann::json& base : out) {
      if (!space.active(p, base)) {
        next.push_back(base);
        continue;
      }
      for (const auto& v : values) {
        nlohmann::json x = base;
        x[p.name] = v;
        next.push_back(x);
      }
    }
    out = std::move(next);
    require(out.size() <= 1000000, "grid sampler: the grid has more than 10^6 points; lower sampler.grid_points");
  }
  return out;
}

std::unique_ptr<Sampler> make_random_sampler() { return std::make_unique<RandomSampler>(); }
std::unique_ptr<Sampler> make_grid_sampler(int points) { return std::make_unique<GridSampler>(points); }

}  // namespace tessera
