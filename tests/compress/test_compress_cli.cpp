// tessera quantize / prune end to end on tiny trained models: quantised inference
// equals the float32 model holding the dequantised weights (prefill and KV-cache
// decoding, one rank), sparse checkpoints keep their 2:4 masks through fine-tuning and
// resume, gradual pruning reaches its sparsity, and bad inputs fail naming the key.
#include <gtest/gtest.h>

#include <cmath>
#include "cli_fixture.hpp"
#include "io/checkpoint.hpp"
#include "io/hdf5_file.hpp"
#include "io/model_checkpoint.hpp"
#include "src/compress/quantize.hpp"
#include "src/compress/quantized_checkpoint.hpp"
#include "src/config/run_config.hpp"
#include "test_support.hpp"

using namespace tessera;
namespace fs = std::filesystem;
using tessera_test::run_tessera;

namespace {

struct CompressSetup {
  fs::path dir;
  std::string data, fp32, narrow;  // dataset, trained tiny GPT-2 (width 32), width-30 model
};

std::string train(const fs::path& dir, const std::string& name, const std::string& data,
                  std::map<std::string, std::string> overrides) {
  overrides.emplace("train.max_steps", "2");
  overrides.emplace("checkpoint.interval", "0");
  const fs::path run = dir / name;
  const fs::path cfg = dir / (name + ".toml");
  tessera_test::write_file(cfg, tessera_test::tiny_config(data, run.string(), overrides));
  const auto r = run_tessera("train " + cfg.string());
  if (r.exit_code != 0) throw std::runtime_error("train failed: " + r.output);
  return (run / "checkpoints" / "step_00000002.h5").string();
}

const CompressSetup& setup() {
  static CompressSetup s = [] {
    CompressSetup t;
    // One directory per test: ctest runs the tests of this file as concurrent processes.
    t.dir = tessera_test::fresh_dir(std::string("compress_cli_") +
                                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    t.data = tessera_test::prepare_ruth(t.dir);
    t.fp32 = train(t.dir, "base", t.data, {});
    t.narrow = train(t.dir, "narrow", t.data, {{"model.n_embd", "30"}});
    return t;
  }();
  return s;
}

std::string calib(const CompressSetup& s) {
  return " --calibration-data " + s.data + " --calibration-tokens 256 --calibration-seq-len 32";
}

TransformerConfig config_of(const std::string& file) {
  return parse_model_config(read_checkpoint_state(file, MPI_COMM_SELF).config_toml, file).model.transformer;
}

std::vector<float> logits_of(GPT2<float>& m) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m.logits());
  return std::vector<float>(h.data(), h.data() + h.extent(0));
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 2e-4 * std::max(1.0f, std::fabs(want[i]))) << what << " logit " << i;
}

}  // namespace

TEST(CompressCli, QuantizedInferenceEqualsDequantizedFloatModel) {
  const CompressSetup& s = setup();
  const TransformerConfig cfg = config_of(s.fp32);
  const std::vector<int32_t> tokens = {72, 101, 108, 108, 111, 32, 82, 117, 116, 104, 44, 32, 115, 97, 105, 100,
                                       65, 110, 100, 32, 116, 104, 101, 121, 32, 119, 101, 110, 116, 32, 111, 110};
  for (const std::string method : {"int8", "q8_0", "q4_0", "q4_1", "gptq4"}) {
    const std::string out = (s.dir / ("q_" + method + ".h5")).string();
    const auto r = run_tessera("quantize --checkpoint " + s.fp32 + " --method " + method + " --out " + out +
                               (method == "gptq4" ? calib(s) : ""));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(checkpoint_quantization(out, MPI_COMM_SELF).substr(0, method.size()), method);
    auto q = load_inference_model(cfg, out, MPI_COMM_SELF);
    auto f = load_inference_model(cfg, s.fp32, MPI_COMM_SELF);
    // The float model gets the dequantised weights of every packed tensor.
    int packed = 0;
    for (const ParamInfo& info : q->params().infos()) {
      if (!info.packed) continue;
      ++packed;
      const PackedMatrix* m = q->params().packed(info.name);
      ASSERT_NE(m, nullptr) << info.name;
      packed_dequantize_rows<float>(f->params().value(info.name), *m, 0, m->rows);
    }
    Kokkos::fence();
    EXPECT_EQ(packed, 4 * cfg.n_layer) << method;  // c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj per block
    EXPECT_LT(q->params().numel() * 4 + q->params().packed_bytes(), f->params().numel() * 4) << method;
    q->forward(tokens.data(), nullptr, 2, 16, ForwardOptions{});
    f->forward(tokens.data(), nullptr, 2, 16, ForwardOptions{});
    expect_close(logits_of(*q), logits_of(*f), method + " prefill");
    // KV-cache decoding: 3 prompt tokens, then one at a time (the dot-product kernel).
    q->begin_decode(1, 8);
    f->begin_decode(1, 8);
    q->forward_decode(tokens.data(), 1, 3, 0);
    f->forward_decode(tokens.data(), 1, 3, 0);
    expect_close(logits_of(*q), logits_of(*f), method + " decode prompt");
    q->forward_decode(tokens.data() + 3, 1, 1, 3);
    f->forward_decode(tokens.data() + 3, 1, 1, 3);
    expect_close(logits_of(*q), logits_of(*f), method + " decode step");
  }
  // eval runs on the quantised checkpoint through the CLI too.
  const fs::path cfg_file = s.dir / "base.toml";
  const auto e = run_tessera("eval " + cfg_file.string() + " --checkpoint " + (s.dir / "q_q8_0.h5").string() +
                             " --split validation");
  ASSERT_EQ(e.exit_code, 0) << e.output;
  EXPECT_NE(e.output.find("perplexity"), std::string::npos) << e.output;
}

TEST(CompressCli, BadInputsNameTheKeyOrTensor) {
  const CompressSetup& s = setup();
  const std::string q8 = (s.dir / "bad_q8.h5").string();
  ASSERT_EQ(run_tessera("quantize --checkpoint " + s.fp32 + " --method q8_0 --out " + q8).exit_code, 0);
  auto expect_error = [](const std::string& args, const std::vector<std::string>& parts) {
    const auto r = run_tessera(args);
    EXPECT_NE(r.exit_code, 0) << args << "\n" << r.output;
    for (const std::string& p : parts) EXPECT_NE(r.output.find(p), std::string::npos) << p << " in\n" << r.output;
  };
  const std::string out = " --out " + (s.dir / "never.h5").string();
  expect_error("quantize --checkpoint " + q8 + " --method q4_0" + out, {q8, "already quantized (q8_0)"});
  expect_error("quantize --checkpoint " + s.fp32 + " --method gptq4" + out + calib(s) + " --calibration-split nope",
               {"--calibration-data", "no split 'nope'"});
  expect_error("quantize --checkpoint " + s.fp32 + " --method gptq4" + out + " --calibration-data " + s.data +
                   " --calibration-split validation --calibration-tokens 100000",
               {"--calibration-data", "fewer than the 100096 calibration tokens"});
  expect_error("quantize --checkpoint " + s.fp32 + " --method gptq4" + out, {"--calibration-data"});
  expect_error("quantize --checkpoint " + s.fp32 + " --method q3" + out, {"--method 'q3'"});
  expect_error("quantize --checkpoint " + s.narrow + " --method q4_0" + out,
               {"h.0.attn.c_attn.weight", "not a multiple of the q4_0 block"});
  expect_error("prune --checkpoint " + s.fp32 + " --sparsity 1" + out, {"--sparsity 1", "outside [0, 1)"});
  expect_error("prune --checkpoint " + s.fp32 + " --sparsity -0.1" + out, {"outside [0, 1)"});
  expect_error("prune --checkpoint " + s.narrow + " --pattern 2:4" + out,
               {"h.0.attn.c_attn.weight", "divisible by 4, it is 30"});
  expect_error("prune --checkpoint " + q8 + " --sparsity 0.5" + out, {"quantized (q8_0)"});
  expect_error("prune --checkpoint " + s.fp32 + " --method wanda" + out + calib(s) + " --calibration-split nope",
               {"no split 'nope'"});
}

TEST(CompressCli, TwoFourMasksSurviveFineTuningAndResume) {
  const CompressSetup& s = setup();
  const std::string sparse = (s.dir / "sparse24.h5").string();
  const auto r = run_tessera("prune --checkpoint " + s.fp32 + " --method wanda --pattern 2:4 --out " + sparse + calib(s));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Fine-tune from the sparse checkpoint: 4 steps, stopped at 2 and resumed.
  const fs::path run = s.dir / "ft";
  const fs::path cfg = s.dir / "ft.toml";
  tessera_test::write_file(cfg, tessera_test::tiny_config(s.data, run.string(),
                                                          {{"model.init_from", "\"" + sparse + "\""},
                                                           {"train.max_steps", "4"},
                                                           {"checkpoint.interval", "2"}}));
  auto a = run_tessera("train " + cfg.string() + " --stop-at-step 2");
  ASSERT_EQ(a.exit_code, 0) << a.output;
  auto b = run_tessera("train " + cfg.string() + " --resume");
  ASSERT_EQ(b.exit_code, 0) << b.output;
  ASSERT_NE(b.output.find("resumed from"), std::string::npos) << b.output;
  const ImportedModel before = read_model_checkpoint(sparse, MPI_COMM_SELF);
  const ImportedModel after = read_model_checkpoint((run / "checkpoints" / "step_00000004.h5").string(), MPI_COMM_SELF);
  h5::File f = h5::File::open_read(sparse, MPI_COMM_SELF);
  int tensors = 0;
  for (const std::string& name : f.list("/masks")) {
    const std::vector<int64_t> shape = f.dataset_shape("/masks/" + name);
    std::vector<uint8_t> mask(size_t(shape[0] * shape[1]));
    h5::Handle d = f.open_dataset("/masks/" + name);
    h5::read_box(f, d, name, H5T_NATIVE_UINT8, {0, 0}, shape, mask.data(), true, false);
    const std::vector<float>& w0 = before.tensors.at(name).data;
    const std::vector<float>& w = after.tensors.at(name).data;
    int64_t changed = 0;
    for (int64_t i = 0; i < int64_t(mask.size()); i += 4) {
      int kept = 0, nonzero = 0;
      for (int j = 0; j < 4; ++j) {
        kept += mask[size_t(i + j)];
        nonzero += w[size_t(i + j)] != 0.0f;
        if (!mask[size_t(i + j)]) {
          ASSERT_EQ(w0[size_t(i + j)], 0.0f) << name;
          ASSERT_EQ(w[size_t(i + j)], 0.0f) << name << " element " << i + j << " moved after fine-tuning";
        } else if (w[size_t(i + j)] != w0[size_t(i + j)]) {
          ++changed;
        }
      }
      ASSERT_EQ(kept, 2) << name << " group at " << i;
      ASSERT_LE(nonzero, 2) << name;
    }
    EXPECT_GT(changed, int64_t(mask.size()) / 8) << name << ": kept weights should train";
    ++tensors;
  }
  EXPECT_EQ(tensors, 8);
}

TEST(CompressCli, GradualPruningFollowsTheCubicSchedule) {
  const CompressSetup& s = setup();
  const fs::path run = s.dir / "gradual";
  const fs::path cfg = s.dir / "gradual.toml";
  tessera_test::write_file(cfg, tessera_test::tiny_config(s.data, run.string(),
                                                          {{"model.init_from", "\"" + s.fp32 + "\""},
                                                           {"train.max_steps", "4"},
                                                           {"checkpoint.interval", "2"},
                                                           {"prune.final_sparsity", "0.5"},
                                                           {"prune.start_step", "0"},
                                                           {"prune.end_step", "4"},
                                                           {"prune.frequency", "2"}}));
  auto a = run_tessera("train " + cfg.string() + " --stop-at-step 2");
  ASSERT_EQ(a.exit_code, 0) << a.output;
  // s_2 = 0.5 + (0 − 0.5)(1 − 2/4)³ = 0.4375 per tensor
  const ImportedModel mid = read_model_checkpoint((run / "checkpoints" / "step_00000002.h5").string(), MPI_COMM_SELF);
  auto b = run_tessera("train " + cfg.string() + " --resume");
  ASSERT_EQ(b.exit_code, 0) << b.output;
  const ImportedModel end = read_model_checkpoint((run / "checkpoints" / "step_00000004.h5").string(), MPI_COMM_SELF);
  const TransformerConfig c = config_of(s.fp32);
  int tensors = 0;
  for (const auto& [name, t] : end.tensors) {
    if (!is_block_linear_weight(c, name)) continue;
    const std::vector<float>& w2 = mid.tensors.at(name).data;
    int64_t z2 = 0, z4 = 0;
    for (size_t i = 0; i < t.data.size(); ++i) {
      z2 += w2[i] == 0.0f;
      z4 += t.data[i] == 0.0f;
      if (w2[i] == 0.0f) ASSERT_EQ(t.data[i], 0.0f) << name << ": pruned at step 2, must stay pruned";
    }
    const double n = double(t.data.size());
    EXPECT_NEAR(z2 / n, 0.4375, 1.5 / n + 1e-9) << name;
    EXPECT_NEAR(z4 / n, 0.5, 1.5 / n + 1e-9) << name;
    ++tensors;
  }
  EXPECT_EQ(tensors, 8);
  tessera_test::write_file(s.dir / "bad_prune.toml",
                           tessera_test::tiny_config(s.data, (s.dir / "bad_prune").string(),
                                                     {{"prune.final_sparsity", "1.2"}, {"prune.end_step", "4"}}));
  const auto e = run_tessera("train " + (s.dir / "bad_prune.toml").string());
  EXPECT_NE(e.exit_code, 0);
  EXPECT_NE(e.output.find("prune.final_sparsity"), std::string::npos) << e.output;
}
