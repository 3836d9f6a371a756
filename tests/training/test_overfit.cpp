// End-to-end training smoke test: a tiny GPT2<float> memorises one fixed random
// batch (B=4, T=16, vocab 61) with AdamW (lr 1e-2, weight decay 0.01 on matrices,
// 0 on biases and LayerNorm parameters) in at most 300 steps: loss < 0.05.
#include <gtest/gtest.h>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "kernels/adamw.hpp"
#include "src/model/gpt2.hpp"

using namespace tessera;

TEST(Overfit, TinyGPT2MemorisesOneBatch) {
  GPT2Config cfg;
  cfg.n_layer = 2;
  cfg.n_head = 2;
  cfg.n_embd = 32;
  cfg.n_positions = 16;
  cfg.vocab_size = 61;
  const int B = 4, T = 16;

  GPT2<float> model(cfg);
  model.init_weights(1337);
  std::mt19937 rng(2);
  std::uniform_int_distribution<int32_t> d(0, cfg.vocab_size - 1);
  std::vector<int32_t> tokens(B * T), targets(B * T);
  for (auto& t : tokens) t = d(rng);
  for (auto& t : targets) t = d(rng);

  auto& ps = model.params();
  View1<float> m("adam_m", ps.numel()), v("adam_v", ps.numel());
  const float initial = model.forward(tokens.data(), targets.data(), B, T, ForwardOptions{});
  EXPECT_NEAR(initial, std::log(float(cfg.vocab_size)), 0.5f);  // ≈ uniform prediction at init

  float loss = initial;
  int step = 1;
  for (; step <= 300; ++step) {
    ps.zero_grads();
    ForwardOptions opt;
    opt.training = true;
    opt.step = uint64_t(step);
    loss = model.forward(tokens.data(), targets.data(), B, T, opt);
    ASSERT_TRUE(std::isfinite(loss)) << "step " << step;
    if (loss < 0.05f) break;
    model.backward(1.0f);
    for (size_t p = 0; p < ps.infos().size(); ++p) {
      const ParamInfo& info = ps.info(p);
      AdamWStep h;
      h.lr = 1e-2;
      h.weight_decay = info.weight_decay ? 0.01 : 0.0;
      h.t = step;
      adamw_update<float>(ps.value(p), ps.grad(p), slice(m, info.offset, info.numel),
                          slice(v, info.offset, info.numel), int64_t(info.numel), h);
    }
    if (step % 50 == 0) std::printf("step %d loss %.4f\n", step, loss);
  }
  std::printf("initial loss %.4f, final loss %.4f after %d steps\n", initial, loss, step);
  EXPECT_LT(loss, 0.05f);
}
