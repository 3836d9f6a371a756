// safetensors reader/writer: bitwise round trip, HF byte compatibility, exact half /
// bfloat16 conversion, rejection of malformed headers, and the real MiniLM weights.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <random>

#include "formats_test_util.hpp"
#include "io/dequantize.hpp"
#include "io/safetensors.hpp"
#include "src/runtime/error.hpp"

using namespace tessera;
using formats_test::fixture;

namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = char((n >> (8 * i)) & 0xff);
  return s;
}
std::string st(const std::string& header, const std::string& data) { return le64(header.size()) + header + data; }

// Expects from_memory to throw Error whose message contains every needle.
void expect_reject(const std::string& bytes, std::initializer_list<const char*> needles) {
  try {
    SafetensorsFile::from_memory(bytes, "bad.safetensors");
    ADD_FAILURE() << "accepted: " << bytes.substr(0, 200);
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("bad.safetensors"), std::string::npos) << m;
    for (const char* n : needles) EXPECT_NE(m.find(n), std::string::npos) << "missing '" << n << "' in: " << m;
  }
}

}  // namespace

TEST(Safetensors, RoundTripF32Bitwise) {
  std::map<std::string, SafetensorsTensor> in;
  std::mt19937 rng(7);
  SafetensorsTensor a{{3, 4, 5}, {}, StDtype::F32};
  for (int i = 0; i < 60; ++i) a.data.push_back(from_bits(rng()));  // any bit pattern, NaNs included
  a.data[0] = -0.0f;
  a.data[1] = from_bits(0x7fc01234);  // NaN with payload
  a.data[2] = from_bits(0x00000001);  // smallest subnormal
  a.data[3] = INFINITY;
  in["layer.0.weight"] = a;
  in["bias"] = SafetensorsTensor{{7}, {1, 2, 3, 4, 5, 6, 7}, StDtype::F32};
  in["empty"] = SafetensorsTensor{{0, 3}, {}, StDtype::F32};
  in["scalar"] = SafetensorsTensor{{}, {42.5f}, StDtype::F32};
  const auto dir = tessera_test::fresh_dir("safetensors_roundtrip");
  const std::string path = (dir / "m.safetensors").string();
  write_safetensors(path, in, {{"format", "pt"}, {"note", "quote \" and \\ and \xc3\xa9"}});
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  SafetensorsFile f = SafetensorsFile::open(path);
  EXPECT_EQ(f.data_offset() % 8, 0u);
  EXPECT_EQ(f.metadata().at("note"), "quote \" and \\ and \xc3\xa9");
  EXPECT_EQ(f.names(), (std::vector<std::string>{"bias", "empty", "layer.0.weight", "scalar"}));
  for (const auto& [name, t] : in) {
    EXPECT_EQ(f.info(name).shape, t.shape) << name;
    EXPECT_EQ(f.info(name).dtype, StDtype::F32);
    const std::vector<float> back = f.read_f32(name);
    ASSERT_EQ(back.size(), t.data.size()) << name;
    EXPECT_EQ(0, std::memcmp(back.data(), t.data.data(), back.size() * 4)) << name;
  }
  // Header padded with spaces, like HF.
  const std::string raw = tessera_test::read_file(path);
  EXPECT_EQ(raw[8 + f.header_size() - 1] == ' ' || raw[8 + f.header_size() - 1] == '}', true);
  EXPECT_THROW(f.info("nope"), Error);
}

TEST(Safetensors, WriterIsByteIdenticalToHf) {
  // tests/fixtures/formats/hf_written.safetensors: safetensors.numpy.save of the same
  // tensors (scripts/tools/make_format_fixtures.py).
  std::map<std::string, SafetensorsTensor> in;
  in["b"] = {{3}, {1.5f, -2.0f, 3.0f}, StDtype::F32};
  in["c"] = {{1}, {0.0f}, StDtype::F32};
  in["a.x"] = {{2, 2}, {1.0f, 0.5f, -0.25f, 65504.0f}, StDtype::F16};
  const std::string ours = serialize_safetensors(in, {{"k", "v"}});
  const std::string hf = tessera_test::read_file(fixture("hf_written.safetensors"));
  ASSERT_FALSE(hf.empty());
  EXPECT_EQ(ours, hf);
}

TEST(Safetensors, HalfAndBfloat16ConversionIsExactAndRoundsToNearestEven) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_fp32(uint16_t(h));
    const bool nan = ((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff);
    if (nan) {
      EXPECT_TRUE(std::isnan(f));
      EXPECT_TRUE(fp32_to_fp16(f) & 0x200);  // quiet NaN
    } else {
      ASSERT_EQ(fp32_to_fp16(f), h) << h;
    }
    const float b = bf16_to_fp32(uint16_t(h));
    if (!std::isnan(b)) ASSERT_EQ(fp32_to_bf16(b), h) << h;
  }
  // Ties to even.
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3f808000)), 0x3f80);  // 1 + 2^-8: tie, down to even
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3f818000)), 0x3f82);  // 1 + 3·2^-8: tie, up to even
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3f808001)), 0x3f81);  // just above the tie
  EXPECT_EQ(fp32_to_fp16(1.0f + 0x1p-11f), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(1.0f + 3 * 0x1p-11f), 0x3c02);
  EXPECT_EQ(fp32_to_fp16(65519.0f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);  // rounds to inf
  EXPECT_EQ(fp32_to_fp16(0x1p-25f), 0x0000);  // tie to even: 0
  EXPECT_EQ(fp32_to_fp16(0x1.8p-25f), 0x0001);
  EXPECT_EQ(fp32_to_fp16(-0x1p-24f), 0x8001);
  EXPECT_EQ(fp32_to_fp16(0x1.ffcp-15f), 0x0400);  // largest subnormal + rounding carries into normal
  EXPECT_EQ(fp32_to_bf16(from_bits(0x7f7fffff)), 0x7f80);  // FLT_MAX rounds to inf
  EXPECT_EQ(fp32_to_fp16(-INFINITY), 0xfc00);
#if defined(__FLT16_MAX__) && defined(__x86_64__)
  // Against the compiler's own (IEEE round-to-nearest-even) conversion.
  std::mt19937 rng(3);
  for (int i = 0; i < 2000000; ++i) {
    const float f = from_bits(rng());
    if (std::isnan(f)) continue;
    const _Float16 r = static_cast<_Float16>(f);
    uint16_t want;
    std::memcpy(&want, &r, 2);
    ASSERT_EQ(fp32_to_fp16(f), want) << std::hex << bits(f);
  }
#endif
}

TEST(Safetensors, WritesBf16AndF16RoundingToNearestEven) {
  std::vector<float> v = {1.0f, from_bits(0x3f808000), from_bits(0x3f818000), -3.14159f, 1e-9f, 70000.0f, -0.0f};
  std::map<std::string, SafetensorsTensor> in;
  in["h"] = {{7}, v, StDtype::F16};
  in["b"] = {{7}, v, StDtype::BF16};
  SafetensorsFile f = SafetensorsFile::from_memory(serialize_safetensors(in), "mem");
  EXPECT_EQ(f.info("h").dtype, StDtype::F16);
  EXPECT_EQ(f.info("b").dtype, StDtype::BF16);
  const auto h = f.read_f32("h"), b = f.read_f32("b");
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(bits(h[i]), bits(fp16_to_fp32(fp32_to_fp16(v[i])))) << i;
    EXPECT_EQ(bits(b[i]), bits(bf16_to_fp32(fp32_to_bf16(v[i])))) << i;
  }
  EXPECT_EQ(b[1], 1.0f);
  EXPECT_EQ(b[2], from_bits(0x3f820000));
  EXPECT_TRUE(std::isinf(h[5]));
  // BF16 comes before F16 in the data section (HF order).
  EXPECT_LT(f.info("b").begin, f.info("h").begin);
}

TEST(Safetensors, ReadsFileWrittenByHf) {
  const auto ref = formats_test::load_json(fixture("tiny_safetensors.json"));
  SafetensorsFile f = SafetensorsFile::open(fixture("tiny.safetensors"));
  EXPECT_EQ(f.metadata().at("producer"), ref["metadata"]["producer"].get<std::string>());
  EXPECT_EQ(f.names().size(), ref["tensors"].size());
  for (auto it = ref["tensors"].begin(); it != ref["tensors"].end(); ++it) {
    const auto& info = f.info(it.key());
    EXPECT_STREQ(st_dtype_name(info.dtype), it.value()["dtype"].get<std::string>().c_str());
    EXPECT_EQ(info.shape, it.value()["shape"].get<std::vector<int64_t>>()) << it.key();
    const auto want = it.value()["values"].get<std::vector<double>>();
    const auto got = f.read_f32(it.key());
    ASSERT_EQ(got.size(), want.size()) << it.key();
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(double(got[i]), want[i]) << it.key() << "[" << i << "]";
  }
}

TEST(Safetensors, RejectsMalformedHeadersNamingFileAndTensor) {
  const std::string ok = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_NO_THROW(SafetensorsFile::from_memory(st(ok, std::string(8, '\0'))));
  expect_reject("abc", {"need"});
  expect_reject(le64(1ull << 62) + "{}", {"exceeds the file size"});
  expect_reject(le64(100) + "{}", {"exceeds the file size"});
  expect_reject(st("{\"x\":", ""), {"not valid JSON"});
  expect_reject(st("[1,2]", ""), {"not an object"});
  expect_reject(st(std::string(100, '[') + std::string(100, ']'), ""), {"nests deeper"});
  expect_reject(st(R"({"x":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0')),
                {"tensor \"x\"", "unknown dtype \"F31\""});
  expect_reject(st(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0')),
                {"tensor \"x\"", "needs 12"});
  expect_reject(st(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", std::string(8, '\0')),
                {"tensor \"x\"", "past the data section"});
  expect_reject(st(R"({"x":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", std::string(8, '\0')),
                {"begin 8 > end 0"});
  expect_reject(st(R"({"x":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,0]}})", ""),
                {"tensor \"x\"", "overflows"});
  expect_reject(st(R"({"x":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}})", ""),
                {"tensor \"x\"", "overflows"});
  expect_reject(st(R"({"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", ""), {"non-negative"});
  expect_reject(st(R"({"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,0]}})", ""), {"non-negative"});
  expect_reject(st(R"({"x":{"dtype":"F32","shape":[1]}})", std::string(4, '\0')), {"data_offsets"});
  expect_reject(st(R"({"x":{"shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0')), {"dtype"});
  expect_reject(st(R"({"x":7})", ""), {"tensor \"x\"", "not an object"});
  expect_reject(st(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                   R"("y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::string(8, '\0')),
                {"\"x\"", "\"y\"", "overlap"});
  expect_reject(st(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                   R"("x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::string(8, '\0')),
                {"duplicate key \"x\""});
  expect_reject(st(R"({"__metadata__":{"k":1}})", ""), {"__metadata__"});
  expect_reject(st("{\"\xff\":1}", ""), {"not valid JSON"});
  // F8 lists fine but cannot be read as float32.
  SafetensorsFile f8 = SafetensorsFile::from_memory(st(R"({"q":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})", "ab"));
  EXPECT_THROW(f8.read_f32("q"), Error);
}

TEST(Safetensors, RejectsHeaderOverTheCapBeforeReadingIt) {
  // A sparse 101 MiB file whose header claims 100 MiB + 1 bytes.
  const auto dir = tessera_test::fresh_dir("safetensors_cap");
  const std::string path = (dir / "huge.safetensors").string();
  const uint64_t n = kSafetensorsMaxHeader + 1;
  {
    const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    const std::string len = le64(n);
    ASSERT_EQ(::write(fd, len.data(), 8), 8);
    ASSERT_EQ(::ftruncate(fd, off_t(n + 64)), 0);
    ::close(fd);
  }
  try {
    SafetensorsFile::open(path);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("exceeds the limit"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_THROW(SafetensorsFile::open((dir / "missing.safetensors").string()), Error);
}

TEST(Safetensors, FuzzSeedCorpusIsClassifiedAsIntended) {
  const auto dir = std::filesystem::path(tessera_test::source_dir()) / "fuzz/corpus/fuzz_safetensors";
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    const std::string bytes = tessera_test::read_file(e.path());
    ++n;
    if (name.rfind("valid", 0) == 0) EXPECT_NO_THROW(SafetensorsFile::from_memory(bytes, name)) << name;
    else EXPECT_THROW(SafetensorsFile::from_memory(bytes, name), Error) << name;
  }
  EXPECT_GE(n, 10);
}

TEST(Safetensors, ReadsRealMiniLmWeights) {
  const std::string path = formats_test::asset("minilm/model.safetensors");
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " missing: run scripts/fetch_assets.sh";
  const auto ref = formats_test::load_json(fixture("minilm_reference.json"));
  SafetensorsFile f = SafetensorsFile::open(path);
  EXPECT_EQ(int64_t(f.names().size()), ref["count"].get<int64_t>());
  EXPECT_GE(f.names().size(), 100u);
  const auto& emb = f.info("embeddings.word_embeddings.weight");
  EXPECT_EQ(emb.dtype, StDtype::F32);
  EXPECT_EQ(emb.shape, (std::vector<int64_t>{30522, 384}));
  for (auto it = ref["tensors"].begin(); it != ref["tensors"].end(); ++it) {
    const auto& want = it.value();
    EXPECT_EQ(f.info(it.key()).shape, want["shape"].get<std::vector<int64_t>>()) << it.key();
    const std::vector<float> v = f.read_f32(it.key());
    const auto first = want["first"].get<std::vector<double>>();
    for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(double(v[i]), first[i]) << it.key() << "[" << i << "]";
    EXPECT_EQ(double(v.back()), want["last"].get<double>()) << it.key();
    double sum = 0, abs_sum = 0;
    for (float x : v) {
      sum += x;
      abs_sum += std::fabs(x);
    }
    EXPECT_NEAR(sum, want["sum"].get<double>(), 1e-9 * abs_sum + 1e-12) << it.key();
  }
}
