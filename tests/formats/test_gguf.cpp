// GGUF reader: metadata of every type, dequantisation against the Python `gguf`
// package's reference values, rejection of malformed files, and the real SmolLM2-135M
// Q4_1 GGUF (metadata, tokenizer, dequantised tensors).
#include <cstring>
#include <functional>
#include <set>

#include "formats_test_util.hpp"
#include "io/dequantize.hpp"
#include "io/gguf.hpp"
#include "src/runtime/error.hpp"

using namespace tessera;
using formats_test::close_f32;
using formats_test::fixture;

namespace {

void expect_error(const std::function<void()>& fn, std::initializer_list<const char*> needles) {
  try {
    fn();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    for (const char* n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << "'" << n << "' in " << e.what();
  }
}

// Minimal GGUF writer for crafted inputs.
struct G {
  std::string b;
  template <class T>
  G& put(T v) {
    b.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  G& str(const std::string& s) {
    put<uint64_t>(s.size());
    b += s;
    return *this;
  }
  static G header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    G g;
    g.b = "GGUF";
    g.put<uint32_t>(version).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
    return g;
  }
  G& pad(size_t a = 32) {
    while (b.size() % a) b.push_back('\0');
    return *this;
  }
};

}  // namespace

TEST(Gguf, DequantizeBlockLayoutsAndNibbleOrder) {
  // One Q4_0 block: d = 1, qs[j] = j | (15 - j) << 4 → x[j] = j - 8, x[j+16] = 7 - j.
  uint8_t q4_0[18] = {0x00, 0x3c};
  for (int j = 0; j < 16; ++j) q4_0[2 + j] = uint8_t(j | ((15 - j) << 4));
  float out[32];
  dequantize_ggml(uint32_t(GgmlType::Q4_0), q4_0, 18, out, 32, "t");
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], float(j - 8));
    EXPECT_EQ(out[j + 16], float(7 - j));
  }
  // Q4_1: d = 0.5, m = -1 → x = q/2 - 1.
  uint8_t q4_1[20] = {0x00, 0x38, 0x00, 0xbc};
  for (int j = 0; j < 16; ++j) q4_1[4 + j] = uint8_t(j | ((15 - j) << 4));
  dequantize_ggml(uint32_t(GgmlType::Q4_1), q4_1, 20, out, 32, "t");
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], j * 0.5f - 1);
    EXPECT_EQ(out[j + 16], (15 - j) * 0.5f - 1);
  }
  // Q8_0: d = 2, qs = -16..15.
  uint8_t q8[34] = {0x00, 0x40};
  for (int j = 0; j < 32; ++j) q8[2 + j] = uint8_t(int8_t(j - 16));
  dequantize_ggml(uint32_t(GgmlType::Q8_0), q8, 34, out, 32, "t");
  for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], 2.0f * (j - 16));
  // Size mismatches and unsupported types are errors, not overreads.
  expect_error([&] { dequantize_ggml(uint32_t(GgmlType::Q8_0), q8, 33, out, 32, "t"); }, {"bytes do not hold"});
  expect_error([&] { dequantize_ggml(uint32_t(GgmlType::Q8_0), q8, 34, out, 31, "t"); }, {"multiple"});
  expect_error([&] { dequantize_ggml(uint32_t(GgmlType::Q6_K), q8, 34, out, 32, "x.gguf: tensor \"w\""); },
               {"tensor \"w\"", "Q6_K"});
  expect_error([&] { dequantize_ggml(77, q8, 34, out, 32, "t"); }, {"unknown ggml type 77"});
}

TEST(Gguf, TinyFixtureMetadataOfEveryType) {
  GgufFile f = GgufFile::open(fixture("tiny.gguf"));
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset() % 32, 0u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.arch_int("block_count"), 2);
  EXPECT_EQ(f.arch_int("embedding_length"), 64);  // u64
  EXPECT_EQ(f.get_float("llama.rope.freq_base"), 10000.0);
  EXPECT_EQ(f.get_int("test.u8"), 200);
  EXPECT_EQ(f.get_int("test.i8"), -5);
  EXPECT_EQ(f.get_int("test.u16"), 60000);
  EXPECT_EQ(f.get_int("test.i16"), -30000);
  EXPECT_EQ(f.get_int("test.i32"), -123456);
  EXPECT_EQ(f.get_int("test.i64"), -(int64_t(1) << 40));
  EXPECT_EQ(f.get_float("test.f64"), 0.125);
  EXPECT_EQ(f.get_int("test.bool"), 1);
  EXPECT_EQ(f.value("test.f32_array").floats, (std::vector<double>{0.5, -1.0, 2.0}));
  EXPECT_EQ(f.get_int_array("test.i64_array"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(f.get_int_array("test.bool_array"), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(f.value("test.empty_array").array_size(), 0u);
  expect_error([&] { f.get_string("test.u8"); }, {"tiny.gguf", "test.u8", "not a string"});
  expect_error([&] { f.get_int("missing.key"); }, {"missing.key", "missing"});

  GgufTokenizer tk = f.tokenizer();
  EXPECT_EQ(tk.model, "gpt2");
  EXPECT_EQ(tk.pre, "smollm");
  EXPECT_EQ(tk.tokens.size(), 6u);
  EXPECT_EQ(tk.tokens[4], "\xc4\xa0" "a");
  EXPECT_EQ(tk.merges, (std::vector<std::string>{"a b", "\xc4\xa0 a"}));
  EXPECT_EQ(tk.token_type, (std::vector<int32_t>{3, 1, 1, 1, 1, 1}));
  EXPECT_EQ(tk.bos_id, 0);
  EXPECT_EQ(tk.eos_id, 0);
  EXPECT_FALSE(tk.add_bos);
}

TEST(Gguf, TinyFixtureDequantisesLikeTheGgufPackage) {
  const auto ref = formats_test::load_json(fixture("tiny_gguf.json"));
  GgufFile f = GgufFile::open(fixture("tiny.gguf"));
  ASSERT_EQ(f.tensors().size(), ref["tensors"].size());
  int checked = 0;
  for (const GgufTensorInfo& t : f.tensors()) {
    const auto& want = ref["tensors"][t.name];
    EXPECT_EQ(ggml_type_name(t.type), want["type"].get<std::string>()) << t.name;
    EXPECT_EQ(t.dims, want["dims"].get<std::vector<uint64_t>>()) << t.name;
    if (t.type == uint32_t(GgmlType::Q6_K)) {
      expect_error([&] { f.read_f32(t.name); }, {"tiny.gguf", "tensor \"t.q6_k\"", "Q6_K", "not supported"});
      continue;
    }
    const auto v = f.read_f32(t.name);
    const auto w = want["values"].get<std::vector<double>>();
    ASSERT_EQ(v.size(), w.size()) << t.name;
    for (size_t i = 0; i < v.size(); ++i) ASSERT_TRUE(close_f32(v[i], w[i])) << t.name << "[" << i << "] " << v[i] << " vs " << w[i];
    ++checked;
  }
  EXPECT_EQ(checked, 8);  // F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0
}

TEST(Gguf, EveryTruncationIsRejectedCleanly) {
  const std::string full = tessera_test::read_file(fixture("tiny.gguf"));
  ASSERT_GT(full.size(), 1000u);
  for (size_t n = 0; n < full.size(); ++n)
    EXPECT_THROW(GgufFile::from_memory(full.substr(0, n), "cut.gguf"), Error) << n;
  EXPECT_NO_THROW(GgufFile::from_memory(full, "full.gguf"));
}

TEST(Gguf, RejectsMalformedFiles) {
  auto bad = [](const std::string& bytes, std::initializer_list<const char*> needles) {
    expect_error([&] { GgufFile::from_memory(bytes, "bad.gguf"); }, needles);
  };
  bad("GGML" + std::string(40, '\0'), {"bad.gguf", "bad magic"});
  bad(G::header(0, 0, 1).pad().b, {"version 1"});
  bad(G::header(1ull << 60, 0).pad().b, {"tensor count"});
  bad(G::header(0, 1ull << 60).pad().b, {"metadata count"});
  bad(G::header(0, 1).str("k").put<uint32_t>(8).put<uint64_t>(1ull << 40).pad(64).b, {"\"k\"", "string length"});
  bad(G::header(0, 1).str("k").put<uint32_t>(13).put<uint64_t>(0).b, {"unknown value type 13"});
  bad(G::header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(1).put<uint32_t>(0).put<uint64_t>(0).b,
      {"nested arrays"});
  bad(G::header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(10).put<uint64_t>(1ull << 61).pad(64).b,
      {"array of", "exceeds"});
  bad(G::header(0, 1).str("k").put<uint32_t>(7).put<uint8_t>(2).pad(64).b, {"bool value 2"});
  bad(G::header(0, 2).str("k").put<uint32_t>(0).put<uint8_t>(1).str("k").put<uint32_t>(0).put<uint8_t>(1).pad(64).b,
      {"duplicate metadata key \"k\""});
  bad(G::header(0, 1).str("general.alignment").put<uint32_t>(4).put<uint32_t>(48).pad(64).b, {"power of two"});
  bad(G::header(0, 1).str("general.alignment").put<uint32_t>(10).put<uint64_t>(32).pad(64).b, {"must be a u32"});
  auto tensor = [](const std::string& name, std::vector<uint64_t> dims, uint32_t type, uint64_t off) {
    G g = G::header(1, 0);
    g.str(name).put<uint32_t>(uint32_t(dims.size()));
    for (uint64_t d : dims) g.put<uint64_t>(d);
    g.put<uint32_t>(type).put<uint64_t>(off).pad();
    g.b += std::string(256, '\0');
    return g.b;
  };
  EXPECT_NO_THROW(GgufFile::from_memory(tensor("w", {32, 2}, 0, 0)));
  bad(tensor("w", {32, 1, 1, 1, 1}, 0, 0), {"tensor \"w\"", "n_dims 5"});
  bad(tensor("w", {32, 0}, 0, 0), {"tensor \"w\"", "zero"});
  bad(tensor("w", {1ull << 32, 1ull << 32}, 0, 0), {"tensor \"w\"", "overflows"});
  bad(tensor("w", {32}, 99, 0), {"tensor \"w\"", "unknown ggml type 99"});
  bad(tensor("w", {33}, 2, 0), {"tensor \"w\"", "block size"});
  bad(tensor("w", {32}, 0, 16), {"tensor \"w\"", "alignment"});
  bad(tensor("w", {128}, 0, 0), {"tensor \"w\"", "past the end"});
  bad(tensor("w", {32}, 0, ~uint64_t(0) - 31), {"tensor \"w\""});
  {
    G g = G::header(2, 0);
    for (const char* n : {"a", "b"}) g.str(n).put<uint32_t>(1).put<uint64_t>(32).put<uint32_t>(0).put<uint64_t>(64);
    g.pad();
    g.b += std::string(256, '\0');
    bad(g.b, {"\"a\"", "\"b\"", "overlap"});
  }
  {
    G g = G::header(2, 0);
    for (int i = 0; i < 2; ++i) g.str("a").put<uint32_t>(1).put<uint64_t>(8).put<uint32_t>(0).put<uint64_t>(i * 32);
    g.pad();
    g.b += std::string(256, '\0');
    bad(g.b, {"duplicate tensor name \"a\""});
  }
  // Unsupported-but-known types list fine and fail only when dequantised.
  GgufFile q6 = GgufFile::from_memory(tensor("w", {256}, 14, 0) + std::string(256, '\0'), "q6.gguf");
  expect_error([&] { q6.read_f32("w"); }, {"q6.gguf", "tensor \"w\"", "Q6_K"});
  // Tokenizer ids must be token ids.
  G g = G::header(0, 3);
  g.str("tokenizer.ggml.model").put<uint32_t>(8).str("gpt2");
  g.str("tokenizer.ggml.tokens").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(1).str("a");
  g.str("tokenizer.ggml.bos_token_id").put<uint32_t>(4).put<uint32_t>(5);
  GgufFile tk = GgufFile::from_memory(g.pad().b, "tok.gguf");
  expect_error([&] { tk.tokenizer(); }, {"bos_token_id", "not a token id"});
}

TEST(Gguf, FuzzSeedCorpusIsClassifiedAsIntended) {
  const auto dir = std::filesystem::path(tessera_test::source_dir()) / "fuzz/corpus/fuzz_gguf";
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    const std::string bytes = tessera_test::read_file(e.path());
    ++n;
    if (name.rfind("valid", 0) == 0) EXPECT_NO_THROW(GgufFile::from_memory(bytes, name)) << name;
    else if (name.rfind("bad", 0) == 0 || name == "truncated")
      EXPECT_THROW(GgufFile::from_memory(bytes, name), Error) << name;
  }
  EXPECT_GE(n, 10);
}

TEST(Gguf, ReadsRealSmolLm2Q4_1) {
  const std::string path = formats_test::asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " missing: run scripts/fetch_gguf.sh";
  const auto ref = formats_test::load_json(fixture("smollm2_reference.json"));
  GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.version(), ref["version"].get<uint32_t>());
  EXPECT_EQ(f.tensors().size(), ref["tensor_count"].get<size_t>());
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.arch_int("block_count"), 30);
  EXPECT_EQ(f.arch_int("embedding_length"), 576);
  EXPECT_EQ(f.arch_int("attention.head_count"), 9);
  EXPECT_EQ(f.arch_int("attention.head_count_kv"), 3);
  EXPECT_EQ(f.arch_int("vocab_size"), 49152);
  for (auto it = ref["metadata"].begin(); it != ref["metadata"].end(); ++it) {
    if (it.value().is_string()) EXPECT_EQ(f.get_string(it.key()), it.value().get<std::string>()) << it.key();
    else if (it.value().is_number_integer()) EXPECT_EQ(f.get_int(it.key()), it.value().get<int64_t>()) << it.key();
    else EXPECT_EQ(f.get_float(it.key()), it.value().get<double>()) << it.key();
  }
  const GgufTokenizer tk = f.tokenizer();
  EXPECT_EQ(tk.model, "gpt2");
  EXPECT_EQ(tk.tokens.size(), 49152u);
  EXPECT_EQ(tk.tokens.size(), ref["tokenizer"]["n_tokens"].get<size_t>());
  EXPECT_EQ(tk.merges.size(), ref["tokenizer"]["n_merges"].get<size_t>());
  const auto first = ref["tokenizer"]["tokens_first"].get<std::vector<std::string>>();
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(tk.tokens[i], first[i]);
  EXPECT_EQ(tk.tokens[1000], ref["tokenizer"]["token_1000"].get<std::string>());
  const auto mf = ref["tokenizer"]["merges_first"].get<std::vector<std::string>>();
  for (size_t i = 0; i < mf.size(); ++i) EXPECT_EQ(tk.merges[i], mf[i]);
  EXPECT_EQ(tk.bos_id, 1);
  EXPECT_EQ(tk.eos_id, 2);
  EXPECT_EQ(tk.token_type.size(), 49152u);

  std::set<std::string> types;
  for (auto it = ref["tensors"].begin(); it != ref["tensors"].end(); ++it) {
    const auto& want = it.value();
    const GgufTensorInfo& t = f.tensor(it.key());
    types.insert(ggml_type_name(t.type));
    EXPECT_EQ(ggml_type_name(t.type), want["type"].get<std::string>()) << it.key();
    EXPECT_EQ(t.dims, want["dims"].get<std::vector<uint64_t>>()) << it.key();
    const std::vector<float> v = f.read_f32(it.key());
    ASSERT_EQ(v.size(), t.numel());
    const auto w = want["first"].get<std::vector<double>>();
    for (size_t i = 0; i < w.size(); ++i) EXPECT_TRUE(close_f32(v[i], w[i])) << it.key() << "[" << i << "] " << v[i] << " vs " << w[i];
    double sum = 0, abs_sum = 0;
    for (float x : v) {
      sum += x;
      abs_sum += std::fabs(x);
    }
    EXPECT_NEAR(sum, want["sum"].get<double>(), 1e-6 * abs_sum) << it.key();
    EXPECT_NEAR(abs_sum, want["abs_sum"].get<double>(), 1e-6 * abs_sum) << it.key();
  }
  EXPECT_EQ(types, (std::set<std::string>{"F32", "Q4_1", "Q8_0"}));
  EXPECT_EQ(f.tensor("token_embd.weight").shape(), (std::vector<int64_t>{49152, 576}));
}
