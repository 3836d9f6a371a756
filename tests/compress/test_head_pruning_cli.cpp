// Attention-head pruning end to end on a tiny GPT-2 (4 heads per layer):
//  * model.heads_per_layer with init_from: importance on the validation split picks
//    the heads; the pruned heads' q/k/v rows and c_proj columns are exactly zero in
//    every checkpoint through training, a stop + resume (same heads chosen again), and
//    on tp = 2 (same heads as tp = 1); the stored config names them (model.prune_heads);
//  * tessera prune --method heads writes /masks that fine-tuning keeps and eval runs;
//  * bad values name the key; both keys are searchable by tune (typed run-config keys).
#include <gtest/gtest.h>

#include <cmath>
#include "cli_fixture.hpp"
#include "io/checkpoint.hpp"
#include "io/hdf5_file.hpp"
#include "io/model_checkpoint.hpp"
#include "src/compress/head_pruning.hpp"
#include "src/config/run_config.hpp"
#include "src/runtime/error.hpp"
#include "src/tune/study_file.hpp"
#include "test_support.hpp"

using namespace tessera;
namespace fs = std::filesystem;
using tessera_test::run_tessera;

namespace {

constexpr int kHeads = 4, kC = 32, kHd = 8;

struct HeadSetup {
  fs::path dir;
  std::string data, base;
};

const HeadSetup& setup() {
  static HeadSetup s = [] {
    HeadSetup t;
    t.dir = tessera_test::fresh_dir(std::string("head_pruning_cli_") +
                                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    t.data = tessera_test::prepare_ruth(t.dir);
    tessera_test::write_file(t.dir / "base.toml",
                             tessera_test::tiny_config(t.data, (t.dir / "base").string(),
                                                       {{"model.n_head", "4"}, {"train.max_steps", "6"},
                                                        {"checkpoint.interval", "0"}, {"train.peak_gflops", "10"}}));
    const auto r = run_tessera("train " + (t.dir / "base.toml").string());
    if (r.exit_code != 0) throw std::runtime_error("train failed: " + r.output);
    t.base = (t.dir / "base" / "checkpoints" / "step_00000006.h5").string();
    return t;
  }();
  return s;
}

std::string ft_config(const HeadSetup& s, const std::string& name, std::map<std::string, std::string> extra) {
  std::map<std::string, std::string> o = {{"model.init_from", "\"" + s.base + "\""}, {"train.max_steps", "4"},
                                          {"checkpoint.interval", "2"}, {"train.peak_gflops", "10"}, {"model.n_head", "4"}};
  for (auto& [k, v] : extra) o[k] = v;
  std::string text = tessera_test::tiny_config(s.data, (s.dir / name).string(), o);
  const fs::path cfg = s.dir / (name + ".toml");
  tessera_test::write_file(cfg, text);
  return cfg.string();
}

// The model.prune_heads = "…" the run logged.
std::string logged_heads(const std::string& out) {
  const std::string tag = "model.prune_heads = \"";
  const size_t p = out.find(tag);
  if (p == std::string::npos) return "<none>";
  return out.substr(p + tag.size(), out.find('"', p + tag.size()) - p - tag.size());
}

// Every pruned head's rows (q, k, v blocks of c_attn, weight and bias) and c_proj
// columns are zero; every other head has non-zero entries there.
void expect_heads_zero(const std::string& ckpt, const HeadLists& heads) {
  const ImportedModel m = read_model_checkpoint(ckpt, MPI_COMM_SELF);
  for (int l = 0; l < 2; ++l)
    for (int h = 0; h < kHeads; ++h) {
      const bool pruned = std::count(heads[size_t(l)].begin(), heads[size_t(l)].end(), h) > 0;
      const std::string p = "h." + std::to_string(l) + ".attn.";
      const std::vector<float>& w = m.tensors.at(p + "c_attn.weight").data;
      const std::vector<float>& b = m.tensors.at(p + "c_attn.bias").data;
      const std::vector<float>& o = m.tensors.at(p + "c_proj.weight").data;
      int64_t nonzero = 0;
      for (int blk = 0; blk < 3; ++blk)
        for (int r = 0; r < kHd; ++r) {
          const int64_t row = blk * kC + h * kHd + r;
          for (int c = 0; c < kC; ++c) nonzero += w[size_t(row * kC + c)] != 0.0f;
          nonzero += b[size_t(row)] != 0.0f;
        }
      for (int r = 0; r < kC; ++r)
        for (int j = 0; j < kHd; ++j) nonzero += o[size_t(r * kC + h * kHd + j)] != 0.0f;
      if (pruned) EXPECT_EQ(nonzero, 0) << ckpt << " layer " << l << " head " << h;
      else EXPECT_GT(nonzero, 3 * kHd * kC) << ckpt << " layer " << l << " head " << h;
    }
}

}  // namespace

TEST(HeadPruningCli, ImportancePrunedHeadsStayZeroThroughTrainingResumeAndTp2) {
  const HeadSetup& s = setup();
  const std::string cfg = ft_config(s, "ft", {{"model.heads_per_layer", "2"}});
  const auto a = run_tessera("train " + cfg + " --stop-at-step 2");
  ASSERT_EQ(a.exit_code, 0) << a.output;
  const auto b = run_tessera("train " + cfg + " --resume");
  ASSERT_EQ(b.exit_code, 0) << b.output;
  ASSERT_NE(b.output.find("resumed from"), std::string::npos) << b.output;
  const std::string spec = logged_heads(a.output);
  ASSERT_NE(spec, "<none>") << a.output;
  EXPECT_NE(a.output.find("head importance on"), std::string::npos) << a.output;
  EXPECT_EQ(logged_heads(b.output), spec) << "a resumed run prunes the same heads";
  const HeadLists heads = parse_prune_heads(spec, 2, kHeads, "log");
  EXPECT_EQ(count_heads(heads), 4);
  for (const auto& l : heads) EXPECT_EQ(l.size(), 2u);
  for (const char* step : {"step_00000002.h5", "step_00000004.h5"})
    expect_heads_zero((s.dir / "ft" / "checkpoints" / step).string(), heads);
  // The stored config names the heads (and no longer needs init_from).
  const std::string last = (s.dir / "ft" / "checkpoints" / "step_00000004.h5").string();
  const RunConfig stored = parse_model_config(read_checkpoint_state(last, MPI_COMM_SELF).config_toml, last);
  EXPECT_EQ(stored.model.prune_heads, spec);
  EXPECT_EQ(stored.model.heads_per_layer, 0);
  // eval of the pruned checkpoint runs.
  const auto e = run_tessera("eval " + cfg + " --checkpoint " + last);
  EXPECT_EQ(e.exit_code, 0) << e.output;

  // tp = 2: heads split over the ranks, the same heads chosen, the same zeros.
  const std::string cfg2 = ft_config(s, "ft_tp2", {{"model.heads_per_layer", "2"}, {"parallel.tp", "2"},
                                                   {"train.max_steps", "2"}});
  const auto t = tessera_test::run_mpi(2, "train " + cfg2);
  ASSERT_EQ(t.exit_code, 0) << t.output;
  EXPECT_EQ(logged_heads(t.output), spec) << t.output;
  expect_heads_zero((s.dir / "ft_tp2" / "checkpoints" / "step_00000002.h5").string(), heads);
}

TEST(HeadPruningCli, ExplicitHeadsAndPruneCommandMasks) {
  const HeadSetup& s = setup();
  // model.prune_heads in plain train.
  const std::string cfg = ft_config(s, "explicit", {{"model.prune_heads", "\"0:1,3;1:0\""}, {"train.max_steps", "2"}});
  const auto a = run_tessera("train " + cfg);
  ASSERT_EQ(a.exit_code, 0) << a.output;
  EXPECT_EQ(logged_heads(a.output), "0:1,3;1:0");
  expect_heads_zero((s.dir / "explicit" / "checkpoints" / "step_00000002.h5").string(),
                    parse_prune_heads("0:1,3;1:0", 2, kHeads, "t"));
  // tessera prune --method heads: a sparse checkpoint with /masks; fine-tuning keeps them.
  const std::string pruned = (s.dir / "pruned_heads.h5").string();
  const auto p = run_tessera("prune --checkpoint " + s.base + " --method heads --fraction 0.5 --out " + pruned +
                             " --calibration-data " + s.data + " --calibration-split validation"
                             " --calibration-tokens 256 --calibration-seq-len 32");
  ASSERT_EQ(p.exit_code, 0) << p.output;
  const size_t q = p.output.find("pruned heads \"");
  ASSERT_NE(q, std::string::npos) << p.output;
  const std::string spec = p.output.substr(q + 14, p.output.find('"', q + 14) - q - 14);
  const HeadLists heads = parse_prune_heads(spec, 2, kHeads, "prune output");
  for (const auto& l : heads) EXPECT_EQ(l.size(), 2u) << spec;
  expect_heads_zero(pruned, heads);
  h5::File f = h5::File::open_read(pruned, MPI_COMM_SELF);
  for (const char* name : {"h.0.attn.c_attn.weight", "h.0.attn.c_attn.bias", "h.1.attn.c_proj.weight"})
    EXPECT_TRUE(f.is_dataset(std::string("/masks/") + name)) << name;
  const std::string cfg3 = ft_config(s, "from_pruned", {{"model.init_from", "\"" + pruned + "\""}, {"train.max_steps", "2"}});
  const auto b = run_tessera("train " + cfg3);
  ASSERT_EQ(b.exit_code, 0) << b.output;
  expect_heads_zero((s.dir / "from_pruned" / "checkpoints" / "step_00000002.h5").string(), heads);
}

TEST(HeadPruningCli, BadValuesNameTheKey) {
  const HeadSetup& s = setup();
  auto fails_with = [&](const std::string& name, std::map<std::string, std::string> extra, const std::string& want) {
    const auto r = run_tessera("train " + ft_config(s, name, std::move(extra)));
    EXPECT_NE(r.exit_code, 0) << name;
    EXPECT_NE(r.output.find(want), std::string::npos) << name << ": " << r.output;
  };
  fails_with("bad_k", {{"model.heads_per_layer", "5"}}, "model.heads_per_layer = 5 is outside [1, 4]");
  fails_with("bad_neg", {{"model.heads_per_layer", "-1"}}, "model.heads_per_layer");
  fails_with("bad_layer", {{"model.prune_heads", "\"2:0\""}}, "model.prune_heads = \"2:0\": layer 2 is outside [0, 2)");
  fails_with("bad_head", {{"model.prune_heads", "\"0:4\""}}, "head 4 of layer 0 is outside [0, 4)");
  fails_with("both", {{"model.prune_heads", "\"0:1\""}, {"model.heads_per_layer", "2"}}, "model.heads_per_layer");
  const auto p = run_tessera("prune --checkpoint " + s.base + " --method heads --heads-per-layer 9 --out " +
                             (s.dir / "x.h5").string() + " --calibration-data " + s.data);
  EXPECT_NE(p.exit_code, 0);
  EXPECT_NE(p.output.find("--heads-per-layer = 9 is outside [1, 4]"), std::string::npos) << p.output;
  EXPECT_EQ(run_config_key_type("model.heads_per_layer"), "int");
  EXPECT_EQ(run_config_key_type("model.prune_heads"), "string");
  // A study searching both keys parses; a trial's config carries the sampled values.
  const std::string base = ft_config(s, "tune_base", {});
  const std::string study = "[study]\nbase_config = \"" + base + "\"\ndir = \"" + (s.dir / "study").string() +
                            "\"\nobjective = \"loss\"\ntrials = 2\n"
                            "[space.\"model.heads_per_layer\"]\ntype = \"int\"\nlow = 1\nhigh = 4\n";
  const StudySpec spec = parse_study(study, (s.dir / "study.toml").string());
  const std::string trial = trial_toml(spec, {{"model.heads_per_layer", 3}}, (s.dir / "trial").string());
  EXPECT_EQ(parse_run_config(trial, "trial.toml").model.heads_per_layer, 3);
  const std::string study2 = "[study]\nbase_config = \"" + base + "\"\ndir = \"" + (s.dir / "study2").string() +
                             "\"\nobjective = \"loss\"\ntrials = 2\n"
                             "[space.\"model.prune_heads\"]\ntype = \"categorical\"\nchoices = [\"\", \"0:1;1:2,3\"]\n";
  const StudySpec spec2 = parse_study(study2, (s.dir / "study2.toml").string());
  EXPECT_EQ(parse_run_config(trial_toml(spec2, {{"model.prune_heads", "0:1;1:2,3"}}, (s.dir / "t2").string()), "t.toml")
                .model.prune_heads,
            "0:1;1:2,3");
  try {
    parse_study(study + "[space.\"model.prune_heads\"]\ntype = \"float\"\nlow = 0\nhigh = 1\n",
                (s.dir / "bad_study.toml").string());
    ADD_FAILURE() << "a float range on the string key must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.prune_heads"), std::string::npos) << e.what();
  }
}
