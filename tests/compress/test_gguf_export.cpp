// tessera export --format gguf on the tiny Llama fixture (saved by transformers; 2 layers,
// 4 heads / 2 kv heads, untied head): float32, --quant and quantised checkpoints are
// exported, read back by Tessera's GGUF import (logits equal the source model's,
// packed blocks equal bit for bit) and by the PyPI `gguf` reader (every tensor equals
// Tessera's dequantisation of the same file; metadata as llama.cpp expects). The
// Python reader is installed by scripts/fetch_pytools.sh; when it is missing the test
// fails with that message (never skips).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include "io/checkpoint.hpp"
#include "io/dequantize.hpp"
#include "io/gguf.hpp"
#include "io/gguf_writer.hpp"
#include "io/hdf5_file.hpp"
#include "io/hf_checkpoint.hpp"
#include "io/model_checkpoint.hpp"
#include "src/compress/quantized_checkpoint.hpp"
#include "src/config/run_config.hpp"
#include "src/train/trainer.hpp"
#include "test_support.hpp"

using namespace tessera;
namespace fs = std::filesystem;
using tessera_test::run_command;
using tessera_test::run_tessera;

namespace {

struct ExportSetup {
  fs::path dir;
  std::string fp32, q41, int8, q8;  // checkpoints
  TransformerConfig cfg;
};

const ExportSetup& setup() {
  static ExportSetup s = [] {
    ExportSetup t;
    // One directory a test: ctest runs these tests as concurrent processes.
    t.dir = tessera_test::fresh_dir(std::string("gguf_export_") +
                                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    const ImportedModel m = import_pretrained(tessera_test::source_dir() + "/tests/fixtures/hf/tiny_llama");
    t.cfg = m.config;
    t.fp32 = (t.dir / "fp32.h5").string();
    write_model_checkpoint(t.fp32, m, MPI_COMM_SELF);
    for (const auto& [method, path] : {std::pair<std::string, std::string*>{"q4_1", &t.q41}, {"int8", &t.int8},
                                       {"q8_0", &t.q8}}) {
      *path = (t.dir / (method + ".h5")).string();
      const auto r = run_tessera("quantize --checkpoint " + t.fp32 + " --method " + method + " --out " + *path);
      if (r.exit_code != 0) throw std::runtime_error("quantize failed: " + r.output);
    }
    return t;
  }();
  return s;
}

std::string export_gguf_cli(const ExportSetup& s, const std::string& ckpt, const std::string& name, const std::string& extra) {
  const std::string out = (s.dir / (name + ".gguf")).string();
  const auto r = run_tessera("export --format gguf --checkpoint " + ckpt + " --out " + out + " " + extra);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return out;
}

std::vector<float> logits_of(const TransformerConfig& cfg, const std::string& ckpt) {
  auto model = load_inference_model(cfg, ckpt, MPI_COMM_SELF);
  std::vector<int32_t> tokens(2 * 12);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = int32_t((i * 37 + 11) % 1000);
  model->forward(tokens.data(), nullptr, 2, 12, ForwardOptions{});
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model->logits());
  return std::vector<float>(h.data(), h.data() + h.extent(0));
}

// The GGUF file imported by Tessera (dequantised, q/k un-permuted) as a checkpoint.
std::string import_back(const ExportSetup& s, const std::string& gguf) {
  const std::string out = gguf + ".imported.h5";
  const ImportedModel m = import_gguf(gguf);
  EXPECT_EQ(m.config.n_layer, s.cfg.n_layer);
  EXPECT_EQ(m.config.kv_heads(), s.cfg.kv_heads());
  EXPECT_EQ(m.config.tie_word_embeddings, s.cfg.tie_word_embeddings);
  write_model_checkpoint(out, m, MPI_COMM_SELF);
  return out;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, float tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  float worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - want[i]) / std::max(1.0f, std::fabs(want[i])));
  EXPECT_LE(worst, tol) << what;
}

std::vector<uint8_t> packed_blocks(const std::string& ckpt, const std::string& name) {
  h5::File f = h5::File::open_read(ckpt, MPI_COMM_SELF);
  const std::string obj = "/quantized/" + name + "/blocks";
  const std::vector<int64_t> shape = f.dataset_shape(obj);
  std::vector<uint8_t> b(size_t(shape[0] * shape[1]));
  h5::Handle d = f.open_dataset(obj);
  h5::read_box(f, d, obj, H5T_NATIVE_UINT8, {0, 0}, shape, b.data(), true, true);
  return b;
}

// Runs the PyPI gguf reader on `gguf`; returns its JSON and fills `values`.
nlohmann::json python_read(const std::string& gguf, std::vector<float>& values) {
  const char* env = std::getenv("TESSERA_PYLIB");
  const std::string pylib = env && *env ? env : tessera_test::source_dir() + "/.cache/pylib";
  const std::string out = gguf + ".py";
  const auto r = run_command("PYTHONPATH=" + pylib + " /usr/bin/python3 " + tessera_test::source_dir() +
                             "/tests/compress/gguf_reader_dump.py " + gguf + " " + out);
  if (r.exit_code != 0) {
    ADD_FAILURE() << "the PyPI gguf reader (PYTHONPATH=" << pylib
                  << ") failed; install it with scripts/fetch_pytools.sh or point TESSERA_PYLIB at it:\n"
                  << r.output;
    return {};
  }
  const std::string raw = tessera_test::read_file(out + ".f32");
  values.resize(raw.size() / 4);
  std::memcpy(values.data(), raw.data(), values.size() * 4);
  return nlohmann::json::parse(tessera_test::read_file(out + ".json"));
}

// Every tensor the Python reader dequantised equals Tessera's dequantisation of the
// same file; types, dims and the llama.* metadata agree. Returns the tensor types.
std::map<std::string, std::string> check_with_python(const std::string& gguf, const TransformerConfig& c) {
  std::vector<float> values;
  const nlohmann::json j = python_read(gguf, values);
  std::map<std::string, std::string> types;
  if (j.is_null()) return types;
  const GgufFile f = GgufFile::open(gguf);
  EXPECT_EQ(j["version"], 3);
  const nlohmann::json& md = j["metadata"];
  const std::string arch = c.family == Family::GPT2 ? "gpt2" : "llama";
  EXPECT_EQ(md["general.architecture"], arch);
  EXPECT_EQ(md[arch + ".block_count"], c.n_layer);
  EXPECT_EQ(md[arch + ".embedding_length"], c.n_embd);
  EXPECT_EQ(md[arch + ".feed_forward_length"], c.ffn_dim());
  EXPECT_EQ(md[arch + ".attention.head_count"], c.n_head);
  EXPECT_EQ(md[arch + ".context_length"], c.n_positions);
  EXPECT_EQ(md[arch + ".vocab_size"], c.vocab_size);
  if (c.family == Family::GPT2) {
    EXPECT_FLOAT_EQ(md["gpt2.attention.layer_norm_epsilon"].get<float>(), float(c.layer_norm_epsilon));
  } else {
    EXPECT_EQ(md["llama.attention.head_count_kv"], c.kv_heads());
    EXPECT_EQ(md["llama.rope.dimension_count"], c.head_dim());
    EXPECT_FLOAT_EQ(md["llama.rope.freq_base"].get<float>(), float(c.rope_theta));
    EXPECT_FLOAT_EQ(md["llama.attention.layer_norm_rms_epsilon"].get<float>(), float(c.layer_norm_epsilon));
  }
  EXPECT_EQ(j["tensors"].size(), f.tensors().size());
  for (const nlohmann::json& t : j["tensors"]) {
    const std::string name = t["name"];
    if (!f.contains(name)) {
      ADD_FAILURE() << name << " is not in Tessera's reading of the file";
      continue;
    }
    const GgufTensorInfo& info = f.tensor(name);
    EXPECT_EQ(t["type"].get<std::string>(), ggml_type_name(info.type)) << name;
    EXPECT_EQ(t["dims"].get<std::vector<uint64_t>>(), info.dims) << name;
    EXPECT_EQ(t["data_offset"].get<uint64_t>(), f.data_offset() + info.offset) << name;
    const std::vector<float> mine = f.read_f32(name);
    const size_t off = t["offset"], n = t["count"];
    EXPECT_EQ(n, mine.size()) << name;
    if (n != mine.size() || off + n > values.size()) continue;
    size_t bad = 0;
    for (size_t i = 0; i < n; ++i)
      if (std::fabs(values[off + i] - mine[i]) > 1e-6f * std::max(1.0f, std::fabs(mine[i]))) ++bad;
    EXPECT_EQ(bad, 0u) << name << ": elements differing between gguf.quants.dequantize and Tessera";
    types[name] = t["type"];
  }
  return types;
}

}  // namespace

TEST(GgufExport, Float32RoundTripsThroughImportWithEqualLogits) {
  const ExportSetup& s = setup();
  const std::string g = export_gguf_cli(s, s.fp32, "fp32", "");
  // Tessera's import un-permutes q/k: the tensors come back bit for bit.
  const ImportedModel back = import_gguf(g);
  const ImportedModel orig = read_model_checkpoint(s.fp32, MPI_COMM_SELF);
  ASSERT_EQ(back.tensors.size(), orig.tensors.size());
  for (const auto& [name, t] : orig.tensors) {
    ASSERT_TRUE(back.tensors.count(name)) << name;
    EXPECT_EQ(back.tensors.at(name).shape, t.shape) << name;
    EXPECT_TRUE(back.tensors.at(name).data == t.data) << name << " differs after export + import";
  }
  // In the file, attn_q rows are in llama.cpp's rotary order (not the HF order).
  const GgufFile f = GgufFile::open(g);
  const std::vector<float> q = f.read_f32("blk.0.attn_q.weight");
  const FloatTensor& hq = orig.tensors.at("layers.0.self_attn.q_proj.weight");
  EXPECT_FALSE(q == hq.data);
  EXPECT_TRUE(q == permute_rope_rows(hq.data, hq.shape[0], hq.shape[1], s.cfg.n_head));
  EXPECT_TRUE(f.contains("output.weight"));  // untied head
  expect_close(logits_of(s.cfg, import_back(s, g)), logits_of(s.cfg, s.fp32), 1e-5f, "fp32 -> gguf -> import");
  const auto types = check_with_python(g, s.cfg);
  EXPECT_EQ(types.size(), f.tensors().size());
  for (const auto& [name, t] : types) EXPECT_EQ(t, "F32") << name;
}

TEST(GgufExport, QuantizedCheckpointExportsItsBlocksAsIs) {
  const ExportSetup& s = setup();
  const std::string g = export_gguf_cli(s, s.q41, "q41", "");
  const GgufFile f = GgufFile::open(g);
  EXPECT_EQ(f.get_int("general.file_type"), 3);  // MOSTLY_Q4_1
  EXPECT_EQ(f.get_int("general.quantization_version"), 2);
  // Unpermuted tensors: the checkpoint's bytes; q/k: the same rows, reordered.
  EXPECT_EQ(f.tensor("blk.1.ffn_down.weight").type, uint32_t(GgmlType::Q4_1));
  EXPECT_TRUE(f.read_raw("blk.1.ffn_down.weight") == packed_blocks(s.q41, "layers.1.mlp.down_proj.weight"));
  EXPECT_TRUE(f.read_raw("blk.0.attn_v.weight") == packed_blocks(s.q41, "layers.0.self_attn.v_proj.weight"));
  const std::vector<uint8_t> k = f.read_raw("blk.0.attn_k.weight"), hk = packed_blocks(s.q41, "layers.0.self_attn.k_proj.weight");
  ASSERT_EQ(k.size(), hk.size());
  EXPECT_FALSE(k == hk);
  // Row 1 of llama.cpp's order is row half = head_dim/2 of the HF order (head 0).
  const size_t rb = hk.size() / size_t(s.cfg.kv_heads() * s.cfg.head_dim());
  const size_t half = size_t(s.cfg.head_dim() / 2);
  EXPECT_TRUE(std::equal(k.begin() + rb, k.begin() + 2 * rb, hk.begin() + half * rb));
  // Embeddings and norms stayed float32 in the checkpoint and in the file.
  EXPECT_EQ(f.tensor("token_embd.weight").type, uint32_t(GgmlType::F32));
  // Import (dequantised to float32) gives the logits of the packed model.
  expect_close(logits_of(s.cfg, import_back(s, g)), logits_of(s.cfg, s.q41), 2e-4f, "q4_1 -> gguf -> import");
  const auto types = check_with_python(g, s.cfg);
  EXPECT_EQ(types.at("blk.0.attn_q.weight"), "Q4_1");
  EXPECT_EQ(types.at("output_norm.weight"), "F32");
}

TEST(GgufExport, QuantOptionQuantizesFloatAndRequantizesInt8) {
  const ExportSetup& s = setup();
  // Float32 with --quant q8_0: every 2-D tensor Q8_0 (the bytes tessera quantize writes),
  // norms F32.
  const std::string g = export_gguf_cli(s, s.fp32, "fp32_q8", "--quant q8_0 --name tiny");
  const GgufFile f = GgufFile::open(g);
  EXPECT_EQ(f.get_string("general.name"), "tiny");
  EXPECT_EQ(f.tensor("token_embd.weight").type, uint32_t(GgmlType::Q8_0));
  EXPECT_EQ(f.tensor("output.weight").type, uint32_t(GgmlType::Q8_0));
  EXPECT_EQ(f.tensor("blk.0.attn_norm.weight").type, uint32_t(GgmlType::F32));
  EXPECT_TRUE(f.read_raw("blk.0.ffn_up.weight") == packed_blocks(s.q8, "layers.0.mlp.up_proj.weight"));
  const auto types = check_with_python(g, s.cfg);
  EXPECT_EQ(types.at("blk.1.ffn_gate.weight"), "Q8_0");
  // The q8_0 checkpoint exported as it is equals fp32 --quant q8_0 on the block weights.
  const GgufFile f8 = GgufFile::open(export_gguf_cli(s, s.q8, "q8", ""));
  for (const char* t : {"blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.1.attn_output.weight"})
    EXPECT_TRUE(f8.read_raw(t) == f.read_raw(t)) << t;
  // int8 has no GGUF type: refused without --quant, requantised with it.
  const auto r = run_tessera("export --format gguf --checkpoint " + s.int8 + " --out " + (s.dir / "never.gguf").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("int8 per-channel weights have no GGUF type"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("layers.0."), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(s.dir / "never.gguf"));
  const std::string g4 = export_gguf_cli(s, s.int8, "int8_q4_0", "--quant q4_0");
  EXPECT_EQ(GgufFile::open(g4).tensor("blk.0.ffn_down.weight").type, uint32_t(GgmlType::Q4_0));
  check_with_python(g4, s.cfg);
  // The f16 option.
  const std::string g16 = export_gguf_cli(s, s.fp32, "fp32_f16", "--quant f16");
  EXPECT_EQ(check_with_python(g16, s.cfg).at("blk.0.attn_k.weight"), "F16");
  expect_close(logits_of(s.cfg, import_back(s, g16)), logits_of(s.cfg, s.fp32), 2e-2f, "f16 round trip");
}

TEST(GgufExport, TokenizerCopiedFromGgufOrRefused) {
  const ExportSetup& s = setup();
  auto tokenizer_gguf = [&](int n, const std::string& name) {
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_string("tokenizer.ggml.model", "gpt2");
    GgufValue toks;
    toks.type = GgufType::ARRAY;
    toks.elem = GgufType::STRING;
    for (int i = 0; i < n; ++i) toks.strings.push_back("t" + std::to_string(i));
    w.set("tokenizer.ggml.tokens", toks);
    GgufValue types;
    types.type = GgufType::ARRAY;
    types.elem = GgufType::I32;
    types.ints.assign(size_t(n), 1);
    w.set("tokenizer.ggml.token_type", types);
    w.set_u32("tokenizer.ggml.eos_token_id", 2);
    const std::string p = (s.dir / name).string();
    w.write(p);
    return p;
  };
  const std::string tok = tokenizer_gguf(1000, "tok1000.gguf");
  const std::string g = export_gguf_cli(s, s.q41, "with_tok", "--tokenizer " + tok);
  const GgufTokenizer t = GgufFile::open(g).tokenizer();
  EXPECT_EQ(t.model, "gpt2");
  ASSERT_EQ(t.tokens.size(), 1000u);
  EXPECT_EQ(t.tokens[999], "t999");
  EXPECT_EQ(t.eos_id, 2);
  EXPECT_EQ(GgufFile::open(g).get_string("general.name"), "q4_1");  // the checkpoint's file stem
  std::vector<float> unused;
  const nlohmann::json j = python_read(g, unused);
  if (!j.is_null()) EXPECT_EQ(j["metadata"]["tokenizer.ggml.tokens"]["array"], 1000);
  // Without --tokenizer: no tokenizer.* keys, and the CLI says so.
  const auto r = run_tessera("export --format gguf --checkpoint " + s.q41 + " --out " + (s.dir / "no_tok.gguf").string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("no tokenizer metadata written"), std::string::npos) << r.output;
  EXPECT_FALSE(GgufFile::open((s.dir / "no_tok.gguf").string()).has("tokenizer.ggml.tokens"));
  // A tokenizer of another vocabulary size, a bad --quant, a non-Llama model.
  const std::string tok999 = tokenizer_gguf(999, "tok999.gguf");
  auto expect_error = [&](const std::string& args, const std::vector<std::string>& parts) {
    const auto e = run_tessera("export --format gguf --out " + (s.dir / "bad.gguf").string() + " " + args);
    EXPECT_NE(e.exit_code, 0) << args;
    for (const std::string& p : parts) EXPECT_NE(e.output.find(p), std::string::npos) << p << " in\n" << e.output;
  };
  expect_error("--checkpoint " + s.fp32 + " --tokenizer " + tok999, {tok999, "999 tokens", "vocabulary 1000"});
  expect_error("--checkpoint " + s.fp32 + " --quant q5_0", {"--quant"});
  const std::string bert = (s.dir / "bert.h5").string();
  write_model_checkpoint(bert, import_pretrained(tessera_test::source_dir() + "/tests/fixtures/hf/tiny_bert"),
                         MPI_COMM_SELF);
  expect_error("--checkpoint " + bert, {bert, "supports the decoders llama.cpp runs", "bert"});
  EXPECT_FALSE(fs::exists(s.dir / "bad.gguf"));
}

// GPT-2 (llama.cpp's gpt2 architecture): float32 export and import give the tensors back
// bit for bit (no permutation: Tessera's [out, in] matrices are what llama.cpp's converter
// writes after transposing HF's Conv1D weights), the PyPI reader agrees with Tessera on
// every tensor and the gpt2.* metadata; a q8_0 checkpoint's blocks are exported as they
// are and import back to the packed model's logits; a GPT-2 tokenizer directory of
// another vocabulary is refused.
TEST(GgufExport, Gpt2RoundTripsAndTheGgufReaderAgrees) {
  const fs::path dir = tessera_test::fresh_dir("gguf_export_gpt2");
  const ImportedModel m = import_pretrained(tessera_test::source_dir() + "/tests/fixtures/hf/tiny_gpt2");
  const std::string fp32 = (dir / "fp32.h5").string(), q8 = (dir / "q8_0.h5").string();
  write_model_checkpoint(fp32, m, MPI_COMM_SELF);
  auto r = run_tessera("quantize --checkpoint " + fp32 + " --method q8_0 --out " + q8);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ExportSetup s;
  s.dir = dir;
  s.cfg = m.config;

  const std::string g = export_gguf_cli(s, fp32, "gpt2_fp32", "");
  const GgufFile f = GgufFile::open(g);
  EXPECT_EQ(f.get_string("general.architecture"), "gpt2");
  EXPECT_TRUE(f.contains("position_embd.weight"));
  EXPECT_TRUE(f.contains("blk.1.attn_qkv.bias"));
  EXPECT_FALSE(f.contains("output.weight"));  // tied head
  EXPECT_EQ(f.tensor("blk.0.attn_qkv.weight").dims, (std::vector<uint64_t>{64, 192}));  // ggml order [in, out]
  const ImportedModel back = import_gguf(g);
  EXPECT_EQ(back.config.family, Family::GPT2);
  EXPECT_EQ(back.config.n_layer, m.config.n_layer);
  EXPECT_EQ(back.config.n_head, m.config.n_head);
  EXPECT_EQ(back.config.n_positions, m.config.n_positions);
  EXPECT_EQ(back.config.ffn_dim(), m.config.ffn_dim());
  EXPECT_TRUE(back.config.tie_word_embeddings);
  EXPECT_FLOAT_EQ(float(back.config.layer_norm_epsilon), float(m.config.layer_norm_epsilon));
  ASSERT_EQ(back.tensors.size(), m.tensors.size());
  for (const auto& [name, t] : m.tensors) {
    ASSERT_TRUE(back.tensors.count(name)) << name;
    EXPECT_TRUE(back.tensors.at(name).data == t.data) << name << " differs after export + import";
  }
  expect_close(logits_of(s.cfg, import_back(s, g)), logits_of(s.cfg, fp32), 1e-5f, "gpt2 fp32 -> gguf -> import");
  const auto types = check_with_python(g, s.cfg);
  EXPECT_EQ(types.size(), f.tensors().size());

  const std::string g8 = export_gguf_cli(s, q8, "gpt2_q8", "");
  const GgufFile f8 = GgufFile::open(g8);
  EXPECT_EQ(f8.get_int("general.file_type"), 7);  // MOSTLY_Q8_0
  EXPECT_TRUE(f8.read_raw("blk.0.ffn_down.weight") == packed_blocks(q8, "h.0.mlp.c_proj.weight"));
  EXPECT_TRUE(f8.read_raw("blk.1.attn_qkv.weight") == packed_blocks(q8, "h.1.attn.c_attn.weight"));
  expect_close(logits_of(s.cfg, import_back(s, g8)), logits_of(s.cfg, q8), 2e-4f, "gpt2 q8_0 -> gguf -> import");
  const auto types8 = check_with_python(g8, s.cfg);
  EXPECT_EQ(types8.at("blk.0.attn_qkv.weight"), "Q8_0");
  EXPECT_EQ(types8.at("blk.0.attn_qkv.bias"), "F32");

  const std::string assets = tessera_test::source_dir() + "/.cache/assets/gpt2";
  r = run_tessera("export --format gguf --checkpoint " + fp32 + " --tokenizer " + assets + " --out " +
                  (dir / "bad.gguf").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("50257 tokens, the model's vocabulary 1000"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "bad.gguf"));
}
