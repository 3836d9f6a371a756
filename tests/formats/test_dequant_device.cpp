// Kokkos dequantisation (kernels/dequantize.hpp) against the host reference
// (io/dequantize.hpp, itself checked against the Python gguf package) on every
// supported tensor of tests/fixtures/formats/tiny.gguf and on real SmolLM2 tensors.
#include "formats_test_util.hpp"
#include "io/dequantize.hpp"
#include "io/gguf.hpp"
#include "kernels/dequantize.hpp"
#include "src/runtime/error.hpp"

using namespace tessera;

namespace {

std::vector<float> on_device(const std::vector<uint8_t>& raw, uint32_t type, int64_t n) {
  View1<uint8_t> d_raw("raw", raw.size());
  auto h_raw = Kokkos::create_mirror_view(d_raw);
  for (size_t i = 0; i < raw.size(); ++i) h_raw(i) = raw[i];
  Kokkos::deep_copy(d_raw, h_raw);
  View1<float> out("out", size_t(n));
  dequantize_ggml_device<float>(out, d_raw, type, n);
  auto h = Kokkos::create_mirror_view(out);
  Kokkos::deep_copy(h, out);
  return std::vector<float>(h.data(), h.data() + n);
}

void compare(const GgufFile& f, const GgufTensorInfo& t) {
  const std::vector<float> want = f.read_f32(t.name);
  const std::vector<float> got = on_device(f.read_raw(t.name), t.type, int64_t(t.numel()));
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_TRUE(formats_test::close_f32(got[i], want[i])) << t.name << "[" << i << "] " << got[i] << " vs " << want[i];
}

}  // namespace

TEST(DequantDevice, MatchesHostOnEverySupportedType) {
  GgufFile f = GgufFile::open(formats_test::fixture("tiny.gguf"));
  int n = 0;
  for (const GgufTensorInfo& t : f.tensors()) {
    if (!ggml_type_traits(t.type).dequantizable) {
      EXPECT_THROW(on_device(f.read_raw(t.name), t.type, int64_t(t.numel())), Error);
      continue;
    }
    compare(f, t);
    ++n;
  }
  EXPECT_EQ(n, 8);
  // Size checks happen on the host before any kernel runs.
  EXPECT_THROW(on_device(std::vector<uint8_t>(33), uint32_t(GgmlType::Q8_0), 32), Error);
  EXPECT_THROW(on_device(std::vector<uint8_t>(34), uint32_t(GgmlType::Q8_0), 31), Error);
}

TEST(DequantDevice, MatchesHostOnSmolLm2) {
  const std::string path = formats_test::asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " missing: run scripts/fetch_gguf.sh";
  GgufFile f = GgufFile::open(path);
  for (const char* name : {"token_embd.weight", "blk.0.attn_q.weight", "output_norm.weight"}) compare(f, f.tensor(name));
}
