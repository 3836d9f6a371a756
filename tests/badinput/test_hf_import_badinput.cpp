// tessera import on broken input: every case a tessera::Error naming the file and the
// tensor / key, never a crash or a silently wrong model.
#include <fstream>
#include <nlohmann/json.hpp>

#include "hf-parity/hf_test_util.hpp"
#include "io/dequantize.hpp"
#include "io/hf_checkpoint.hpp"
#include "io/hf_config.hpp"

using namespace tessera;
using namespace hf_test;
namespace fs = std::filesystem;

namespace {

// Rewrites <dir>/model.safetensors after edit(tensors).
void edit_tensors(const fs::path& dir, const std::function<void(std::map<std::string, SafetensorsTensor>&)>& edit) {
  auto t = read_all((dir / "model.safetensors").string());
  edit(t);
  write_safetensors((dir / "model.safetensors").string(), t);
}

void edit_config(const fs::path& dir, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json j = nlohmann::json::parse(tessera_test::read_file(dir / "config.json"));
  edit(j);
  tessera_test::write_file(dir / "config.json", j.dump());
}

// Replaces the first occurrence of `from` in the safetensors header by `to` (same length).
void patch_header(const fs::path& file, const std::string& from, const std::string& to) {
  ASSERT_EQ(from.size(), to.size());
  std::string b = tessera_test::read_file(file);
  uint64_t n = 0;
  std::memcpy(&n, b.data(), 8);
  const size_t at = b.find(from, 8);
  ASSERT_NE(at, std::string::npos);
  ASSERT_LT(at, 8 + n);
  b.replace(at, from.size(), to);
  tessera_test::write_file(file, b);
}

}  // namespace

TEST(HfImportBadInput, TruncatedSafetensors) {
  const fs::path dir = copy_fixture("tiny_gpt2", "hfbad_truncated");
  const fs::path st = dir / "model.safetensors";
  fs::resize_file(st, fs::file_size(st) - 100);
  expect_error([&] { import_pretrained(dir.string()); }, {st.string()});
}

TEST(HfImportBadInput, HeaderLyingAboutSizes) {
  const fs::path dir = copy_fixture("tiny_gpt2", "hfbad_sizes");
  // ln_f.bias: [64] stored as 128 bytes; claim 65 elements.
  auto h = SafetensorsFile::open((dir / "model.safetensors").string()).info("transformer.ln_f.bias");
  ASSERT_EQ(h.shape, (std::vector<int64_t>{64}));
  patch_header(dir / "model.safetensors", "\"transformer.ln_f.bias\":{\"dtype\":\"F16\",\"shape\":[64]",
               "\"transformer.ln_f.bias\":{\"dtype\":\"F16\",\"shape\":[65]");
  expect_error([&] { import_pretrained(dir.string()); }, {"model.safetensors", "transformer.ln_f.bias"});
}

TEST(HfImportBadInput, UnknownDtype) {
  const fs::path dir = copy_fixture("tiny_gpt2", "hfbad_dtype");
  patch_header(dir / "model.safetensors", "\"transformer.ln_f.bias\":{\"dtype\":\"F16\"",
               "\"transformer.ln_f.bias\":{\"dtype\":\"Q16\"");
  expect_error([&] { import_pretrained(dir.string()); }, {"model.safetensors", "Q16"});
}

TEST(HfImportBadInput, IntegerDtypeWeightRejected) {
  const fs::path dir = copy_fixture("tiny_gpt2", "hfbad_int_dtype");
  patch_header(dir / "model.safetensors", "\"transformer.ln_f.bias\":{\"dtype\":\"F16\"",
               "\"transformer.ln_f.bias\":{\"dtype\":\"I16\"");
  expect_error([&] { import_pretrained(dir.string()); }, {"transformer.ln_f.bias", "I16", "F32, F16 and BF16"});
}

TEST(HfImportBadInput, GgufWithKQuantRejectedNamingTensorAndType) {
  // A complete 1-block Llama whose ffn_down is Q6_K (210 bytes per 256 values).
  const int C = 256, H = 2, F = 256, V = 4;
  GgufWriter g;
  g.string("general.architecture", "llama");
  g.u32("llama.block_count", 1);
  g.u32("llama.embedding_length", C);
  g.u32("llama.attention.head_count", H);
  g.u32("llama.feed_forward_length", F);
  g.u32("llama.context_length", 64);
  g.f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  uint32_t s = 1;
  auto f32 = [&](const std::string& n, std::vector<int64_t> shape) {
    g.tensor_f32(n, shape, values(size_t(shape.size() == 1 ? shape[0] : shape[0] * shape[1]), s++));
  };
  f32("token_embd.weight", {V, C});
  f32("blk.0.attn_norm.weight", {C});
  f32("blk.0.attn_q.weight", {C, C});
  f32("blk.0.attn_k.weight", {C, C});
  f32("blk.0.attn_v.weight", {C, C});
  f32("blk.0.attn_output.weight", {C, C});
  f32("blk.0.ffn_norm.weight", {C});
  f32("blk.0.ffn_gate.weight", {F, C});
  f32("blk.0.ffn_up.weight", {F, C});
  g.tensor_raw("blk.0.ffn_down.weight", {C, F}, uint32_t(GgmlType::Q6_K), std::string(size_t(C) * 210, '\0'));
  f32("output_norm.weight", {C});
  const fs::path dir = tessera_test::fresh_dir("hfbad_kquant");
  const std::string path = (dir / "kquant.gguf").string();
  tessera_test::write_file(path, g.bytes());
  expect_error([&] { import_pretrained(path); }, {path, "blk.0.ffn_down.weight", "Q6_K"});
}

TEST(HfImportBadInput, GgufOtherArchitecture) {
  const fs::path dir = tessera_test::fresh_dir("hfbad_gguf_arch");
  GgufWriter g;
  g.string("general.architecture", "qwen2");
  tessera_test::write_file(dir / "a.gguf", g.bytes());
  expect_error([&] { import_pretrained((dir / "a.gguf").string()); }, {"a.gguf", "qwen2", "not supported"});
}

TEST(HfImportBadInput, UnsupportedFamilyInConfig) {
  const fs::path dir = copy_fixture("tiny_gpt2", "hfbad_family");
  edit_config(dir, [](nlohmann::json& j) { j["model_type"] = "t5"; });
  expect_error([&] { import_pretrained(dir.string()); },
               {(dir / "config.json").string(), "model_type 't5' is not supported (gpt2, bert, roberta, llama)"});
}

TEST(HfImportBadInput, UnsupportedConfigValuesNameTheKey) {
  expect_error([] { parse_hf_config(R"({"model_type": "bert", "hidden_act": "relu"})", "c.json"); },
               {"c.json", "hidden_act", "relu"});
  expect_error([] { parse_hf_config(R"({"model_type": "gpt2", "activation_function": "gelu"})", "c.json"); },
               {"c.json", "activation_function"});
  expect_error([] { parse_hf_config(R"({"model_type": "llama", "rope_scaling": {"rope_type": "llama3", "factor": 8}})", "c.json"); },
               {"c.json", "rope_scaling", "llama3"});
  expect_error([] { parse_hf_config(R"({"model_type": "llama", "rope_parameters": {"rope_type": "yarn"}})", "c.json"); },
               {"c.json", "rope_parameters"});
  expect_error([] { parse_hf_config(R"({"model_type": "llama", "attention_bias": true})", "c.json"); },
               {"c.json", "attention_bias"});
  expect_error([] { parse_hf_config(R"({"model_type": "gpt2", "n_layer": "12"})", "c.json"); },
               {"c.json", "n_layer", "integer"});
  expect_error([] { parse_hf_config(R"({"model_type": "gpt2", "n_head": 5})", "c.json"); },
               {"c.json", "divisible"});
  expect_error([] { parse_hf_config(R"({"model_type": "gpt2", "n_layer": -1})", "c.json"); },
               {"c.json", "n_layer", "out of range"});
  expect_error([] { parse_hf_config(R"({"model_type": "gpt2", "architectures": ["GPT2DoubleHeadsModel"]})", "c.json"); },
               {"c.json", "architectures", "GPT2DoubleHeadsModel"});
  expect_error([] { parse_hf_config(R"({"n_layer": 2})", "c.json"); }, {"c.json", "model_type", "missing"});
  expect_error([] { parse_hf_config("{\"model_type\": \"gpt2\",", "c.json"); }, {"c.json", "not valid JSON"});
  expect_error([] { parse_hf_config(std::string(100, '[') + std::string(100, ']'), "c.json"); }, {"c.json", "nested"});
  expect_error([] { parse_hf_config("[1]", "c.json"); }, {"c.json", "object"});
}

TEST(HfImportBadInput, MissingTensor) {
  const fs::path dir = copy_fixture("tiny_llama", "hfbad_missing");
  edit_tensors(dir, [](auto& t) { t.erase("model.layers.1.mlp.up_proj.weight"); });
  expect_error([&] { import_pretrained(dir.string()); }, {"model.layers.1.mlp.up_proj.weight", "missing", "[128, 64]"});
}

TEST(HfImportBadInput, WrongShape) {
  const fs::path dir = copy_fixture("tiny_bert", "hfbad_shape");
  edit_tensors(dir, [](auto& t) {
    SafetensorsTensor& w = t.at("encoder.layer.0.intermediate.dense.weight");
    w.shape = {64, 128};  // transposed
  });
  expect_error([&] { import_pretrained(dir.string()); },
               {"model.safetensors", "encoder.layer.0.intermediate.dense.weight", "[64, 128]", "[128, 64]"});
}

TEST(HfImportBadInput, UnexpectedTensor) {
  const fs::path dir = copy_fixture("tiny_llama", "hfbad_unexpected");
  edit_tensors(dir, [](auto& t) {
    SafetensorsTensor x;
    x.shape = {64};
    x.data.assign(64, 1.0f);
    t.emplace("model.layers.0.self_attn.q_norm.weight", x);
  });
  expect_error([&] { import_pretrained(dir.string()); }, {"model.safetensors", "unexpected", "q_norm"});
}

TEST(HfImportBadInput, UntiedConfigWithoutLmHead) {
  const fs::path dir = copy_fixture("tiny_gpt2", "hfbad_untied");
  edit_config(dir, [](nlohmann::json& j) { j["tie_word_embeddings"] = false; });
  expect_error([&] { import_pretrained(dir.string()); }, {"lm_head.weight", "missing"});
}

TEST(HfImportBadInput, NoWeightsOrNotAModel) {
  const fs::path dir = tessera_test::fresh_dir("hfbad_noweights");
  fs::copy_file(hf_fixture("tiny_gpt2") + "/config.json", dir / "config.json");
  tessera_test::write_file(dir / "pytorch_model.bin", "x");
  expect_error([&] { import_pretrained(dir.string()); }, {"no model.safetensors", "pytorch_model.bin"});
  tessera_test::write_file(dir / "x.bin", "not a model");
  expect_error([&] { import_pretrained((dir / "x.bin").string()); }, {"x.bin", "GGUF"});
  expect_error([&] { import_pretrained((dir / "nope").string()); }, {"nope", "no such file"});
  const fs::path nocfg = tessera_test::fresh_dir("hfbad_noconfig");
  fs::copy_file(hf_fixture("tiny_gpt2") + "/model.safetensors", nocfg / "model.safetensors");
  expect_error([&] { import_pretrained(nocfg.string()); }, {"config.json", "cannot open"});
}

TEST(HfImportBadInput, ShardIndexPointingOutsideTheDirectory) {
  const fs::path dir = copy_fixture("tiny_gpt2", "hfbad_index");
  fs::remove(dir / "model.safetensors");
  tessera_test::write_file(dir / "model.safetensors.index.json",
                           R"({"weight_map": {"transformer.wte.weight": "../etc/passwd"}})");
  expect_error([&] { import_pretrained(dir.string()); }, {"model.safetensors.index.json", "../etc/passwd"});
}
