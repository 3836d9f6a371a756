// GPT2<double>::backward against central finite differences of forward's loss.
// For every parameter tensor: all elements when it has ≤ 32, else 8 random elements
// (plus, for wte, part of the row of a token present in the batch: head + embedding).
//   numeric  n = [8(L(θ+h) − L(θ−h)) − (L(θ+2h) − L(θ−2h))] / 12h,  h = 3e-4
//            (4th-order central difference: truncation O(h⁴) ≈ 1e-14, round-off
//            ≈ ε·|L|/h ≈ 3e-12. The 2nd-order stencil with h = 1e-6 has ≈ 1.5e-9
//            round-off, which is ~1e-5 relative on this model's 1e-4-sized gradients.)
//   error    rel = |a − n| / max(|a| + |n|, 1e-5),   required ≤ 1e-6 for every element.
// The floor 1e-5 means gradients that are ~0 (e.g. the key bias, exactly 0 by softmax
// shift invariance) are held to |a − n| ≤ 1e-11 instead of dividing noise by noise.
// Parameters: init_weights + N(0, 0.05) noise on every element, so biases and
// LayerNorm parameters are not at their special 0/1 values.
#include <gtest/gtest.h>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "src/model/gpt2.hpp"
#include "src/runtime/error.hpp"

using namespace tessera;

namespace {

constexpr int kB = 2, kT = 16;

GPT2Config tiny_config(double pdrop) {
  GPT2Config c;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 32;
  c.n_positions = 16;
  c.vocab_size = 61;
  c.embd_pdrop = c.attn_pdrop = c.resid_pdrop = pdrop;
  return c;
}

void randomize(GPT2<double>& model, uint64_t seed) {
  model.init_weights(seed);
  auto h = Kokkos::create_mirror_view(model.params().values());
  Kokkos::deep_copy(h, model.params().values());
  std::mt19937_64 rng(seed + 1000);
  std::normal_distribution<double> noise(0.0, 0.05);
  for (size_t i = 0; i < h.extent(0); ++i) h(i) += noise(rng);
  Kokkos::deep_copy(model.params().values(), h);
}

struct Batch {
  std::vector<int32_t> tokens, targets;
};

Batch make_batch(int V, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> d(0, V - 1);
  Batch b;
  for (int i = 0; i < kB * kT; ++i) {
    b.tokens.push_back(d(rng));
    b.targets.push_back(d(rng));
  }
  b.targets[3] = kIgnoreIndex;
  b.targets[20] = kIgnoreIndex;
  return b;
}

std::vector<double> host_copy(const View1<double>& v) {
  auto h = Kokkos::create_mirror_view(v);
  Kokkos::deep_copy(h, v);
  return std::vector<double>(h.data(), h.data() + h.extent(0));
}

void set_value(const View1<double>& values, size_t i, double x) {
  Kokkos::deep_copy(Kokkos::subview(values, i), x);
}

struct GradcheckStats {
  double max_rel = 0;
  std::string worst;
  int checked = 0;
};

GradcheckStats gradcheck(const GPT2Config& cfg, const ForwardOptions& opt) {
  GPT2<double> model(cfg);
  randomize(model, 2024);
  const Batch batch = make_batch(cfg.vocab_size, 77);
  auto loss_at = [&]() { return model.forward(batch.tokens.data(), batch.targets.data(), kB, kT, opt); };

  model.params().zero_grads();
  loss_at();
  model.backward(1.0);
  const std::vector<double> grads = host_copy(model.params().grads());
  const View1<double> values = model.params().values();
  const std::vector<double> theta = host_copy(values);

  const double h = 3e-4;
  std::mt19937_64 rng(5);
  GradcheckStats st;
  for (const ParamInfo& info : model.params().infos()) {
    std::vector<size_t> elems;
    if (info.numel <= 32) {
      for (size_t e = 0; e < info.numel; ++e) elems.push_back(e);
    } else {
      std::uniform_int_distribution<size_t> d(0, info.numel - 1);
      for (int k = 0; k < 8; ++k) elems.push_back(d(rng));
    }
    if (info.name == "wte.weight")
      for (int c = 0; c < 4; ++c) elems.push_back(size_t(batch.tokens[0]) * cfg.n_embd + c);
    for (size_t e : elems) {
      const size_t i = info.offset + e;
      auto loss_with = [&](double delta) {
        set_value(values, i, theta[i] + delta);
        return loss_at();
      };
      const double l1 = loss_with(h) - loss_with(-h), l2 = loss_with(2 * h) - loss_with(-2 * h);
      set_value(values, i, theta[i]);
      const double n = (8 * l1 - l2) / (12 * h), a = grads[i];
      const double rel = std::abs(a - n) / std::max(std::abs(a) + std::abs(n), 1e-5);
      EXPECT_LE(rel, 1e-6) << info.name << "[" << e << "]: backward " << a << ", finite difference " << n;
      if (rel > st.max_rel) {
        st.max_rel = rel;
        st.worst = info.name + "[" + std::to_string(e) + "] a=" + std::to_string(a) + " n=" + std::to_string(n);
      }
      ++st.checked;
    }
  }
  std::printf("gradcheck (training=%d): %d elements, max rel err %.3e at %s\n", int(opt.training), st.checked,
              st.max_rel, st.worst.c_str());
  return st;
}

// grads after fwd+backward(1.0) and after two fwd+backward(0.5) calls.
double accumulation_error(const GPT2Config& cfg, const ForwardOptions& opt) {
  GPT2<double> model(cfg);
  randomize(model, 11);
  const Batch batch = make_batch(cfg.vocab_size, 12);
  auto step = [&](double scale) {
    model.forward(batch.tokens.data(), batch.targets.data(), kB, kT, opt);
    model.backward(scale);
  };
  model.params().zero_grads();
  step(1.0);
  const auto once = host_copy(model.params().grads());
  model.params().zero_grads();
  step(0.5);
  step(0.5);
  const auto twice = host_copy(model.params().grads());
  double num = 0, den = 0;
  for (size_t i = 0; i < once.size(); ++i) {
    num = std::max(num, std::abs(once[i] - twice[i]));
    den = std::max(den, std::abs(once[i]));
  }
  std::printf("accumulation (training=%d): max|g(0.5+0.5) - g(1)| / max|g(1)| = %.3e\n", int(opt.training),
              num / den);
  return num / den;
}

}  // namespace

TEST(GPT2Gradcheck, AllParametersNoDropout) {
  const auto st = gradcheck(tiny_config(0.0), ForwardOptions{});
  EXPECT_GT(st.checked, 400);
}

TEST(GPT2Gradcheck, AllParametersWithDropout) {
  ForwardOptions opt;
  opt.training = true;
  opt.seed = 9;
  opt.step = 3;
  const auto st = gradcheck(tiny_config(0.1), opt);
  EXPECT_GT(st.checked, 400);
}

TEST(GPT2Gradcheck, GradientAccumulates) {
  EXPECT_LE(accumulation_error(tiny_config(0.0), ForwardOptions{}), 1e-12);
  ForwardOptions opt;
  opt.training = true;
  opt.seed = 4;
  EXPECT_LE(accumulation_error(tiny_config(0.1), opt), 1e-12);
}

TEST(GPT2Gradcheck, DropoutChangesLossOnlyWhenTraining) {
  GPT2<double> model(tiny_config(0.1));
  randomize(model, 3);
  const Batch batch = make_batch(61, 4);
  ForwardOptions eval, train;
  train.training = true;
  train.seed = 1;
  const double l_eval = model.forward(batch.tokens.data(), batch.targets.data(), kB, kT, eval);
  const double l_train = model.forward(batch.tokens.data(), batch.targets.data(), kB, kT, train);
  const double l_train2 = model.forward(batch.tokens.data(), batch.targets.data(), kB, kT, train);
  EXPECT_NE(l_eval, l_train);
  EXPECT_EQ(l_train, l_train2);  // the mask is a pure function of the key
  train.step = 1;
  EXPECT_NE(model.forward(batch.tokens.data(), batch.targets.data(), kB, kT, train), l_train);
}

TEST(GPT2Gradcheck, BackwardNeedsForwardWithTargets) {
  GPT2<double> model(tiny_config(0.0));
  model.init_weights(1);
  const Batch batch = make_batch(61, 4);
  EXPECT_THROW(model.backward(1.0), Error);
  model.forward(batch.tokens.data(), nullptr, kB, kT, ForwardOptions{});
  EXPECT_THROW(model.backward(1.0), Error);
  model.forward(batch.tokens.data(), batch.targets.data(), kB, kT, ForwardOptions{});
  model.backward(1.0);
  EXPECT_THROW(model.backward(1.0), Error);  // logits now hold gradients
}
