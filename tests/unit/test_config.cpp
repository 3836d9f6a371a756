// Run config: defaults, presets with explicit overrides, to_toml round trip,
// and the example configs shipped in jobs/configs/.
#include <gtest/gtest.h>
#include <string>
#include "src/config/run_config.hpp"
#include "src/runtime/error.hpp"
#include "test_support.hpp"

using namespace tessera;

namespace {

// Field-by-field equality (everything to_toml stores; not source_text/source_path).
void expect_same(const RunConfig& a, const RunConfig& b) {
  EXPECT_EQ(a.model.family, b.model.family);
  EXPECT_EQ(a.model.preset, b.model.preset);
  EXPECT_EQ(a.model.init_from, b.model.init_from);
  const auto &g = a.model.transformer, &h = b.model.transformer;
  EXPECT_EQ(g.n_layer, h.n_layer);
  EXPECT_EQ(g.n_head, h.n_head);
  EXPECT_EQ(g.n_embd, h.n_embd);
  EXPECT_EQ(g.n_positions, h.n_positions);
  EXPECT_EQ(g.vocab_size, h.vocab_size);
  EXPECT_EQ(g.embd_pdrop, h.embd_pdrop);
  EXPECT_EQ(g.attn_pdrop, h.attn_pdrop);
  EXPECT_EQ(g.resid_pdrop, h.resid_pdrop);
  EXPECT_EQ(g.layer_norm_epsilon, h.layer_norm_epsilon);
  EXPECT_EQ(g.initializer_range, h.initializer_range);

  EXPECT_EQ(a.data.path, b.data.path);
  EXPECT_EQ(a.data.train_split, b.data.train_split);
  EXPECT_EQ(a.data.validation_split, b.data.validation_split);
  EXPECT_EQ(a.data.seq_len, b.data.seq_len);
  EXPECT_EQ(a.data.shuffle, b.data.shuffle);

  EXPECT_EQ(a.train.max_steps, b.train.max_steps);
  EXPECT_EQ(a.train.epochs, b.train.epochs);
  EXPECT_EQ(a.train.micro_batch_size, b.train.micro_batch_size);
  EXPECT_EQ(a.train.grad_accum_steps, b.train.grad_accum_steps);
  EXPECT_EQ(a.train.seed, b.train.seed);
  EXPECT_EQ(a.train.grad_clip, b.train.grad_clip);
  EXPECT_EQ(a.train.eval_interval, b.train.eval_interval);
  EXPECT_EQ(a.train.eval_batches, b.train.eval_batches);
  EXPECT_EQ(a.train.log_interval, b.train.log_interval);
  EXPECT_EQ(a.train.device, b.train.device);
  EXPECT_EQ(a.train.max_time_s, b.train.max_time_s);

  EXPECT_EQ(a.optim.lr, b.optim.lr);
  EXPECT_EQ(a.optim.min_lr_ratio, b.optim.min_lr_ratio);
  EXPECT_EQ(a.optim.schedule, b.optim.schedule);
  EXPECT_EQ(a.optim.warmup_steps, b.optim.warmup_steps);
  EXPECT_EQ(a.optim.beta1, b.optim.beta1);
  EXPECT_EQ(a.optim.beta2, b.optim.beta2);
  EXPECT_EQ(a.optim.eps, b.optim.eps);
  EXPECT_EQ(a.optim.weight_decay, b.optim.weight_decay);

  EXPECT_EQ(a.checkpoint.dir, b.checkpoint.dir);
  EXPECT_EQ(a.checkpoint.interval, b.checkpoint.interval);
  EXPECT_EQ(a.checkpoint.keep_last, b.checkpoint.keep_last);
  EXPECT_EQ(a.checkpoint.resume, b.checkpoint.resume);

  EXPECT_EQ(a.run.dir, b.run.dir);
  EXPECT_EQ(a.run.name, b.run.name);

  EXPECT_EQ(a.generate.prompt, b.generate.prompt);
  EXPECT_EQ(a.generate.max_new_tokens, b.generate.max_new_tokens);
  EXPECT_EQ(a.generate.temperature, b.generate.temperature);
  EXPECT_EQ(a.generate.top_k, b.generate.top_k);
}

}  // namespace

TEST(Config, DefaultsWithOnlyDataPath) {
  const RunConfig c = parse_run_config("[data]\npath = \"d.h5\"\n", "min.toml");
  RunConfig expected;
  expected.data.path = "d.h5";
  expect_same(c, expected);
  // A few defaults spelled out, so a changed default is a visible decision.
  EXPECT_EQ(c.model.family, "gpt2");
  EXPECT_EQ(c.model.transformer.n_layer, 12);
  EXPECT_EQ(c.model.transformer.vocab_size, 50257);
  EXPECT_EQ(c.data.seq_len, 128);
  EXPECT_EQ(c.train.max_steps, 100);
  EXPECT_EQ(c.train.micro_batch_size, 8);
  EXPECT_EQ(c.train.device, "auto");
  EXPECT_EQ(c.optim.lr, 3e-4);
  EXPECT_EQ(c.optim.schedule, "cosine");
  EXPECT_EQ(c.checkpoint.keep_last, 3);
  EXPECT_EQ(c.run.dir, "runs/default");
  EXPECT_EQ(c.generate.temperature, 1.0);
  EXPECT_EQ(c.source_text, "[data]\npath = \"d.h5\"\n");
}

TEST(Config, IntegerAcceptedForFloat) {
  const RunConfig c = parse_run_config("[data]\npath = \"d.h5\"\n[optim]\nlr = 1\nweight_decay = 0\n", "x.toml");
  EXPECT_EQ(c.optim.lr, 1.0);
  EXPECT_EQ(c.optim.weight_decay, 0.0);
}

TEST(Config, PresetsAndOverride) {
  RunConfig c = parse_run_config("[model]\npreset = \"gpt2-small\"\n[data]\npath = \"d.h5\"\n", "p.toml");
  EXPECT_EQ(c.model.transformer.n_layer, 12);
  EXPECT_EQ(c.model.transformer.n_head, 12);
  EXPECT_EQ(c.model.transformer.n_embd, 768);
  EXPECT_EQ(c.model.transformer.n_positions, 1024);
  EXPECT_EQ(c.model.transformer.vocab_size, 50257);
  EXPECT_NEAR(double(c.model.transformer.num_parameters()), 124.4e6, 0.1e6);

  c = parse_run_config("[data]\npath = \"d.h5\"\n[model]\npreset = \"gpt2-medium\"\n", "p.toml");
  EXPECT_EQ(c.model.transformer.n_layer, 24);
  EXPECT_EQ(c.model.transformer.n_head, 16);
  EXPECT_EQ(c.model.transformer.n_embd, 1024);

  // Explicit keys win over the preset, whichever comes first in the file.
  c = parse_run_config(
      "[model]\nn_layer = 4\npreset = \"gpt2-tiny\"\nn_embd = 96\nresid_pdrop = 0.1\n"
      "[data]\npath = \"d.h5\"\nseq_len = 64\n",
      "p.toml");
  EXPECT_EQ(c.model.preset, "gpt2-tiny");
  EXPECT_EQ(c.model.transformer.n_layer, 4);       // override
  EXPECT_EQ(c.model.transformer.n_head, 2);        // preset
  EXPECT_EQ(c.model.transformer.n_embd, 96);       // override
  EXPECT_EQ(c.model.transformer.n_positions, 128); // preset
  EXPECT_EQ(c.model.transformer.vocab_size, 257);  // preset
  EXPECT_EQ(c.model.transformer.resid_pdrop, 0.1);
  EXPECT_EQ(c.data.seq_len, 64);
}

TEST(Config, RoundTripNonDefault) {
  RunConfig a;
  a.model.preset = "gpt2-tiny";
  a.model.transformer.n_layer = 3;
  a.model.transformer.n_head = 4;
  a.model.transformer.n_embd = 80;
  a.model.transformer.n_positions = 96;
  a.model.transformer.vocab_size = 300;
  a.model.transformer.embd_pdrop = 0.1;
  a.model.transformer.attn_pdrop = 0.05;
  a.model.transformer.resid_pdrop = 1.0 / 3.0;
  a.model.transformer.layer_norm_epsilon = 1e-6;
  a.model.transformer.initializer_range = 0.0123456789;
  a.model.init_from = "runs/base/checkpoints/step_100";
  a.data.path = "data/some \"quoted\" path\\with\tescapes.h5";
  a.data.train_split = "tr";
  a.data.validation_split = "";
  a.data.seq_len = 96;
  a.data.shuffle = false;
  a.train.max_steps = 0;
  a.train.epochs = 2.5;
  a.train.micro_batch_size = 3;
  a.train.grad_accum_steps = 5;
  a.train.seed = 9007199254740993ull;  // not representable as a double
  a.train.grad_clip = 0;
  a.train.eval_interval = 7;
  a.train.eval_batches = 0;
  a.train.log_interval = 10;
  a.train.device = "host";
  a.train.max_time_s = 3600;
  a.optim.lr = 6e-4;
  a.optim.min_lr_ratio = 0;
  a.optim.schedule = "linear";
  a.optim.warmup_steps = 13;
  a.optim.beta1 = 0.85;
  a.optim.beta2 = 0.95;
  a.optim.eps = 1e-10;
  a.optim.weight_decay = 0.1;
  a.checkpoint.dir = "ck";
  a.checkpoint.interval = 25;
  a.checkpoint.keep_last = 0;
  a.checkpoint.resume = true;
  a.run.dir = "runs/rt";
  a.run.name = "round trip";
  a.generate.prompt = "In the beginning\nGod said: \"let there be\" \x01";
  a.generate.max_new_tokens = 40;
  a.generate.temperature = 0.7;
  a.generate.top_k = 20;

  const std::string text = to_toml(a);
  RunConfig b;
  ASSERT_NO_THROW(b = parse_run_config(text, "roundtrip.toml")) << text;
  expect_same(a, b);
  EXPECT_EQ(b.source_text, text);
  // Serialising again is a fixed point.
  EXPECT_EQ(to_toml(b), text);
  // Every field is emitted.
  for (const char* key : {"[model]", "[data]", "[train]", "[optim]", "[checkpoint]", "[run]", "[generate]",
                          "n_positions =", "initializer_range =", "validation_split =", "max_time_s =",
                          "min_lr_ratio =", "keep_last =", "top_k ="})
    EXPECT_NE(text.find(key), std::string::npos) << key;
}

TEST(Config, RoundTripDefaults) {
  RunConfig a;
  a.data.path = "d.h5";
  const RunConfig b = parse_run_config(to_toml(a), "defaults.toml");
  expect_same(a, b);
}

TEST(Config, LoadSetsSource) {
  const auto dir = tessera_test::fresh_dir("config_load_sets_source");
  const auto path = dir / "run.toml";
  const std::string text = "# comment\n[data]\npath = \"d.h5\"\n[train]\nmax_steps = 5\n";
  tessera_test::write_file(path, text);
  const RunConfig c = load_run_config(path.string());
  EXPECT_EQ(c.source_path, path.string());
  EXPECT_EQ(c.source_text, text);
  EXPECT_EQ(c.train.max_steps, 5);
}

TEST(Config, ExampleConfigsParse) {
  const std::string root = tessera_test::source_dir() + "/jobs/configs/";
  const RunConfig tiny = load_run_config(root + "gpt2_tiny_kjv.toml");
  EXPECT_EQ(tiny.model.transformer.vocab_size, 257);
  EXPECT_EQ(tiny.data.path, "data/kjv.h5");
  EXPECT_EQ(tiny.data.seq_len, 128);
  EXPECT_EQ(tiny.train.micro_batch_size, 16);
  EXPECT_EQ(tiny.train.max_steps, 300);
  EXPECT_EQ(tiny.optim.lr, 1e-3);
  EXPECT_EQ(tiny.optim.warmup_steps, 20);
  EXPECT_EQ(tiny.optim.schedule, "cosine");
  EXPECT_EQ(tiny.train.eval_interval, 100);
  EXPECT_EQ(tiny.checkpoint.interval, 100);
  EXPECT_EQ(tiny.generate.prompt, "In the beginning");
  EXPECT_EQ(tiny.generate.max_new_tokens, 120);

  const RunConfig small = load_run_config(root + "gpt2_small_bench.toml");
  EXPECT_EQ(small.model.preset, "gpt2-small");
  EXPECT_EQ(small.model.transformer.n_embd, 768);
}
