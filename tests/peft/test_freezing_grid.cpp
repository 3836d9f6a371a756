// Freezing through the CLI on every kind of grid: a tiny GPT-2 with its
// embeddings (the tied head with them), its bottom block and one MLP frozen
// (train.freeze_embeddings, train.freeze_blocks = 1, train.freeze = ["h.3.mlp.*"]).
//  - one rank: the frozen tensors leave training bit for bit at their
//    initialisation and their stored AdamW moments are 0; the logged trainable
//    count is the sum of the trainable tensors and the optimizer state is 2·4 bytes
//    per trainable element (none for frozen ones); stopping at step 5 and resuming
//    gives the uninterrupted run's losses and checkpoint bit for bit;
//  - dp (ZeRO-1), tp, pp and dp×tp×pp grids give the one-rank run's losses and
//    final parameters within 1e-5.
#include <gtest/gtest.h>
#include <unistd.h>
#include "grid_fixture.hpp"
#include "src/config/run_config.hpp"
#include "src/model/transformer.hpp"
#include "src/train/freezing.hpp"

using namespace tessera_test;
namespace fs = std::filesystem;

namespace {

GridRun frozen_run(const Grid& g, bool zero1) {
  GridRun r;
  r.grid = g;
  r.zero1 = zero1;
  r.overrides = {{"train.freeze_embeddings", "true"}, {"train.freeze_blocks", "1"}, {"train.freeze", "[\"h.3.mlp.*\"]"}};
  return r;
}

struct Base {
  fs::path dir;
  std::string data;
  Metrics metrics;
  std::string checkpoint;
};

// The one-rank frozen run (once per process).
const Base& base_run() {
  static Base b = [] {
    Base r;
    r.dir = fresh_dir("peft_freeze_base_" + std::to_string(getpid()));  // one per test process (ctest -j)
    r.data = prepare_ruth(r.dir);
    auto t = train_on(Grid{}, write_grid_config(r.dir, "base", r.data, frozen_run(Grid{}, false)));
    EXPECT_EQ(t.result.exit_code, 0) << t.result.output;
    r.metrics = read_metrics(r.dir / "base");
    r.checkpoint = tessera::find_latest_checkpoint((r.dir / "base/checkpoints").string());
    return r;
  }();
  return b;
}

TEST(FreezingOneRank, FrozenTensorsStayAtInitWithoutOptimizerState) {
  const Base& b = base_run();
  ASSERT_FALSE(b.checkpoint.empty());
  const tessera::RunConfig cfg = tessera::load_run_config((b.dir / "base.toml").string());
  const tessera::TransformerConfig& mc = cfg.model.transformer;
  const tessera::FrozenFilter frozen = tessera::frozen_filter(cfg.train, mc);
  tessera::Transformer<float> init(mc);
  init.init_weights(cfg.train.seed);
  const auto params = read_tensors(b.checkpoint, "params");
  const auto m = read_tensors(b.checkpoint, "optimizer/exp_avg");
  const auto v = read_tensors(b.checkpoint, "optimizer/exp_avg_sq");
  int64_t trainable = 0;
  int n_frozen = 0;
  for (const tessera::ParamInfo& info : init.params().infos()) {
    ASSERT_TRUE(params.count(info.name)) << info.name;
    const Tensor& p = params.at(info.name);
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), init.params().value(info.name));
    const bool same = std::memcmp(p.data.data(), h.data(), p.data.size() * sizeof(float)) == 0;
    double m_abs = 0;
    for (float x : m.at(info.name).data) m_abs = std::max(m_abs, double(std::abs(x)));
    for (float x : v.at(info.name).data) m_abs = std::max(m_abs, double(std::abs(x)));
    if (frozen(info.name)) {
      ++n_frozen;
      EXPECT_TRUE(same) << info.name << " is frozen but changed";
      EXPECT_EQ(m_abs, 0.0) << info.name << " is frozen but has optimizer moments";
    } else {
      trainable += int64_t(info.numel);
      EXPECT_FALSE(same) << info.name << " is trainable but did not change";
      EXPECT_GT(m_abs, 0.0) << info.name;
    }
  }
  EXPECT_EQ(n_frozen, 2 + 12 + 4);  // wte, wpe; block 0; h.3.mlp.{c_fc,c_proj}.{weight,bias}
  ASSERT_EQ(b.metrics.configs.size(), 1u);
  EXPECT_EQ(b.metrics.configs[0]["trainable_parameters"].get<int64_t>(), trainable);
  EXPECT_EQ(b.metrics.configs[0]["optimizer_state_bytes_per_rank"].get<int64_t>(), 2 * 4 * trainable);
  EXPECT_LT(trainable, b.metrics.configs[0]["parameters"].get<int64_t>() / 2);
}

TEST(FreezingOneRank, StopAndResumeMatchesUninterruptedBitwise) {
  const Base& b = base_run();
  const fs::path dir = fresh_dir("peft_freeze_resume");
  const std::string cfg = write_grid_config(dir, "split", b.data, frozen_run(Grid{}, false));
  auto first = train_on(Grid{}, cfg, "--stop-at-step 5");
  ASSERT_EQ(first.result.exit_code, 0) << first.result.output;
  auto second = train_on(Grid{}, cfg, "--resume");
  ASSERT_EQ(second.result.exit_code, 0) << second.result.output;
  const Metrics s = read_metrics(dir / "split");
  ASSERT_EQ(s.train_text.size(), 10u);
  for (int64_t k = 1; k <= 10; ++k) EXPECT_EQ(s.train_text.at(k), b.metrics.train_text.at(k)) << "step " << k;
  const std::string cs = tessera::find_latest_checkpoint((dir / "split/checkpoints").string());
  for (const auto& g : checkpoint_groups())
    expect_tensors_bitwise(read_tensors(cs, g), read_tensors(b.checkpoint, g), "resumed frozen run /" + g);
}

TEST(FreezingBadInput, PatternMatchingNothingIsAnErrorNamingIt) {
  const Base& b = base_run();
  const fs::path dir = fresh_dir("peft_freeze_bad");
  GridRun r = frozen_run(Grid{1, 1, 2}, false);
  r.overrides["train.freeze"] = "[\"h.*.attn.*\", \"h.*.atn.*\"]";
  auto t = train_on(r.grid, write_grid_config(dir, "bad", b.data, r));
  EXPECT_NE(t.result.exit_code, 0);
  EXPECT_NE(t.result.output.find("train.freeze: pattern 'h.*.atn.*' matches no parameter"), std::string::npos)
      << t.result.output;
}

struct Case {
  Grid grid;
  bool zero1;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.grid.tag() << (c.zero1 ? "_zero1" : ""); }

class FreezingGrid : public ::testing::TestWithParam<Case> {};

TEST_P(FreezingGrid, LossesAndParametersMatchOneRank) {
  const Base& b = base_run();
  const Case c = GetParam();
  const fs::path dir = fresh_dir("peft_freeze_" + c.grid.tag() + (c.zero1 ? "_zero1" : ""));
  auto g = train_on(c.grid, write_grid_config(dir, "grid", b.data, frozen_run(c.grid, c.zero1)));
  ASSERT_EQ(g.result.exit_code, 0) << g.result.output;
  const Metrics mg = read_metrics(dir / "grid");
  ASSERT_EQ(b.metrics.train.size(), 10u);
  EXPECT_GT(std::abs(b.metrics.train.at(1) - b.metrics.train.at(10)), 1e-3) << "the baseline did not train";
  expect_losses_close(mg.train, b.metrics.train, 1e-5, "frozen grid " + c.grid.name() + " training loss");
  expect_losses_close(mg.eval, b.metrics.eval, 1e-5, "frozen grid " + c.grid.name() + " validation loss");
  ASSERT_FALSE(mg.configs.empty());
  EXPECT_EQ(mg.configs[0]["trainable_parameters"], b.metrics.configs[0]["trainable_parameters"]);
  const auto pg = read_tensors(tessera::find_latest_checkpoint((dir / "grid/checkpoints").string()), "params");
  expect_tensors_close(pg, read_tensors(b.checkpoint, "params"), 1e-5, "frozen grid " + c.grid.name());
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.grid.tag() + (info.param.zero1 ? "_zero1" : "");
}

INSTANTIATE_TEST_SUITE_P(Grids, FreezingGrid,
                         ::testing::Values(Case{{2, 1, 1}, true}, Case{{1, 2, 1}, false}, Case{{1, 1, 2}, false},
                                           Case{{2, 2, 2}, false}),
                         case_name);

}  // namespace
