// Tessera's forward against Hugging Face transformers' outputs (fixtures made once
// by scripts/tools/make_hf_fixtures.py with torch/transformers; versions in
// tests/fixtures/hf/README.md), all in float32 on one rank:
//   MiniLM-L6 (real weights)  last_hidden_state and pooler_output, padded batch   ≤ 1e-4 abs
//   tiny GPT-2 / Llama (GQA)  logits                                              ≤ 1e-5 · max(1, max|ref|)
//   tiny BERT / RoBERTa       last_hidden_state (+ BERT pooler), real tokens      ≤ 1e-5 · max(1, max|ref|)
//   SmolLM2-135M (Q4_1 GGUF)  last-position logits of 3 prompts                   ≤ 1e-3 · max(1, max|ref|)
//                             greedy 20-token continuation                        identical ids
// The grid versions (tp = 2, pp = 2) are in mpi_np2_minilm_grid.cpp.
#include <gtest/gtest.h>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include "hf_model_runner.hpp"
#include "hf_test_util.hpp"
#include "io/gguf.hpp"
#include "src/tasks/text_generation.hpp"

using namespace tessera;
using namespace hf_test;

namespace {

// Hidden states (or logits) of a fixture model for the reference's inputs.
struct RunOut {
  std::vector<float> out, pooler;
  std::vector<int32_t> mask;
  int B = 0, T = 0;
};

RunOut run_fixture(const ImportedModel& m, const SafetensorsFile& ref) {
  Transformer<float> model(m.config);
  load_imported(model, m);
  RunOut r;
  const std::vector<int32_t> ids = read_i32(ref, "input_ids");
  r.B = int(ref.info("input_ids").shape[0]);
  r.T = int(ref.info("input_ids").shape[1]);
  ModelInputs in;
  in.tokens = ids.data();
  std::vector<int32_t> types;
  if (ref.contains("attention_mask")) {
    r.mask = read_i32(ref, "attention_mask");
    in.attention_mask = r.mask.data();
  }
  if (ref.contains("token_type_ids")) {
    types = read_i32(ref, "token_type_ids");
    in.token_types = types.data();
  }
  model.forward(in, r.B, r.T, ForwardOptions{});
  r.out = host_vector(m.config.head == HeadKind::CausalLM ? model.logits() : model.hidden_states());
  if (m.config.pooler) r.pooler = host_vector(model.pooler_output());
  return r;
}

// keep[i] for [B,T,C] elements whose token is real (mask 1).
std::vector<bool> real_tokens(const std::vector<int32_t>& mask, int64_t C) {
  std::vector<bool> keep;
  for (int32_t m : mask)
    for (int64_t c = 0; c < C; ++c) keep.push_back(m != 0);
  return keep;
}

void expect_close(const std::string& what, const Diff& d, double tol) {
  std::printf("%s: max|tessera - hf| = %.3g (max|hf| = %.3g, tolerance %.3g)\n", what.c_str(), d.max_abs, d.max_ref,
              tol);
  EXPECT_LE(d.max_abs, tol) << what;
  EXPECT_GT(d.max_ref, 0) << what << ": empty reference";
}

}  // namespace

TEST(HfModelParity, MiniLmHiddenStatesAndPooler) {
  const std::string dir = asset("minilm");
  ASSERT_TRUE(std::filesystem::exists(dir + "/model.safetensors")) << dir << " missing: run scripts/fetch_assets.sh";
  const ImportedModel m = import_hf_directory(dir);
  ASSERT_EQ(m.config.family, Family::BERT);
  ASSERT_TRUE(m.config.pooler);
  const SafetensorsFile ref = SafetensorsFile::open(hf_fixture("minilm_hidden.safetensors"));
  const RunOut r = run_fixture(m, ref);
  EXPECT_GT(std::count(r.mask.begin(), r.mask.end(), 0), 0) << "the fixture batch should have padding";
  // BERT positions do not depend on the mask: padded rows are compared too.
  expect_close("MiniLM last_hidden_state", compare(r.out, ref.read_f32("last_hidden_state")), 1e-4);
  expect_close("MiniLM pooler_output", compare(r.pooler, ref.read_f32("pooler_output")), 1e-4);
}

TEST(HfModelParity, TinyGpt2Logits) {
  const ImportedModel m = import_hf_directory(hf_fixture("tiny_gpt2"));
  const SafetensorsFile ref = SafetensorsFile::open(hf_fixture("tiny_gpt2/reference.safetensors"));
  const Diff d = compare(run_fixture(m, ref).out, ref.read_f32("logits"));
  expect_close("tiny GPT-2 logits", d, 1e-5 * std::max(1.0, d.max_ref));
}

TEST(HfModelParity, TinyLlamaGqaLogits) {
  const ImportedModel m = import_hf_directory(hf_fixture("tiny_llama"));
  ASSERT_EQ(m.config.kv_heads(), 2);
  ASSERT_FALSE(m.config.tie_word_embeddings);
  const SafetensorsFile ref = SafetensorsFile::open(hf_fixture("tiny_llama/reference.safetensors"));
  const Diff d = compare(run_fixture(m, ref).out, ref.read_f32("logits"));
  expect_close("tiny Llama logits", d, 1e-5 * std::max(1.0, d.max_ref));
}

TEST(HfModelParity, TinyBertHiddenStatesAndPooler) {
  const ImportedModel m = import_hf_directory(hf_fixture("tiny_bert"));
  const SafetensorsFile ref = SafetensorsFile::open(hf_fixture("tiny_bert/reference.safetensors"));
  const RunOut r = run_fixture(m, ref);
  const Diff d = compare(r.out, ref.read_f32("last_hidden_state"), real_tokens(r.mask, m.config.n_embd));
  expect_close("tiny BERT last_hidden_state", d, 1e-5 * std::max(1.0, d.max_ref));
  const Diff p = compare(r.pooler, ref.read_f32("pooler_output"));
  expect_close("tiny BERT pooler_output", p, 1e-5 * std::max(1.0, p.max_ref));
}

TEST(HfModelParity, TinyRobertaHiddenStates) {
  const ImportedModel m = import_hf_directory(hf_fixture("tiny_roberta"));
  ASSERT_EQ(m.config.family, Family::RoBERTa);
  ASSERT_EQ(m.config.position_offset, 2);
  const SafetensorsFile ref = SafetensorsFile::open(hf_fixture("tiny_roberta/reference.safetensors"));
  const RunOut r = run_fixture(m, ref);
  // Padding rows get position padding_idx in HF: only real tokens are compared.
  const Diff d = compare(r.out, ref.read_f32("last_hidden_state"), real_tokens(r.mask, m.config.n_embd));
  expect_close("tiny RoBERTa last_hidden_state", d, 1e-5 * std::max(1.0, d.max_ref));
}

TEST(HfModelParity, SmolLm2LogitsAndGreedyContinuation) {
  std::string gguf;
  if (std::filesystem::exists(asset("smollm2")))
    for (const auto& e : std::filesystem::directory_iterator(asset("smollm2")))
      if (e.path().extension() == ".gguf") gguf = e.path().string();
  ASSERT_FALSE(gguf.empty()) << asset("smollm2") << ": no .gguf: run scripts/fetch_gguf.sh";
  const ImportedModel m = import_gguf(gguf);
  Transformer<float> model(m.config);
  load_imported(model, m);
  const SafetensorsFile ref = SafetensorsFile::open(hf_fixture("smollm2_reference.safetensors"));
  const std::vector<float> last = ref.read_f32("last_logits");
  const int64_t V = m.config.vocab_size;
  for (int p = 0; p < 3; ++p) {
    const std::vector<int32_t> ids = read_i32(ref, "prompt" + std::to_string(p) + "_ids");
    model.forward(ids.data(), nullptr, 1, int(ids.size()), ForwardOptions{});
    const std::vector<float> all = host_vector(model.logits());
    const std::vector<float> mine(all.end() - V, all.end());
    const std::vector<float> want(last.begin() + p * V, last.begin() + (p + 1) * V);
    const Diff d = compare(mine, want);
    expect_close("SmolLM2 prompt " + std::to_string(p) + " last logits", d, 1e-3 * std::max(1.0, d.max_ref));
  }
  GenerationOptions o;
  o.max_new_tokens = 20;
  o.sampling.temperature = 0;
  const std::vector<int32_t> prompt = read_i32(ref, "prompt0_ids");
  const GenerationResult g = generate_tokens(model, prompt, o);
  const std::vector<int32_t> want = read_i32(ref, "greedy_ids");
  const std::vector<int32_t> got(g.tokens.begin() + int64_t(prompt.size()), g.tokens.end());
  EXPECT_EQ(got, want);
}
