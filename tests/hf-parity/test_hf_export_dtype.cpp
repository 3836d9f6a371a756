// `tessera export --dtype fp32|bf16|fp16`: checkpoints keep fp32 masters, the HF export
// stores the dtype asked for. Every exported tensor has that dtype in the safetensors
// header, its values are the fp32 export's rounded to nearest even (bf16: the project's
// float_to_bf16_rne; fp16: the compiler's _Float16 conversion as the independent
// reference), config.json names the dtype, and the file shrinks to about half.
#include <gtest/gtest.h>
#include <mpi.h>
#include <cmath>
#include <nlohmann/json.hpp>
#include "hf_test_util.hpp"
#include "io/hf_checkpoint.hpp"
#include "io/model_checkpoint.hpp"
#include "io/safetensors.hpp"
#include "kernels/gemm_bf16.hpp"
#include "test_support.hpp"

using namespace tessera;
using hf_test::hf_fixture;
using hf_test::read_all;
namespace fs = std::filesystem;

namespace {

struct Exported {
  fs::path dir;
  tessera_test::CommandResult result;
};

Exported export_as(const fs::path& work, const std::string& ckpt, const std::string& dtype) {
  Exported e{work / ("hf_" + (dtype.empty() ? std::string("default") : dtype)), {}};
  e.result = tessera_test::run_tessera("export --checkpoint " + ckpt + " --out " + e.dir.string() +
                                       (dtype.empty() ? "" : " --dtype " + dtype));
  return e;
}

void expect_rounded(const fs::path& fp32_dir, const fs::path& dir, StDtype dtype, float (*round)(float)) {
  const SafetensorsFile f = SafetensorsFile::open((dir / "model.safetensors").string());
  const auto ref = read_all((fp32_dir / "model.safetensors").string());
  ASSERT_EQ(f.names().size(), ref.size());
  size_t values = 0, changed = 0;
  for (const std::string& n : f.names()) {
    EXPECT_EQ(f.info(n).dtype, dtype) << n;
    const std::vector<float> got = f.read_f32(n);
    const std::vector<float>& want = ref.at(n).data;
    ASSERT_EQ(got.size(), want.size()) << n;
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i], round(want[i])) << n << "[" << i << "]";
      changed += got[i] != want[i];
    }
    values += got.size();
  }
  EXPECT_GT(changed, values / 2) << "the export did not round anything";  // random-init weights are not bf16/fp16 values
  const double ratio = double(fs::file_size(dir / "model.safetensors")) / fs::file_size(fp32_dir / "model.safetensors");
  EXPECT_GT(ratio, 0.45);
  EXPECT_LT(ratio, 0.55);
}

float round_bf16(float x) { return round_to_bf16(x); }
float round_fp16(float x) { return float(static_cast<_Float16>(x)); }

std::string json_dtype(const fs::path& dir) {
  return nlohmann::json::parse(tessera_test::read_file(dir / "config.json")).value("dtype", "");
}

}  // namespace

TEST(HfExportDtype, Bf16AndFp16AreTheFp32ExportRounded) {
  const fs::path work = tessera_test::fresh_dir("hf_export_dtype");
  const std::string ckpt = (work / "llama.h5").string();
  // The fixture's weights are bf16 values already: scale them off the bf16/fp16 grids, as
  // fine-tuned fp32 masters are.
  ImportedModel m = import_hf_directory(hf_fixture("tiny_llama"));
  for (auto& [name, t] : m.tensors)
    for (size_t i = 0; i < t.data.size(); ++i) t.data[i] *= 1.0f + 1e-3f * float(i % 7 + 1) / 7.0f;
  write_model_checkpoint(ckpt, m, MPI_COMM_WORLD);

  const Exported fp32 = export_as(work, ckpt, "");
  ASSERT_EQ(fp32.result.exit_code, 0) << fp32.result.output;
  EXPECT_EQ(json_dtype(fp32.dir), "float32");
  const Exported bf16 = export_as(work, ckpt, "bf16");
  ASSERT_EQ(bf16.result.exit_code, 0) << bf16.result.output;
  EXPECT_NE(bf16.result.output.find("BF16"), std::string::npos) << bf16.result.output;
  EXPECT_EQ(json_dtype(bf16.dir), "bfloat16");
  expect_rounded(fp32.dir, bf16.dir, StDtype::BF16, round_bf16);
  const Exported fp16 = export_as(work, ckpt, "fp16");
  ASSERT_EQ(fp16.result.exit_code, 0) << fp16.result.output;
  EXPECT_EQ(json_dtype(fp16.dir), "float16");
  expect_rounded(fp32.dir, fp16.dir, StDtype::F16, round_fp16);

  // The bf16 export imports back (Tessera's reader widens bf16 exactly).
  auto back = tessera_test::run_tessera("import --from " + bf16.dir.string() + " --out " + (work / "back.h5").string());
  EXPECT_EQ(back.exit_code, 0) << back.output;
}

TEST(HfExportDtype, DtypeOutsideHfIsAnError) {
  const fs::path work = tessera_test::fresh_dir("hf_export_dtype_bad");
  const std::string ckpt = (work / "llama.h5").string();
  ASSERT_EQ(tessera_test::run_tessera("import --from " + hf_fixture("tiny_llama") + " --out " + ckpt).exit_code, 0);
  auto g = tessera_test::run_tessera("export --format gguf --dtype bf16 --checkpoint " + ckpt + " --out " +
                                     (work / "m.gguf").string());
  EXPECT_NE(g.exit_code, 0) << g.output;
  EXPECT_NE(g.output.find("--dtype"), std::string::npos) << g.output;
  auto bad = tessera_test::run_tessera("export --dtype int8 --checkpoint " + ckpt + " --out " + (work / "x").string());
  EXPECT_NE(bad.exit_code, 0) << bad.output;
  EXPECT_NE(bad.output.find("--dtype"), std::string::npos) << bad.output;
}
