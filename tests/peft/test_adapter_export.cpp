// tessera export --adapter: a LoRA run's adapter alone, as a Tessera HDF5 adapter
// file and as a PEFT directory (io/adapter_file.hpp). Checks the tensors (only
// lora_A/lora_B and the head, values equal to the checkpoint's), the PEFT names and
// adapter_config.json, and the refusals.
#include <gtest/gtest.h>
#include <fstream>
#include <sstream>
#include "io/adapter_file.hpp"
#include "io/checkpoint.hpp"
#include "io/safetensors.hpp"
#include "test_support.hpp"

using namespace tessera_test;
namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// A tiny BERT classifier trained 2 steps with LoRA on query/value; returns its checkpoint.
std::string train_lora_bert(const fs::path& dir, bool lora = true) {
  std::string csv = "text,label\n";
  for (int i = 0; i < 8; ++i) csv += "god created heaven and earth,good\nmoses went to egypt,bad\n";
  write_file(dir / "train.csv", csv);
  const std::string data = (dir / "data.h5").string();
  auto p = run_tessera("prepare --task classification --input " + (dir / "train.csv").string() +
                       " --validation-input " + (dir / "train.csv").string() + " --vocab " + source_dir() +
                       "/tests/fixtures/tasks/vocab.txt --max-len 12 --output " + data);
  EXPECT_EQ(p.exit_code, 0) << p.output;
  const std::string run = lora ? "lora" : "full";
  write_file(dir / (run + ".toml"),
             "[model]\nfamily = \"bert\"\nhead = \"sequence_classification\"\nnum_labels = 2\nn_layer = 2\n"
             "n_head = 2\nn_embd = 16\nn_positions = 16\nvocab_size = 69\n" +
                 std::string(lora ? "[lora]\nr = 2\nalpha = 4\ndropout = 0.1\ntargets = [\"query\", \"value\"]\n" : "") +
                 "[data]\npath = \"" + data + "\"\n[train]\nmax_steps = 2\nmicro_batch_size = 2\n[run]\ndir = \"" +
                 (dir / run).string() + "\"\n");
  auto t = run_tessera("train " + (dir / (run + ".toml")).string());
  EXPECT_EQ(t.exit_code, 0) << t.output;
  return (dir / run / "checkpoints/step_00000002.h5").string();
}

}  // namespace

TEST(AdapterExport, HdfAdapterHoldsOnlyAdapterAndHeadAndRoundTrips) {
  const fs::path dir = fresh_dir("adapter_export_h5");
  const std::string ckpt = train_lora_bert(dir);
  const std::string out = (dir / "adapter.h5").string();
  auto r = run_tessera("export --adapter --checkpoint " + ckpt + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LT(fs::file_size(out) * 5, fs::file_size(ckpt)) << "adapter file is not small";
  const tessera::LoraAdapter want = tessera::adapter_from_checkpoint(ckpt, MPI_COMM_SELF);
  const tessera::LoraAdapter got = tessera::adapter_from_checkpoint(out, MPI_COMM_SELF);
  ASSERT_EQ(want.tensors.size(), 10u);  // 2 layers × {query, value} × {A, B} + classifier.{weight, bias}
  ASSERT_EQ(got.tensors.size(), want.tensors.size());
  for (const auto& [name, t] : want.tensors) {
    ASSERT_TRUE(got.tensors.count(name)) << name;
    EXPECT_EQ(got.tensors.at(name).shape, t.shape) << name;
    EXPECT_EQ(got.tensors.at(name).data, t.data) << name;  // bitwise
  }
  bool nonzero_b = false;
  for (float v : want.tensors.at("encoder.layer.0.attention.self.query.lora_B.weight").data) nonzero_b |= v != 0.f;
  EXPECT_TRUE(nonzero_b) << "lora_B still zero after training: the test would not see a mix-up of A and B";
  EXPECT_EQ(got.base.lora.r, 2);
  EXPECT_DOUBLE_EQ(got.base.lora.alpha, 4.0);
  EXPECT_DOUBLE_EQ(got.base.lora.dropout, 0.1);
  const tessera::TrainingState st = tessera::read_checkpoint_state(out, MPI_COMM_SELF);
  EXPECT_EQ(st.scalars.at("adapter_format_version"), 1.0);
  EXPECT_EQ(st.scalars.at("base_fingerprint"), double(tessera::base_fingerprint(want.base)));
}

TEST(AdapterExport, PeftDirectoryHasPeftNamesAndConfig) {
  const fs::path dir = fresh_dir("adapter_export_peft");
  const std::string ckpt = train_lora_bert(dir);
  const fs::path out = dir / "peft";
  auto r = run_tessera("export --adapter --format peft --checkpoint " + ckpt + " --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const tessera::LoraAdapter want = tessera::adapter_from_checkpoint(ckpt, MPI_COMM_SELF);
  const auto st = tessera::SafetensorsFile::open((out / "adapter_model.safetensors").string());
  ASSERT_EQ(st.names().size(), want.tensors.size());
  for (const auto& [name, t] : want.tensors) {
    const std::string peft = (name.rfind("classifier.", 0) == 0 ? "base_model.model." : "base_model.model.bert.") + name;
    ASSERT_TRUE(st.contains(peft)) << peft;
    EXPECT_EQ(st.info(peft).shape, t.shape) << peft;
    EXPECT_EQ(st.read_f32(peft), t.data) << peft;
  }
  EXPECT_EQ(st.info("base_model.model.bert.encoder.layer.1.attention.self.value.lora_A.weight").shape,
            (std::vector<int64_t>{2, 16}));  // [r, in]
  const std::string cfg = read_text(out / "adapter_config.json");
  for (const char* needle : {"\"peft_type\": \"LORA\"", "\"r\": 2,", "\"lora_alpha\": 4.0,", "\"lora_dropout\": 0.10000000000000001,",
                             "\"target_modules\": [\"query\", \"value\"]", "\"task_type\": \"SEQ_CLS\"",
                             "\"modules_to_save\": [\"classifier\"]", "\"fan_in_fan_out\": false"})
    EXPECT_NE(cfg.find(needle), std::string::npos) << needle << " not in\n" << cfg;
}

TEST(AdapterExport, RefusesCheckpointWithoutLoraAndAdapterFormatsWithoutFlag) {
  const fs::path dir = fresh_dir("adapter_export_bad");
  const std::string ckpt = train_lora_bert(dir, /*lora=*/false);
  auto r = run_tessera("export --adapter --checkpoint " + ckpt + " --out " + (dir / "a.h5").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find(ckpt), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("not a LoRA run"), std::string::npos) << r.output;
  auto f = run_tessera("export --format peft --checkpoint " + ckpt + " --out " + (dir / "p").string());
  EXPECT_NE(f.exit_code, 0);
  EXPECT_NE(f.output.find("needs --adapter"), std::string::npos) << f.output;
}
