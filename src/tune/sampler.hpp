// Samplers: what a study tries next. Each proposal sees the finished trials
// (params and objective, oriented so that larger is better) and the points of
// the trials still running (for batch proposals: concurrent groups never get the
// same point). Written here from the references in docs/tune.md.
#pragma once
#include <memory>
#include <random>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include "src/tune/search_space.hpp"

namespace tessera {

struct ObservedTrial {
  nlohmann::json params;
  double score = 0;  // the objective, larger = better (minimised objectives negated)
};

struct SamplerInput {
  std::vector<ObservedTrial> observed;   // finished trials with a value (complete or pruned)
  std::vector<nlohmann::json> running;   // points of the trials running now
  std::vector<nlohmann::json> tried;     // every point started so far (any state)
  int64_t trial_number = 0;              // trials started so far (grid: the next grid index)
};

struct SamplerSettings {
  std::string kind = "random";  // random | grid | bo | ga
  // grid
  int grid_points = 5;          // values per float parameter (ints: every step, up to this many)
  // bo
  int n_startup_trials = 5;     // random proposals before the GP is used
  int restarts = 4;             // marginal-likelihood restarts
  int candidates = 512;         // random candidates scored before local search
  int local_starts = 4;         // best candidates refined by local search
  double xi = 0.0;              // EI margin (in standardised units)
  std::string liar = "worst";   // running trials count as: worst | mean | best (constant liar) | kriging (believer)
  // ga
  int population = 8;
  int elite = 2;
  int tournament = 3;
  double crossover_prob = 0.9;
  double mutation_prob = 0.2;
  double mutation_sd = 0.1;     // Gaussian step in the unit cube for numeric parameters
  int generations = 0;          // 0 = as many as the trial budget allows
};

class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual nlohmann::json propose(const SearchSpace& space, const SamplerInput& in, std::mt19937_64& rng) = 0;
};

std::unique_ptr<Sampler> make_sampler(const SamplerSettings& s);
std::unique_ptr<Sampler> make_random_sampler();
std::unique_ptr<Sampler> make_grid_sampler(int points_per_float);
std::unique_ptr<Sampler> make_bo_sampler(const SamplerSettings& s);
std::unique_ptr<Sampler> make_ga_sampler(const SamplerSettings& s);
bool already_tried(const nlohmann::json& x, const SamplerInput& in);

// Grid: every point of the grid in a fixed order (grid index → point); size of the grid.
std::vector<nlohmann::json> grid_points(const SearchSpace& space, int points_per_float);

// GA operators (exposed for tests). Children keep values in range and hold exactly the
// parameters active under their own values.
nlohmann::json ga_crossover(const SearchSpace& space, const nlohmann::json& a, const nlohmann::json& b,
                            std::mt19937_64& rng);
nlohmann::json ga_mutate(const SearchSpace& space, const nlohmann::json& x, double prob, double sd,
                         std::mt19937_64& rng);

}  // namespace tessera
