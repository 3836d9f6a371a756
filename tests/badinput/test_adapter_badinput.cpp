// model.adapter and tessera import --adapter on bad input: every case exits non-zero
// with an error naming the file and the key or tensor (with the shapes where they
// differ), never a silently wrong model. Also the [lora] errors for a target that
// matches nothing and a rank larger than a layer, through the CLI.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hf-parity/hf_test_util.hpp"
#include "io/hf_param_names.hpp"
#include "io/model_checkpoint.hpp"
#include "src/tensor/parameter_set.hpp"

using namespace tessera;
using namespace tessera_test;
namespace fs = std::filesystem;

namespace {

std::string peft_fixture(const std::string& name) { return source_dir() + "/tests/fixtures/peft/" + name; }

// A copy of a PEFT fixture directory (adapter files only) to break.
fs::path copy_peft(const std::string& fixture, const fs::path& dir) {
  const fs::path d = dir / fixture;
  fs::create_directories(d);
  for (const char* f : {"adapter_config.json", "adapter_model.safetensors"})
    fs::copy_file(fs::path(peft_fixture(fixture)) / f, d / f);
  return d;
}

void edit_json(const fs::path& d, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json j = nlohmann::json::parse(read_file(d / "adapter_config.json"));
  edit(j);
  write_file(d / "adapter_config.json", j.dump(2));
}

std::string import_base(const std::string& hf_name, const fs::path& dir) {
  const std::string out = (dir / (hf_name + ".h5")).string();
  write_model_checkpoint(out, import_hf_directory(source_dir() + "/tests/fixtures/hf/" + hf_name), MPI_COMM_SELF);
  return out;
}

// tiny_gpt2's architecture at width 32: another base model (zero weights).
std::string narrow_gpt2_base(const fs::path& dir) {
  ImportedModel m = import_hf_directory(source_dir() + "/tests/fixtures/hf/tiny_gpt2");
  m.config.n_embd = 32;
  m.tensors.clear();
  for (const ParamShape& p : transformer_parameter_shapes(m.config)) {
    FloatTensor t;
    t.shape = p.shape;
    t.data.assign(size_t(product(p.shape)), 0.01f);
    m.tensors.emplace(p.name, std::move(t));
  }
  const std::string out = (dir / "narrow_gpt2.h5").string();
  write_model_checkpoint(out, m, MPI_COMM_SELF);
  return out;
}

// `tessera generate` with model.init_from = base and model.adapter = adapter.
CommandResult generate_with(const fs::path& dir, const std::string& base, const std::string& adapter,
                            const std::string& extra = "", const std::string& args = "") {
  static int n = 0;
  const fs::path cfg = dir / ("gen" + std::to_string(n++) + ".toml");
  write_file(cfg, "[model]\ninit_from = \"" + base + "\"\n" + (adapter.empty() ? "" : "adapter = \"" + adapter + "\"\n") +
                      extra + "[data]\npath = \"unused.h5\"\n[run]\ndir = \"" + (dir / "run").string() + "\"\n");
  return run_tessera("generate " + cfg.string() + " --tokenizer byte --prompt a --max-new-tokens 1 " + args);
}

void expect_failure(const CommandResult& r, std::initializer_list<std::string> needles) {
  EXPECT_NE(r.exit_code, 0) << r.output;
  for (const std::string& n : needles) EXPECT_NE(r.output.find(n), std::string::npos) << "'" << n << "' not in: " << r.output;
}

}  // namespace

TEST(AdapterBadInput, MissingOrWrongFiles) {
  const fs::path dir = fresh_dir("adapter_bad_files");
  const std::string base = import_base("tiny_gpt2", dir);
  expect_failure(generate_with(dir, base, (dir / "nope").string()), {(dir / "nope").string(), "no such adapter file or directory"});
  const fs::path no_st = copy_peft("gpt2_causal_lm", dir / "a");
  fs::remove(no_st / "adapter_model.safetensors");
  expect_failure(generate_with(dir, base, no_st.string()), {no_st.string(), "no adapter_model.safetensors"});
  const fs::path no_json = copy_peft("gpt2_causal_lm", dir / "b");
  fs::remove(no_json / "adapter_config.json");
  expect_failure(generate_with(dir, base, no_json.string()), {no_json.string(), "no adapter_config.json"});
  write_file(dir / "text.h5", "not hdf5 at all");
  expect_failure(generate_with(dir, base, (dir / "text.h5").string()), {(dir / "text.h5").string(), "not an adapter"});
  // A base model (no [lora]) is no adapter.
  expect_failure(generate_with(dir, base, base), {base, "not a LoRA run"});
  const fs::path bad_json = copy_peft("gpt2_causal_lm", dir / "c");
  write_file(bad_json / "adapter_config.json", "{\"r\": 2,");
  expect_failure(generate_with(dir, base, bad_json.string()), {"adapter_config.json", "not valid JSON"});
}

TEST(AdapterBadInput, UnsupportedPeftOptionsAreRefusedByName) {
  const fs::path dir = fresh_dir("adapter_bad_options");
  const std::string base = import_base("tiny_gpt2", dir);
  struct Case {
    std::string key;
    nlohmann::json value;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {"use_dora", true, "use_dora = true: DoRA"},
      {"bias", "all", "bias = \"all\""},
      {"lora_bias", true, "lora_bias = true"},
      {"rank_pattern", {{"c_attn", 4}}, "rank_pattern: per-layer ranks"},
      {"alpha_pattern", {{"c_attn", 4}}, "alpha_pattern"},
      {"peft_type", "IA3", "peft_type = \"IA3\": only LORA"},
      {"task_type", "SEQ_CLS", "task_type = \"SEQ_CLS\" is for a model with head sequence_classification"},
      {"r", "two", "r: a positive integer"},
      {"target_parameters", {"mlp.experts.gate_up_proj"}, "target_parameters: not supported"},
  };
  for (const Case& c : cases) {
    const fs::path d = copy_peft("gpt2_causal_lm", dir / c.key);
    edit_json(d, [&](nlohmann::json& j) { j[c.key] = c.value; });
    expect_failure(generate_with(dir, base, d.string()), {(d / "adapter_config.json").string(), c.needle});
  }
  // fan_in_fan_out is GPT-2's (Conv1D); on Llama's nn.Linear it would transpose the update.
  const std::string llama = import_base("tiny_llama", dir);
  const fs::path f = copy_peft("llama_causal_lm", dir / "fan");
  edit_json(f, [](nlohmann::json& j) { j["fan_in_fan_out"] = true; });
  expect_failure(generate_with(dir, llama, f.string()), {"adapter_config.json", "fan_in_fan_out = true", "llama"});
  // A [lora] key that contradicts the adapter.
  expect_failure(generate_with(dir, base, peft_fixture("gpt2_causal_lm"), "[lora]\nr = 4\n"),
                 {"lora.r = 4 differs from the adapter's 2", "model.adapter = "});
}

TEST(AdapterBadInput, AdapterForAnotherBaseModelNamesTensorAndShapes) {
  const fs::path dir = fresh_dir("adapter_bad_base");
  const std::string gpt2 = import_base("tiny_gpt2", dir), narrow = narrow_gpt2_base(dir), llama = import_base("tiny_llama", dir);
  // PEFT directory: tensor names and shapes are all it says about its base.
  expect_failure(generate_with(dir, narrow, peft_fixture("gpt2_causal_lm")),
                 {peft_fixture("gpt2_causal_lm"), "tensor h.0.attn.c_attn.lora_A.weight is [2, 64] but this model's is [2, 32]"});
  const fs::path plain = copy_peft("gpt2_causal_lm", dir / "linear");
  edit_json(plain, [](nlohmann::json& j) { j["fan_in_fan_out"] = false; });
  expect_failure(generate_with(dir, llama, plain.string()),
                 {plain.string(), "tensor transformer.h.0.attn.c_attn.lora_A.weight [2, 64] is not a parameter of this model"});
  // Tessera adapter file: its stored base model is compared with this one.
  const std::string file = (dir / "adapter.h5").string();
  auto imp = run_tessera("import --adapter --from " + peft_fixture("gpt2_causal_lm") + " --base " + gpt2 + " --out " + file);
  ASSERT_EQ(imp.exit_code, 0) << imp.output;
  expect_failure(generate_with(dir, narrow, file),
                 {file, "base model differs: wte.weight is [1000, 64] in the adapter's base model but [1000, 32] in this model"});
  expect_failure(generate_with(dir, llama, file), {file, "an adapter for a gpt2 base model; this model is llama"});
  // import --adapter checks against --base too.
  auto bad = run_tessera("import --adapter --from " + peft_fixture("gpt2_causal_lm") + " --base " + narrow + " --out " +
                         (dir / "x.h5").string());
  expect_failure(bad, {"tensor h.0.attn.c_attn.lora_A.weight is [2, 64] but this model's is [2, 32]"});
  expect_failure(run_tessera("import --adapter --from " + peft_fixture("gpt2_causal_lm") + " --out " + (dir / "y.h5").string()),
                 {"--base BASE.h5", "required"});
  // A layer the targets adapt but the file lacks.
  const fs::path d = copy_peft("gpt2_causal_lm", dir / "partial");
  auto t = hf_test::read_all((d / "adapter_model.safetensors").string());
  t.erase("base_model.model.transformer.h.1.mlp.c_proj.lora_B.weight");
  write_safetensors((d / "adapter_model.safetensors").string(), t);
  expect_failure(generate_with(dir, gpt2, d.string()), {d.string(), "has no tensor h.1.mlp.c_proj.lora_B.weight"});
}

TEST(AdapterBadInput, LoraTargetMatchingNothingAndRankLargerThanLayerThroughCli) {
  const fs::path dir = fresh_dir("adapter_bad_lora");
  const std::string base = import_base("tiny_gpt2", dir);
  expect_failure(generate_with(dir, base, "", "[lora]\nr = 2\ntargets = [\"qproj\"]\n", "--checkpoint " + base),
                 {"lora.targets: 'qproj' matches no linear layer"});
  expect_failure(generate_with(dir, base, "", "[lora]\nr = 65\ntargets = [\"c_attn\"]\n", "--checkpoint " + base),
                 {"lora.r = 65 is larger than layer h.0.attn.c_attn [192 × 64]"});
}
