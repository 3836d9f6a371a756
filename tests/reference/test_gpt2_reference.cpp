// GPT2<S> forward against the independent plain-loop double reference (naive_gpt2.hpp).
// Error measures:
//   logits: max_i |a_i − r_i| / max_i |r_i|      (relative to the largest reference logit)
//   loss  : |a − r| / |r|
// fp32 engine: ≤ 1e-5; fp64 engine: ≤ 1e-12.
// Parameters are the engine's random init plus a random perturbation of every tensor
// (biases and LayerNorm weights are not left at 0/1, so their wiring is tested).
#include <gtest/gtest.h>
#include <cmath>
#include <random>
#include <vector>
#include "reference/naive_gpt2.hpp"
#include "src/model/gpt2.hpp"
#include "src/runtime/error.hpp"

using namespace tessera;

namespace {

GPT2Config tiny_config() {
  GPT2Config c;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 32;
  c.n_positions = 16;
  c.vocab_size = 61;
  return c;
}

naive::Config naive_config(const GPT2Config& c) {
  naive::Config n;
  n.n_layer = c.n_layer;
  n.n_head = c.n_head;
  n.n_embd = c.n_embd;
  n.n_positions = c.n_positions;
  n.vocab_size = c.vocab_size;
  n.eps = c.layer_norm_epsilon;
  return n;
}

// init_weights(seed), then add N(0, 0.05) to every element (LayerNorm weights around 1).
template <class S>
void random_params(GPT2<S>& model, uint64_t seed) {
  model.init_weights(seed);
  auto h = Kokkos::create_mirror_view(model.params().values());
  Kokkos::deep_copy(h, model.params().values());
  std::mt19937_64 rng(seed + 1000);
  std::normal_distribution<double> noise(0.0, 0.05);
  for (size_t i = 0; i < h.extent(0); ++i) h(i) = S(double(h(i)) + noise(rng));
  Kokkos::deep_copy(model.params().values(), h);
}

template <class S>
naive::Params export_params(const GPT2<S>& model) {
  auto h = Kokkos::create_mirror_view(model.params().values());
  Kokkos::deep_copy(h, model.params().values());
  naive::Params p;
  for (const ParamInfo& info : model.params().infos()) {
    std::vector<double> v(info.numel);
    for (size_t i = 0; i < info.numel; ++i) v[i] = double(h(info.offset + i));
    p[info.name] = std::move(v);
  }
  return p;
}

std::vector<int32_t> random_ids(size_t n, int V, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> d(0, V - 1);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

template <class S>
std::vector<double> host_logits(const GPT2<S>& model) {
  auto view = model.logits();
  auto h = Kokkos::create_mirror_view(view);
  Kokkos::deep_copy(h, view);
  return std::vector<double>(h.data(), h.data() + h.extent(0));
}

double max_rel(const std::vector<double>& a, const std::vector<double>& r) {
  double num = 0, den = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    num = std::max(num, std::abs(a[i] - r[i]));
    den = std::max(den, std::abs(r[i]));
  }
  return num / den;
}

struct Compared {
  double logits_rel, loss_rel;
};

template <class S>
Compared compare(int B, int T, std::vector<int32_t> targets = {}) {
  const GPT2Config cfg = tiny_config();
  GPT2<S> model(cfg);
  random_params(model, 1234);
  const auto tokens = random_ids(size_t(B) * T, cfg.vocab_size, 7 + T);
  if (targets.empty()) targets = random_ids(size_t(B) * T, cfg.vocab_size, 99 + T);
  const double loss = double(model.forward(tokens.data(), targets.data(), B, T, ForwardOptions{}));
  const auto ref = naive::gpt2_forward(naive_config(cfg), export_params(model), tokens, targets, B, T, kIgnoreIndex);
  EXPECT_EQ(model.num_valid_targets(), ref.num_valid);
  const auto logits = host_logits(model);
  EXPECT_EQ(logits.size(), ref.logits.size());
  Compared c{max_rel(logits, ref.logits), std::abs(loss - ref.loss) / std::abs(ref.loss)};
  std::printf("[ %s B=%d T=%d ] logits max rel err %.3e, loss rel err %.3e (loss %.6f)\n",
              sizeof(S) == 4 ? "float " : "double", B, T, c.logits_rel, c.loss_rel, ref.loss);
  return c;
}

}  // namespace

TEST(GPT2Reference, FloatMatchesNaiveT16) {
  const auto c = compare<float>(2, 16);
  EXPECT_LE(c.logits_rel, 1e-5);
  EXPECT_LE(c.loss_rel, 1e-5);
}

TEST(GPT2Reference, FloatMatchesNaiveT11) {
  const auto c = compare<float>(2, 11);
  EXPECT_LE(c.logits_rel, 1e-5);
  EXPECT_LE(c.loss_rel, 1e-5);
}

TEST(GPT2Reference, DoubleMatchesNaive) {
  for (int T : {16, 11}) {
    const auto c = compare<double>(2, T);
    EXPECT_LE(c.logits_rel, 1e-12) << "T=" << T;
    EXPECT_LE(c.loss_rel, 1e-12) << "T=" << T;
  }
}

TEST(GPT2Reference, IgnoreIndexRowsExcludedFromMean) {
  const int B = 2, T = 16, V = tiny_config().vocab_size;
  auto targets = random_ids(size_t(B) * T, V, 5);
  for (size_t i = 0; i < targets.size(); i += 3) targets[i] = kIgnoreIndex;  // 11 of 32 ignored
  const auto c = compare<double>(B, T, targets);
  EXPECT_LE(c.loss_rel, 1e-12);

  // num_valid_targets counts the 21 valid rows.
  GPT2<double> model(tiny_config());
  random_params(model, 1234);
  const auto tokens = random_ids(size_t(B) * T, V, 7 + T);
  model.forward(tokens.data(), targets.data(), B, T, ForwardOptions{});
  EXPECT_EQ(model.num_valid_targets(), 21);
}

TEST(GPT2Reference, ForwardWithoutTargetsGivesLogits) {
  const GPT2Config cfg = tiny_config();
  GPT2<double> model(cfg);
  random_params(model, 3);
  const int B = 1, T = 9;
  const auto tokens = random_ids(T, cfg.vocab_size, 11);
  EXPECT_EQ(model.forward(tokens.data(), nullptr, B, T, ForwardOptions{}), 0.0);
  const auto ref = naive::gpt2_forward(naive_config(cfg), export_params(model), tokens, {}, B, T);
  EXPECT_LE(max_rel(host_logits(model), ref.logits), 1e-12);
}

TEST(GPT2Reference, InitIsCounterRngTimesStd) {
  GPT2Config cfg = tiny_config();
  GPT2<double> model(cfg);
  const uint64_t seed = 42;
  model.init_weights(seed);
  auto h = Kokkos::create_mirror_view(model.params().values());
  Kokkos::deep_copy(h, model.params().values());
  const double sd = cfg.initializer_range, sd_res = sd / std::sqrt(2.0 * cfg.n_layer);
  for (size_t p = 0; p < model.params().infos().size(); ++p) {
    const ParamInfo& info = model.params().info(p);
    const std::string& n = info.name;
    const auto ends = [&](const std::string& s) { return n.size() >= s.size() && n.substr(n.size() - s.size()) == s; };
    for (size_t e = 0; e < info.numel; ++e) {
      double expect;
      if (ends(".bias")) expect = 0;
      else if (ends("ln_1.weight") || ends("ln_2.weight") || n == "ln_f.weight") expect = 1;
      else expect = (ends("c_proj.weight") ? sd_res : sd) * rng_normal(RngKey{seed, 0, 0, param_rng_site(info.name)}, e);
      ASSERT_EQ(h(info.offset + e), expect) << n << "[" << e << "]";
    }
    EXPECT_EQ(info.weight_decay, !(ends(".bias") || n.find("ln_") != std::string::npos)) << n;
  }
  EXPECT_EQ(int64_t(model.params().numel()), cfg.num_parameters());
}

TEST(GPT2Reference, RejectsBadInput) {
  const GPT2Config cfg = tiny_config();
  GPT2<float> model(cfg);
  model.init_weights(1);
  std::vector<int32_t> tokens(17, 1);
  EXPECT_THROW(model.forward(tokens.data(), nullptr, 1, 17, ForwardOptions{}), Error);  // T > n_positions
  tokens[5] = cfg.vocab_size;
  try {
    model.forward(tokens.data(), nullptr, 1, 16, ForwardOptions{});
    FAIL() << "out-of-range token accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("position 5"), std::string::npos) << e.what();
  }
  tokens[5] = -1;
  EXPECT_THROW(model.forward(tokens.data(), nullptr, 1, 16, ForwardOptions{}), Error);
}
