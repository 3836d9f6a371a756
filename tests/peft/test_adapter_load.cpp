// model.adapter (src/train/adapter_loading.hpp): a LoRA adapter loaded on top of a base
// model, against Hugging Face PEFT and against Tessera's own trained model.
//   PEFT -> Tessera   tests/fixtures/peft/{gpt2,llama}_causal_lm, bert_seq_cls: PEFT's
//                     save_pretrained() directories (scripts/tools/make_peft_fixtures.py peft)
//                     loaded on the imported tiny models: logits = PEFT's ≤ 1e-4
//   Tessera -> PEFT   tests/fixtures/peft/tessera_gpt2_causal_lm: `tessera export --adapter
//                     --format peft` of a LoRA run, whose logits PeftModel.from_pretrained()
//                     recorded (make_peft_fixtures.py tessera): Tessera's logits with it ≤ 1e-4
//   Tessera round trip  a LoRA run's adapter exported (HDF5 and PEFT) and loaded on its base:
//                     logits bitwise those of the trained checkpoint; eval/generate through
//                     the CLI; training on from the adapter starts at it; predict with the
//                     adapter on the base = predict with the LoRA checkpoint.
#include <gtest/gtest.h>
#include <cmath>
#include <fstream>
#include "hf-parity/hf_model_runner.hpp"
#include "io/adapter_file.hpp"
#include "io/checkpoint.hpp"
#include "io/model_checkpoint.hpp"
#include "src/config/run_config.hpp"
#include "src/train/adapter_loading.hpp"
#include "src/train/trainer.hpp"
#include "test_support.hpp"

using namespace tessera;
using namespace tessera_test;
namespace fs = std::filesystem;

namespace {

std::string peft_fixture(const std::string& name) { return source_dir() + "/tests/fixtures/peft/" + name; }

// The tiny HF model of tests/fixtures/hf/<name> as a Tessera checkpoint (the base model).
std::string import_base(const std::string& hf_name, const fs::path& dir) {
  const std::string out = (dir / (hf_name + ".h5")).string();
  write_model_checkpoint(out, import_hf_directory(source_dir() + "/tests/fixtures/hf/" + hf_name), MPI_COMM_SELF);
  return out;
}

RunConfig adapter_config(const std::string& base, const std::string& adapter, const std::string& extra = "") {
  RunConfig cfg = parse_model_config("[model]\ninit_from = \"" + base + "\"\nadapter = \"" + adapter + "\"\n" + extra,
                                     "adapter_test.toml");
  resolve_init_from(cfg, MPI_COMM_SELF);
  return cfg;
}

// Logits of `model` on the reference file's inputs.
std::vector<float> logits_for(GPT2<float>& model, const SafetensorsFile& ref) {
  const std::vector<int32_t> ids = hf_test::read_i32(ref, "input_ids");
  const int B = int(ref.info("input_ids").shape[0]), T = int(ref.info("input_ids").shape[1]);
  std::vector<int32_t> mask, types;
  ModelInputs in;
  in.tokens = ids.data();
  if (ref.contains("attention_mask")) {
    mask = hf_test::read_i32(ref, "attention_mask");
    in.attention_mask = mask.data();
  }
  if (ref.contains("token_type_ids")) {
    types = hf_test::read_i32(ref, "token_type_ids");
    in.token_types = types.data();
  }
  model.forward(in, B, T, ForwardOptions{});
  return hf_test::host_vector(model.logits());
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, double(std::abs(a[i] - b[i])));
  return d;
}

// PEFT's logits for a fixture directory vs Tessera's with the directory as model.adapter.
// import_as_file: first `tessera import --adapter` the directory into a Tessera adapter file, and load that.
double peft_fixture_diff(const std::string& fixture, const std::string& hf_base, const std::string& extra,
                         RunConfig* cfg_out = nullptr, bool import_as_file = false) {
  const fs::path dir = fresh_dir("adapter_load_" + fixture + (import_as_file ? "_imported" : ""));
  const std::string base = import_base(hf_base, dir);
  std::string adapter = peft_fixture(fixture);
  if (import_as_file) {
    const std::string out = (dir / "adapter.h5").string();
    auto r = run_tessera("import --adapter --from " + adapter + " --base " + base + " --out " + out);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    adapter = out;
  }
  const RunConfig cfg = adapter_config(base, adapter, extra);
  if (cfg_out) *cfg_out = cfg;
  const auto ref = SafetensorsFile::open(peft_fixture(fixture) + "/reference.safetensors");
  // The adapter must move the logits well beyond the tolerance, or the test would not see it ignored.
  EXPECT_GT(std::stod(ref.metadata().at("adapter_effect_max_abs")), 0.1) << fixture;
  auto model = load_inference_model(cfg, base, MPI_COMM_SELF);
  const std::vector<float> got = logits_for(*model, ref);
  const double d = max_abs_diff(got, ref.read_f32("logits"));
  std::printf("[ %s ] max |Tessera - PEFT| logits = %.3g over %zu values\n", fixture.c_str(), d, got.size());
  return d;
}

}  // namespace

TEST(AdapterLoad, PeftGpt2CausalLmMatchesPeftLogits) {
  RunConfig cfg;
  EXPECT_LE(peft_fixture_diff("gpt2_causal_lm", "tiny_gpt2", "", &cfg), 1e-4);
  EXPECT_EQ(cfg.model.transformer.lora.r, 2);
  EXPECT_DOUBLE_EQ(cfg.model.transformer.lora.alpha, 5.0);
}

TEST(AdapterLoad, PeftLlamaRsLoraMatchesPeftLogits) {
  RunConfig cfg;
  EXPECT_LE(peft_fixture_diff("llama_causal_lm", "tiny_llama", "", &cfg), 1e-4);
  // use_rslora: scale lora_alpha/sqrt(r) = 6/2 = alpha'/r with alpha' = 12.
  EXPECT_EQ(cfg.model.transformer.lora.r, 4);
  EXPECT_NEAR(cfg.model.transformer.lora.alpha, 12.0, 1e-12);
}

TEST(AdapterLoad, PeftBertSequenceClassifierWithHeadMatchesPeftLogits) {
  EXPECT_LE(peft_fixture_diff("bert_seq_cls", "tiny_bert", "head = \"sequence_classification\"\nnum_labels = 3\n"), 1e-4);
}

TEST(AdapterLoad, PeftDirectoriesImportedAsTesseraAdapterFilesMatchPeftLogits) {
  RunConfig cfg;
  EXPECT_LE(peft_fixture_diff("llama_causal_lm", "tiny_llama", "", &cfg, true), 1e-4);
  EXPECT_NEAR(cfg.model.transformer.lora.alpha, 12.0, 1e-12);  // rslora's scale kept
  EXPECT_LE(peft_fixture_diff("bert_seq_cls", "tiny_bert", "head = \"sequence_classification\"\nnum_labels = 3\n",
                              nullptr, true),
            1e-4);
}

TEST(AdapterLoad, TesseraExportedPeftAdapterMatchesPeftFromPretrained) {
  EXPECT_LE(peft_fixture_diff("tessera_gpt2_causal_lm", "tiny_gpt2", ""), 1e-4);
}

// A LoRA run on the imported tiny GPT-2; its adapter exported both ways and loaded back
// on the base model gives the trained checkpoint's logits bit for bit.
TEST(AdapterLoad, ExportedAdapterOnBaseReproducesTrainedModelBitwise) {
  const fs::path dir = fresh_dir("adapter_load_roundtrip");
  const std::string base = import_base("tiny_gpt2", dir);
  write_file(dir / "text.txt", std::string(40 * 8, 'a') + "\n" + [] {
    std::string s;
    for (int i = 0; i < 30; ++i) s += "In the beginning God created the heaven and the earth.\n";
    return s;
  }());
  auto p = run_tessera("prepare --input " + (dir / "text.txt").string() + " --output " + (dir / "data.h5").string() +
                       " --validation-fraction 0.1 --doc-separator line");
  ASSERT_EQ(p.exit_code, 0) << p.output;
  const std::string common = "[data]\npath = \"" + (dir / "data.h5").string() +
                             "\"\nseq_len = 16\n[train]\nmicro_batch_size = 2\neval_interval = 0\neval_batches = 2\n"
                             "peak_gflops = 1\n";
  write_file(dir / "lora.toml", "[model]\ninit_from = \"" + base +
                                    "\"\n[lora]\nr = 2\nalpha = 8\ntargets = [\"attn.c_attn\", \"mlp.c_fc\"]\n" + common +
                                    "max_steps = 3\n[optim]\nlr = 0.02\nschedule = \"constant\"\n[run]\ndir = \"" +
                                    (dir / "run").string() + "\"\n");
  auto t = run_tessera("train " + (dir / "lora.toml").string());
  ASSERT_EQ(t.exit_code, 0) << t.output;
  const std::string ckpt = (dir / "run/checkpoints/step_00000003.h5").string();
  auto e1 = run_tessera("export --adapter --checkpoint " + ckpt + " --out " + (dir / "adapter.h5").string());
  ASSERT_EQ(e1.exit_code, 0) << e1.output;
  auto e2 = run_tessera("export --adapter --format peft --checkpoint " + ckpt + " --out " + (dir / "peft").string());
  ASSERT_EQ(e2.exit_code, 0) << e2.output;

  const auto ref = SafetensorsFile::open(peft_fixture("gpt2_causal_lm") + "/reference.safetensors");  // any input ids
  RunConfig trained_cfg = parse_model_config(read_checkpoint_state(ckpt, MPI_COMM_SELF).config_toml, ckpt);
  resolve_init_from(trained_cfg, MPI_COMM_SELF);
  auto trained = load_inference_model(trained_cfg, ckpt, MPI_COMM_SELF);
  const std::vector<float> want = logits_for(*trained, ref);
  auto plain_base = load_inference_model(parse_model_config(read_checkpoint_state(base, MPI_COMM_SELF).config_toml, base),
                                         base, MPI_COMM_SELF);
  EXPECT_GT(max_abs_diff(logits_for(*plain_base, ref), want), 1e-3) << "the 3 LoRA steps did not move the logits";
  for (const std::string adapter : {(dir / "adapter.h5").string(), (dir / "peft").string()}) {
    const RunConfig cfg = adapter_config(base, adapter);
    EXPECT_EQ(cfg.model.transformer.lora.r, 2);
    EXPECT_EQ(cfg.model.transformer.lora.targets, (std::vector<std::string>{"attn.c_attn", "mlp.c_fc"}));
    auto model = load_inference_model(cfg, base, MPI_COMM_SELF);
    const std::vector<float> got = logits_for(*model, ref);
    EXPECT_EQ(max_abs_diff(got, want), 0.0) << adapter;
  }

  // The CLI: eval with model.adapter (no checkpoint in its run dir: the base is model.init_from)
  // reports the trained checkpoint's loss.
  write_file(dir / "with_adapter.toml", "[model]\ninit_from = \"" + base + "\"\nadapter = \"" +
                                            (dir / "adapter.h5").string() + "\"\n" + common + "[run]\ndir = \"" +
                                            (dir / "eval_run").string() + "\"\n");
  auto ev_trained = run_tessera("eval " + (dir / "lora.toml").string() + " --checkpoint " + ckpt);
  auto ev_adapter = run_tessera("eval " + (dir / "with_adapter.toml").string());
  ASSERT_EQ(ev_trained.exit_code, 0) << ev_trained.output;
  ASSERT_EQ(ev_adapter.exit_code, 0) << ev_adapter.output;
  auto loss_of = [](const std::string& out) {
    const size_t k = out.find(" loss ");
    return k == std::string::npos ? std::string("?") : out.substr(k, out.find(" |", k + 1) - k);
  };
  EXPECT_EQ(loss_of(ev_adapter.output), loss_of(ev_trained.output)) << ev_adapter.output << ev_trained.output;
  EXPECT_NE(loss_of(ev_adapter.output), "?") << ev_adapter.output;

  // Training on from the adapter starts at it: a tiny lr moves lora_B by < 1e-5 from the adapter's.
  write_file(dir / "continue.toml", "[model]\ninit_from = \"" + base + "\"\nadapter = \"" + (dir / "peft").string() +
                                        "\"\n" + common + "max_steps = 1\n[optim]\nlr = 1e-8\n[run]\ndir = \"" +
                                        (dir / "continue").string() + "\"\n");
  auto c = run_tessera("train " + (dir / "continue.toml").string());
  ASSERT_EQ(c.exit_code, 0) << c.output;
  EXPECT_NE(c.output.find("tensors loaded (r 2, alpha 8)"), std::string::npos) << c.output;
  const std::string cont = (dir / "continue/checkpoints/step_00000001.h5").string();
  const LoraAdapter a = adapter_from_checkpoint(ckpt, MPI_COMM_SELF);
  const LoraAdapter b = adapter_from_checkpoint(cont, MPI_COMM_SELF);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  const std::string name = "h.1.mlp.c_fc.lora_B.weight";
  double moved = 0, size = 0;
  for (size_t i = 0; i < a.tensors.at(name).data.size(); ++i) {
    moved = std::max(moved, double(std::abs(a.tensors.at(name).data[i] - b.tensors.at(name).data[i])));
    size = std::max(size, double(std::abs(a.tensors.at(name).data[i])));
  }
  EXPECT_LT(moved, 1e-5);
  EXPECT_GT(size, 1e-3) << "lora_B still near zero: the check could not tell the adapter from a fresh init";
  // The continued run's checkpoint describes its model without model.adapter: generate reads it alone.
  EXPECT_EQ(parse_model_config(read_checkpoint_state(cont, MPI_COMM_SELF).config_toml, cont).model.adapter, "");
  auto g = run_tessera("generate --checkpoint " + cont + " --tokenizer byte --prompt In --max-new-tokens 4 --temperature 0");
  EXPECT_EQ(g.exit_code, 0) << g.output;
}

// predict (a sequence classifier: the predictive path with temperatures and ensembles)
// with model.adapter on the base equals predict with the LoRA run's own checkpoint.
TEST(AdapterLoad, PredictWithAdapterOnBaseEqualsPredictWithTrainedCheckpoint) {
  const fs::path dir = fresh_dir("adapter_load_predict");
  std::string csv = "text,label\n";
  for (int i = 0; i < 8; ++i) csv += "god created heaven and earth,good\nmoses went to egypt,bad\n";
  write_file(dir / "train.csv", csv);
  const std::string data = (dir / "data.h5").string();
  auto p = run_tessera("prepare --task classification --input " + (dir / "train.csv").string() + " --validation-input " +
                       (dir / "train.csv").string() + " --vocab " + source_dir() +
                       "/tests/fixtures/tasks/vocab.txt --max-len 12 --output " + data);
  ASSERT_EQ(p.exit_code, 0) << p.output;
  const std::string model = "[model]\nfamily = \"bert\"\nhead = \"sequence_classification\"\nnum_labels = 2\nn_layer = 2\n"
                            "n_head = 2\nn_embd = 16\nn_positions = 16\nvocab_size = 69\n";
  const std::string rest = "[data]\npath = \"" + data + "\"\n[train]\nmax_steps = 3\nmicro_batch_size = 2\n[optim]\nlr = 0.01\n";
  write_file(dir / "full.toml", model + rest + "[run]\ndir = \"" + (dir / "full").string() + "\"\n");
  auto f = run_tessera("train " + (dir / "full.toml").string());
  ASSERT_EQ(f.exit_code, 0) << f.output;
  const std::string base = (dir / "full/checkpoints/step_00000003.h5").string();
  write_file(dir / "lora.toml", "[model]\ninit_from = \"" + base + "\"\nhead = \"sequence_classification\"\nnum_labels = 2\n" +
                                    "[lora]\nr = 2\nalpha = 4\ntargets = [\"query\", \"value\"]\n" + rest + "[run]\ndir = \"" +
                                    (dir / "lora").string() + "\"\n");
  auto l = run_tessera("train " + (dir / "lora.toml").string());
  ASSERT_EQ(l.exit_code, 0) << l.output;
  const std::string ckpt = (dir / "lora/checkpoints/step_00000003.h5").string();
  auto e = run_tessera("export --adapter --checkpoint " + ckpt + " --out " + (dir / "adapter.h5").string());
  ASSERT_EQ(e.exit_code, 0) << e.output;
  write_file(dir / "with_adapter.toml", "[model]\ninit_from = \"" + base + "\"\nadapter = \"" + (dir / "adapter.h5").string() +
                                            "\"\nhead = \"sequence_classification\"\nnum_labels = 2\n" + rest +
                                            "[run]\ndir = \"" + (dir / "none").string() + "\"\n");
  write_file(dir / "in.csv", "text\ngod created egypt\nmoses went to heaven\n");
  auto a = run_tessera("predict " + (dir / "with_adapter.toml").string() + " --input " + (dir / "in.csv").string() +
                       " --output " + (dir / "a.jsonl").string());
  auto b = run_tessera("predict " + (dir / "lora.toml").string() + " --checkpoint " + ckpt + " --input " +
                       (dir / "in.csv").string() + " --output " + (dir / "b.jsonl").string());
  auto c = run_tessera("predict " + (dir / "full.toml").string() + " --checkpoint " + base + " --input " +
                       (dir / "in.csv").string() + " --output " + (dir / "c.jsonl").string());
  ASSERT_EQ(a.exit_code, 0) << a.output;
  ASSERT_EQ(b.exit_code, 0) << b.output;
  ASSERT_EQ(c.exit_code, 0) << c.output;
  EXPECT_EQ(read_file(dir / "a.jsonl"), read_file(dir / "b.jsonl"));
  EXPECT_NE(read_file(dir / "a.jsonl"), read_file(dir / "c.jsonl")) << "the LoRA run did not change the predictions";
  EXPECT_NE(read_file(dir / "a.jsonl").find("\"probabilities\""), std::string::npos) << read_file(dir / "a.jsonl");
}
