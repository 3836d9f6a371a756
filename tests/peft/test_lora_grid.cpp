// LoRA through the CLI on every kind of grid: a tiny GPT-2 (and a tiny Llama with
// GQA) with adapters of rank 4 on every block linear layer and LoRA dropout 0.1,
// 10 steps on the Ruth text. dp (ZeRO-1), tp (B split with the column-parallel
// layers, A with the row-parallel ones), pp and dp×tp×pp give the one-rank run's
// losses and final parameters within 1e-5; the base weights leave training
// unchanged (bitwise equal to the one-rank run's, which never updates them).
#include <gtest/gtest.h>
#include <unistd.h>
#include "grid_fixture.hpp"

using namespace tessera_test;
namespace fs = std::filesystem;

namespace {

GridRun lora_run(const Grid& g, bool zero1, bool llama) {
  GridRun r;
  r.grid = g;
  r.zero1 = zero1;
  r.overrides = {{"lora.r", "4"}, {"lora.alpha", "8"}, {"lora.dropout", "0.1"}, {"optim.lr", "1e-2"}};
  if (llama) {
    r.overrides["model.family"] = "\"llama\"";
    r.overrides["model.n_kv_head"] = "2";
    r.overrides["model.n_inner"] = "48";
    r.overrides["model.tie_word_embeddings"] = "false";
    r.overrides["lora.targets"] = "[\"q_proj\", \"k_proj\", \"v_proj\", \"o_proj\", \"gate_proj\", \"up_proj\", \"down_proj\"]";
  } else {
    r.overrides["lora.targets"] = "[\"attn.c_attn\", \"attn.c_proj\", \"mlp.c_fc\", \"mlp.c_proj\"]";
  }
  return r;
}

struct Case {
  Grid grid;
  bool zero1, llama;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.grid.tag(); }

class LoraGrid : public ::testing::TestWithParam<Case> {};

TEST_P(LoraGrid, LossesAndParametersMatchOneRank) {
  const Case c = GetParam();
  const std::string tag = std::string(c.llama ? "llama_" : "gpt2_") + c.grid.tag() + (c.zero1 ? "_zero1" : "");
  const fs::path dir = fresh_dir("peft_lora_" + tag + "_" + std::to_string(getpid()));
  const std::string data = prepare_ruth(dir);
  auto b = train_on(Grid{}, write_grid_config(dir, "base", data, lora_run(Grid{}, false, c.llama)));
  ASSERT_EQ(b.result.exit_code, 0) << b.result.output;
  auto g = train_on(c.grid, write_grid_config(dir, "grid", data, lora_run(c.grid, c.zero1, c.llama)));
  ASSERT_EQ(g.result.exit_code, 0) << g.result.output;
  const Metrics mb = read_metrics(dir / "base"), mg = read_metrics(dir / "grid");
  ASSERT_EQ(mb.train.size(), 10u);
  EXPECT_GT(std::abs(mb.train.at(1) - mb.train.at(10)), 1e-3) << "the baseline did not train";
  expect_losses_close(mg.train, mb.train, 1e-5, "lora grid " + tag + " training loss");
  expect_losses_close(mg.eval, mb.eval, 1e-5, "lora grid " + tag + " validation loss");
  const auto pb = read_tensors(tessera::find_latest_checkpoint((dir / "base/checkpoints").string()), "params");
  const auto pg = read_tensors(tessera::find_latest_checkpoint((dir / "grid/checkpoints").string()), "params");
  int adapters = 0;
  for (const auto& [name, t] : pb) adapters += name.find(".lora_") != std::string::npos ? 1 : 0;
  EXPECT_EQ(adapters, c.llama ? 4 * 7 * 2 : 4 * 4 * 2);
  expect_tensors_close(pg, pb, 1e-5, "lora grid " + tag + " final /params");
  std::map<std::string, Tensor> base_only_b, base_only_g;
  for (const auto& [name, t] : pb)
    if (name.find(".lora_") == std::string::npos) base_only_b[name] = t, base_only_g[name] = pg.at(name);
  expect_tensors_bitwise(base_only_g, base_only_b, "lora grid " + tag + " frozen base");
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return std::string(info.param.llama ? "llama_" : "gpt2_") + info.param.grid.tag() + (info.param.zero1 ? "_zero1" : "");
}

INSTANTIATE_TEST_SUITE_P(Grids, LoraGrid,
                         ::testing::Values(Case{{2, 1, 1}, true, false}, Case{{1, 2, 1}, false, false},
                                           Case{{1, 1, 2}, false, false}, Case{{2, 2, 2}, false, false},
                                           Case{{1, 2, 1}, false, true}),
                         case_name);

}  // namespace

// Export of a LoRA checkpoint is the merged model: read_model_checkpoint folds
// alpha/r·B·A into the base weights, and that plain model's logits equal the
// adapter model's (float, ≤ 1e-5 of max|logit|); `tessera export` succeeds on it.
#include "io/model_checkpoint.hpp"
#include "src/config/run_config.hpp"
#include "src/model/transformer.hpp"

namespace {

void load_by_name(tessera::Transformer<float>& m, const std::map<std::string, std::vector<float>>& tensors) {
  for (size_t i = 0; i < m.params().infos().size(); ++i) {
    const std::string& name = m.params().info(i).name;
    ASSERT_TRUE(tensors.count(name)) << name;
    auto h = Kokkos::create_mirror(m.params().value(i));
    ASSERT_EQ(h.extent(0), tensors.at(name).size()) << name;
    for (size_t k = 0; k < h.extent(0); ++k) h(k) = tensors.at(name)[k];
    Kokkos::deep_copy(m.params().value(i), h);
  }
}

TEST(LoraExport, MergedCheckpointGivesTheAdapterModelsLogits) {
  const fs::path dir = fresh_dir("peft_lora_export_" + std::to_string(getpid()));
  const std::string data = prepare_ruth(dir);
  const std::string cfg_path = write_grid_config(dir, "run", data, lora_run(Grid{}, false, false));
  auto t = train_on(Grid{}, cfg_path);
  ASSERT_EQ(t.result.exit_code, 0) << t.result.output;
  const std::string ckpt = tessera::find_latest_checkpoint((dir / "run/checkpoints").string());
  const tessera::RunConfig cfg = tessera::load_run_config(cfg_path);
  const tessera::ImportedModel merged = tessera::read_model_checkpoint(ckpt, MPI_COMM_NULL);
  EXPECT_FALSE(merged.config.lora.enabled());
  std::map<std::string, std::vector<float>> with_adapters, plain;
  for (auto& [name, tensor] : read_tensors(ckpt, "params")) with_adapters[name] = tensor.data;
  for (auto& [name, tensor] : merged.tensors) plain[name] = tensor.data;
  tessera::Transformer<float> u(cfg.model.transformer), m(merged.config);
  load_by_name(u, with_adapters);
  load_by_name(m, plain);
  std::vector<int32_t> tokens(2 * 16);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = int32_t((i * 37 + 11) % 256);
  tessera::ModelInputs in;
  in.tokens = tokens.data();
  u.forward(in, 2, 16, tessera::ForwardOptions{});
  m.forward(in, 2, 16, tessera::ForwardOptions{});
  auto lu = Kokkos::create_mirror(u.logits());
  auto lm = Kokkos::create_mirror(m.logits());
  Kokkos::deep_copy(lu, u.logits());
  Kokkos::deep_copy(lm, m.logits());
  double diff = 0, scale = 0, base_diff = 0;
  for (size_t i = 0; i < lu.extent(0); ++i) {
    diff = std::max(diff, double(std::abs(lu(i) - lm(i))));
    scale = std::max(scale, double(std::abs(lu(i))));
  }
  EXPECT_LE(diff, 1e-5 * scale);
  // The adapters did something: the merged weights differ from the stored base weights.
  for (const auto& [name, w] : plain)
    for (size_t k = 0; k < w.size(); ++k) base_diff = std::max(base_diff, double(std::abs(w[k] - with_adapters.at(name)[k])));
  EXPECT_GT(base_diff, 1e-4);
  auto e = run_tessera("export --checkpoint " + ckpt + " --out " + (dir / "hf").string());
  EXPECT_EQ(e.exit_code, 0) << e.output;
  EXPECT_TRUE(fs::exists(dir / "hf/model.safetensors"));
}

}  // namespace
