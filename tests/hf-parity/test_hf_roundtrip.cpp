// tessera import / export: HF directory → Tessera checkpoint → HF directory gives the
// same tensors bit for bit (tiny GPT-2/BERT/RoBERTa/Llama fixtures saved by transformers,
// the real MiniLM), GPT-2 Conv1D transposes checked by plain loops, sharded checkpoints,
// config.json round trips, GGUF q/k un-permutation against the index formula, and the
// real SmolLM2 GGUF's config and shapes.
#include <mpi.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "hf_test_util.hpp"
#include "io/gguf.hpp"
#include "io/hf_checkpoint.hpp"
#include "io/hf_config.hpp"
#include "io/hf_param_names.hpp"
#include "io/model_checkpoint.hpp"

using namespace tessera;
using namespace hf_test;
namespace fs = std::filesystem;

namespace {

bool is_buffer_name(const std::string& n) {
  auto ends = [&](const std::string& s) { return n.size() >= s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0; };
  return ends(".attn.bias") || ends(".attn.masked_bias") || ends("position_ids") || ends("inv_freq");
}

// HF dir → Tessera checkpoint → HF dir; every source tensor (buffers aside) comes back
// under the same name with the same shape and bit-identical float32 values.
ImportedModel round_trip(const std::string& src_dir, const std::string& name) {
  const fs::path work = tessera_test::fresh_dir("hf_roundtrip_" + name);
  const ImportedModel m = import_hf_directory(src_dir);
  const std::string ckpt = (work / "model.h5").string();
  write_model_checkpoint(ckpt, m, MPI_COMM_WORLD);
  EXPECT_FALSE(fs::exists(ckpt + ".import.d"));
  const ImportedModel back = read_model_checkpoint(ckpt, MPI_COMM_WORLD);
  EXPECT_EQ(back.tensors.size(), m.tensors.size());
  for (const auto& [n, t] : m.tensors) {
    if (!back.tensors.count(n)) {
      ADD_FAILURE() << "checkpoint lacks " << n;
      continue;
    }
    EXPECT_EQ(back.tensors.at(n).shape, t.shape) << n;
    EXPECT_TRUE(bit_equal(back.tensors.at(n).data, t.data)) << n;
  }
  const fs::path out = work / "hf";
  export_hf_directory(out.string(), back);

  const auto src = read_all(src_dir + "/model.safetensors");
  const auto dst = read_all((out / "model.safetensors").string());
  size_t compared = 0;
  for (const auto& [n, t] : src) {
    if (is_buffer_name(n)) continue;
    if (n == "lm_head.weight" && m.config.tie_word_embeddings) continue;
    auto it = dst.find(n);
    if (it == dst.end()) {
      ADD_FAILURE() << name << ": exported checkpoint lacks " << n;
      continue;
    }
    EXPECT_EQ(it->second.shape, t.shape) << n;
    EXPECT_TRUE(bit_equal(it->second.data, t.data)) << name << ": " << n << " differs";
    ++compared;
  }
  EXPECT_EQ(compared, dst.size()) << name << ": the export has tensors the source lacks";
  EXPECT_EQ(SafetensorsFile::open((out / "model.safetensors").string()).info(dst.begin()->first).dtype, StDtype::F32);

  // config.json: the exported one describes the same model.
  const TransformerConfig a = load_hf_config(src_dir + "/config.json");
  const TransformerConfig b = load_hf_config((out / "config.json").string());
  EXPECT_EQ(a.family, b.family);
  EXPECT_EQ(a.head, b.head);
  EXPECT_EQ(a.n_layer, b.n_layer);
  EXPECT_EQ(a.n_head, b.n_head);
  EXPECT_EQ(a.kv_heads(), b.kv_heads());
  EXPECT_EQ(a.n_embd, b.n_embd);
  EXPECT_EQ(a.ffn_dim(), b.ffn_dim());
  EXPECT_EQ(a.n_positions, b.n_positions);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.type_vocab_size, b.type_vocab_size);
  EXPECT_EQ(a.position_offset, b.position_offset);
  EXPECT_EQ(a.layer_norm_epsilon, b.layer_norm_epsilon);
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
  EXPECT_EQ(a.attn_pdrop, b.attn_pdrop);
  EXPECT_EQ(a.resid_pdrop, b.resid_pdrop);
  return m;
}

}  // namespace

TEST(HfRoundTrip, TinyGpt2BitIdenticalAndConv1DTransposed) {
  const ImportedModel m = round_trip(hf_fixture("tiny_gpt2"), "gpt2");
  const TransformerConfig& c = m.config;
  EXPECT_EQ(c.family, Family::GPT2);
  EXPECT_EQ(c.head, HeadKind::CausalLM);
  EXPECT_EQ(c.n_layer, 2);
  EXPECT_EQ(c.n_head, 4);
  EXPECT_EQ(c.n_embd, 64);
  EXPECT_EQ(c.ffn_dim(), 256);
  EXPECT_EQ(c.n_positions, 64);
  EXPECT_EQ(c.vocab_size, 1000);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(m.tensors.count("lm_head.weight"));
  // Conv1D [in, out] in the file, [out, in] in Tessera: element (o, i) == file (i, o).
  const auto src = read_all(hf_fixture("tiny_gpt2") + "/model.safetensors");
  for (const char* n : {"h.1.attn.c_attn.weight", "h.0.mlp.c_fc.weight", "h.0.mlp.c_proj.weight"}) {
    const FloatTensor& t = m.tensors.at(n);
    const SafetensorsTensor& s = src.at(std::string("transformer.") + n);
    ASSERT_EQ(t.shape[0], s.shape[1]);
    ASSERT_EQ(t.shape[1], s.shape[0]);
    for (int64_t o = 0; o < t.shape[0]; ++o)
      for (int64_t i = 0; i < t.shape[1]; ++i)
        ASSERT_EQ(t.data[size_t(o * t.shape[1] + i)], s.data[size_t(i * s.shape[1] + o)]) << n;
  }
  EXPECT_EQ(m.tensors.at("h.0.attn.c_attn.weight").shape, (std::vector<int64_t>{192, 64}));
}

TEST(HfRoundTrip, TinyBertBitIdentical) {
  const ImportedModel m = round_trip(hf_fixture("tiny_bert"), "bert");
  EXPECT_EQ(m.config.family, Family::BERT);
  EXPECT_EQ(m.config.head, HeadKind::None);
  EXPECT_TRUE(m.config.pooler);
  EXPECT_EQ(m.config.type_vocab_size, 2);
  EXPECT_EQ(m.config.ffn_dim(), 128);
  EXPECT_EQ(m.tensors.at("embeddings.token_type_embeddings.weight").shape, (std::vector<int64_t>{2, 64}));
}

TEST(HfRoundTrip, TinyRobertaBitIdentical) {
  const ImportedModel m = round_trip(hf_fixture("tiny_roberta"), "roberta");
  EXPECT_EQ(m.config.family, Family::RoBERTa);
  EXPECT_EQ(m.config.position_offset, 2);
  EXPECT_EQ(m.config.pad_token_id, 1);
  EXPECT_EQ(m.config.n_positions, 64);  // usable positions; the table has 64 + offset 2 = 66 rows
  EXPECT_EQ(m.config.type_vocab_size, 1);
  EXPECT_TRUE(m.config.pooler);  // RobertaModel saves its pooler
}

TEST(HfRoundTrip, TinyLlamaBitIdenticalUntiedGqa) {
  const ImportedModel m = round_trip(hf_fixture("tiny_llama"), "llama");
  const TransformerConfig& c = m.config;
  EXPECT_EQ(c.family, Family::Llama);
  EXPECT_EQ(c.n_head, 4);
  EXPECT_EQ(c.kv_heads(), 2);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.layer_norm_epsilon, 1e-5);
  EXPECT_EQ(m.tensors.at("layers.0.self_attn.k_proj.weight").shape, (std::vector<int64_t>{32, 64}));
  EXPECT_EQ(m.tensors.at("lm_head.weight").shape, (std::vector<int64_t>{1000, 64}));
}

TEST(HfRoundTrip, RealMiniLmBitIdentical) {
  const std::string dir = asset("minilm");
  if (!fs::exists(dir + "/model.safetensors")) GTEST_SKIP() << "run scripts/fetch_assets.sh";
  const ImportedModel m = round_trip(dir, "minilm");
  EXPECT_EQ(m.config.n_layer, 6);
  EXPECT_EQ(m.config.n_embd, 384);
  EXPECT_EQ(m.config.n_head, 12);
  EXPECT_TRUE(m.config.pooler);
}

TEST(HfRoundTrip, ShardedIndexAndLegacyNamesImportLikeOneFile) {
  // tiny_bert split over two shards, one LayerNorm in the old gamma/beta names, plus the
  // position_ids buffer and a BertForPreTraining head that are dropped.
  const auto src = read_all(hf_fixture("tiny_bert") + "/model.safetensors");
  const fs::path dir = tessera_test::fresh_dir("hf_sharded");
  std::map<std::string, SafetensorsTensor> a, b;
  nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
  size_t i = 0;
  for (auto [n, t] : src) {
    std::string name = n;
    if (name == "embeddings.LayerNorm.weight") name = "embeddings.LayerNorm.gamma";
    if (name == "embeddings.LayerNorm.bias") name = "embeddings.LayerNorm.beta";
    name = "bert." + name;
    (i++ % 2 ? b : a).emplace(name, t);
    index["weight_map"][name] = i % 2 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  SafetensorsTensor ids;
  ids.shape = {1, 64};
  ids.data.assign(64, 0.0f);
  a.emplace("bert.embeddings.position_ids", ids);
  index["weight_map"]["bert.embeddings.position_ids"] = "model-00001-of-00002.safetensors";
  SafetensorsTensor cls;
  cls.shape = {1000};
  cls.data.assign(1000, 0.5f);
  b.emplace("cls.predictions.bias", cls);
  index["weight_map"]["cls.predictions.bias"] = "model-00002-of-00002.safetensors";
  write_safetensors((dir / "model-00001-of-00002.safetensors").string(), a);
  write_safetensors((dir / "model-00002-of-00002.safetensors").string(), b);
  tessera_test::write_file(dir / "model.safetensors.index.json", index.dump());
  nlohmann::json cfg = nlohmann::json::parse(tessera_test::read_file(hf_fixture("tiny_bert") + "/config.json"));
  cfg["architectures"] = {"BertForPreTraining"};
  tessera_test::write_file(dir / "config.json", cfg.dump());

  const ImportedModel sharded = import_hf_directory(dir.string());
  const ImportedModel single = import_hf_directory(hf_fixture("tiny_bert"));
  ASSERT_EQ(sharded.tensors.size(), single.tensors.size());
  for (const auto& [n, t] : single.tensors) {
    ASSERT_TRUE(sharded.tensors.count(n)) << n;
    EXPECT_TRUE(bit_equal(sharded.tensors.at(n).data, t.data)) << n;
  }
  EXPECT_EQ(sharded.dropped, (std::vector<std::string>{"bert.embeddings.position_ids", "cls.predictions.bias"}));
}

TEST(HfRoundTrip, TaskHeadsUseHfNamesAndPrefixes) {
  // A BertForSequenceClassification made from tiny_bert: classifier.* top level, bert.*
  // backbone; exported under the same names; config.json keeps the label count.
  const auto src = read_all(hf_fixture("tiny_bert") + "/model.safetensors");
  const fs::path dir = tessera_test::fresh_dir("hf_seqcls");
  std::map<std::string, SafetensorsTensor> t;
  for (const auto& [n, v] : src) t.emplace("bert." + n, v);
  SafetensorsTensor w, bias;
  w.shape = {3, 64};
  w.data = values(3 * 64, 7);
  bias.shape = {3};
  bias.data = values(3, 8);
  t.emplace("classifier.weight", w);
  t.emplace("classifier.bias", bias);
  write_safetensors((dir / "model.safetensors").string(), t);
  nlohmann::json cfg = nlohmann::json::parse(tessera_test::read_file(hf_fixture("tiny_bert") + "/config.json"));
  cfg["architectures"] = {"BertForSequenceClassification"};
  cfg["id2label"] = {{"0", "neg"}, {"1", "neu"}, {"2", "pos"}};
  tessera_test::write_file(dir / "config.json", cfg.dump());

  const ImportedModel m = round_trip(dir.string(), "bert_seqcls");
  EXPECT_EQ(m.config.head, HeadKind::SequenceClassification);
  EXPECT_EQ(m.config.num_labels, 3);
  EXPECT_TRUE(bit_equal(m.tensors.at("classifier.weight").data, w.data));
  EXPECT_EQ(hf_architecture(m.config), "BertForSequenceClassification");
}

TEST(HfRoundTrip, ConfigJsonRoundTripsEveryFamilyAndHead) {
  for (Family f : {Family::GPT2, Family::BERT, Family::RoBERTa, Family::Llama})
    for (HeadKind h : {HeadKind::CausalLM, HeadKind::SequenceClassification, HeadKind::TokenClassification,
                       HeadKind::QuestionAnswering, HeadKind::None}) {
      TransformerConfig c;
      c.family = f;
      c.head = h;
      c.n_layer = 3;
      c.n_head = 6;
      c.n_kv_head = f == Family::Llama ? 2 : 0;
      c.n_embd = 96;
      c.n_inner = 200;
      c.n_positions = 77;
      c.vocab_size = 321;
      c.type_vocab_size = f == Family::BERT ? 2 : (f == Family::RoBERTa ? 1 : 0);
      c.pad_token_id = f == Family::RoBERTa ? 1 : 0;
      c.layer_norm_epsilon = 1e-7;
      c.rope_theta = 123456.5;
      c.attn_pdrop = 0.125;
      c.resid_pdrop = c.embd_pdrop = f == Family::Llama ? 0.0 : 0.25;
      c.tie_word_embeddings = f != Family::Llama;
      c.num_labels = 5;
      apply_family_defaults(c);
      if (c.is_encoder() && h == HeadKind::CausalLM) continue;
      if (f == Family::Llama) c.tie_word_embeddings = false;
      const TransformerConfig b = parse_hf_config(hf_config_json(c), "exported");
      const std::string what = std::string(family_name(f)) + "/" + head_name(h);
      EXPECT_EQ(b.family, c.family) << what;
      EXPECT_EQ(b.head, c.head) << what;
      EXPECT_EQ(b.n_layer, 3) << what;
      EXPECT_EQ(b.n_head, 6) << what;
      EXPECT_EQ(b.kv_heads(), c.kv_heads()) << what;
      EXPECT_EQ(b.n_embd, 96) << what;
      EXPECT_EQ(b.ffn_dim(), 200) << what;
      EXPECT_EQ(b.n_positions, 77) << what;
      EXPECT_EQ(b.vocab_size, 321) << what;
      EXPECT_EQ(b.type_vocab_size, c.type_vocab_size) << what;
      EXPECT_EQ(b.position_offset, c.position_offset) << what;
      EXPECT_EQ(b.layer_norm_epsilon, 1e-7) << what;
      EXPECT_EQ(b.attn_pdrop, 0.125) << what;
      EXPECT_EQ(b.resid_pdrop, c.resid_pdrop) << what;
      EXPECT_EQ(b.tie_word_embeddings, c.tie_word_embeddings) << what;
      if (f == Family::Llama) EXPECT_EQ(b.rope_theta, 123456.5) << what;
      if (h == HeadKind::SequenceClassification || h == HeadKind::TokenClassification)
        EXPECT_EQ(b.num_labels, 5) << what;
      // and through the checkpoint's [model] TOML
      const TransformerConfig t = parse_imported_model_toml(imported_model_toml(c), "toml");
      EXPECT_EQ(imported_model_toml(t), imported_model_toml(c)) << what;
    }
}

TEST(HfRoundTrip, RopePermutationMatchesIndexFormula) {
  // HF[h*2d + r] = GGUF[h*2d + 2r] (r < d), GGUF[h*2d + 2(r-d) + 1] (r >= d).
  const int n_head = 3, hd = 8, d = hd / 2, cols = 5, rows = n_head * hd;
  const std::vector<float> gguf = values(size_t(rows * cols), 3);
  const std::vector<float> hf = unpermute_rope_rows(gguf, rows, cols, n_head);
  for (int h = 0; h < n_head; ++h)
    for (int r = 0; r < hd; ++r) {
      const int src = h * hd + (r < d ? 2 * r : 2 * (r - d) + 1);
      for (int c = 0; c < cols; ++c) ASSERT_EQ(hf[size_t((h * hd + r) * cols + c)], gguf[size_t(src * cols + c)]);
    }
  EXPECT_TRUE(bit_equal(permute_rope_rows(hf, rows, cols, n_head), gguf));
}

TEST(HfRoundTrip, SyntheticGgufImportsLikeHf) {
  // A Llama written the way convert_hf_to_gguf.py writes it (q/k permuted by the index
  // formula, llama.cpp names) imports to the HF tensors; untied output, GQA.
  const int L = 2, C = 16, H = 4, KV = 2, F = 24, V = 11, hd = C / H;
  std::map<std::string, FloatTensor> hf;
  GgufWriter g;
  g.string("general.architecture", "llama");
  g.u32("llama.block_count", L);
  g.u32("llama.embedding_length", C);
  g.u32("llama.attention.head_count", H);
  g.u32("llama.attention.head_count_kv", KV);
  g.u32("llama.feed_forward_length", F);
  g.u32("llama.context_length", 128);
  g.f32("llama.rope.freq_base", 50000.0f);
  g.f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  uint32_t seed = 10;
  auto add = [&](const std::string& tname, const std::string& gname, std::vector<int64_t> shape, int perm_heads) {
    FloatTensor t;
    t.shape = shape;
    t.data = values(size_t(shape.size() == 1 ? shape[0] : shape[0] * shape[1]), seed++);
    std::vector<float> stored = t.data;
    if (perm_heads > 0) {  // GGUF row R = HF row of (h, j = R % 2, i = (R % hd) / 2)
      for (int64_t R = 0; R < shape[0]; ++R) {
        const int64_t h = R / hd, i = (R % hd) / 2, j = R % 2;
        const int64_t src = h * hd + j * (hd / 2) + i;
        std::copy(t.data.begin() + src * shape[1], t.data.begin() + (src + 1) * shape[1], stored.begin() + R * shape[1]);
      }
    }
    g.tensor_f32(gname, shape, stored);
    hf.emplace(tname, std::move(t));
  };
  add("embed_tokens.weight", "token_embd.weight", {V, C}, 0);
  for (int l = 0; l < L; ++l) {
    const std::string t = "layers." + std::to_string(l) + ".", b = "blk." + std::to_string(l) + ".";
    add(t + "input_layernorm.weight", b + "attn_norm.weight", {C}, 0);
    add(t + "self_attn.q_proj.weight", b + "attn_q.weight", {C, C}, H);
    add(t + "self_attn.k_proj.weight", b + "attn_k.weight", {KV * hd, C}, KV);
    add(t + "self_attn.v_proj.weight", b + "attn_v.weight", {KV * hd, C}, 0);
    add(t + "self_attn.o_proj.weight", b + "attn_output.weight", {C, C}, 0);
    add(t + "post_attention_layernorm.weight", b + "ffn_norm.weight", {C}, 0);
    add(t + "mlp.gate_proj.weight", b + "ffn_gate.weight", {F, C}, 0);
    add(t + "mlp.up_proj.weight", b + "ffn_up.weight", {F, C}, 0);
    add(t + "mlp.down_proj.weight", b + "ffn_down.weight", {C, F}, 0);
  }
  add("norm.weight", "output_norm.weight", {C}, 0);
  add("lm_head.weight", "output.weight", {V, C}, 0);
  const fs::path dir = tessera_test::fresh_dir("hf_gguf_synthetic");
  const std::string path = (dir / "tiny.gguf").string();
  tessera_test::write_file(path, g.bytes());

  const ImportedModel m = import_pretrained(path);
  EXPECT_EQ(m.config.family, Family::Llama);
  EXPECT_EQ(m.config.kv_heads(), KV);
  EXPECT_EQ(m.config.ffn_dim(), F);
  EXPECT_EQ(m.config.vocab_size, V);
  EXPECT_EQ(m.config.rope_theta, 50000.0);
  EXPECT_FALSE(m.config.tie_word_embeddings);
  ASSERT_EQ(m.tensors.size(), hf.size());
  for (const auto& [n, t] : hf) {
    ASSERT_TRUE(m.tensors.count(n)) << n;
    EXPECT_EQ(m.tensors.at(n).shape, t.shape) << n;
    EXPECT_TRUE(bit_equal(m.tensors.at(n).data, t.data)) << n;
  }
}

TEST(HfRoundTrip, SmolLm2GgufConfigAndShapes) {
  const std::string path = asset("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
  if (!fs::exists(path)) GTEST_SKIP() << "run scripts/fetch_gguf.sh";
  const ImportedModel m = import_pretrained(path);
  const TransformerConfig& c = m.config;
  EXPECT_EQ(c.family, Family::Llama);
  EXPECT_EQ(c.head, HeadKind::CausalLM);
  EXPECT_EQ(c.n_layer, 30);
  EXPECT_EQ(c.n_embd, 576);
  EXPECT_EQ(c.n_head, 9);
  EXPECT_EQ(c.kv_heads(), 3);
  EXPECT_EQ(c.ffn_dim(), 1536);
  EXPECT_EQ(c.vocab_size, 49152);
  EXPECT_EQ(c.n_positions, 8192);
  EXPECT_EQ(c.rope_theta, 100000.0);
  EXPECT_EQ(c.layer_norm_epsilon, double(1e-5f));
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(m.tensors.size(), size_t(2 + 30 * 9));
  EXPECT_FALSE(m.tensors.count("lm_head.weight"));
  EXPECT_EQ(m.tensors.at("embed_tokens.weight").shape, (std::vector<int64_t>{49152, 576}));
  EXPECT_EQ(m.tensors.at("layers.29.self_attn.q_proj.weight").shape, (std::vector<int64_t>{576, 576}));
  EXPECT_EQ(m.tensors.at("layers.0.self_attn.k_proj.weight").shape, (std::vector<int64_t>{192, 576}));
  EXPECT_EQ(m.tensors.at("layers.0.mlp.down_proj.weight").shape, (std::vector<int64_t>{576, 1536}));
  // q/k rows un-permuted from the dequantised GGUF rows by the index formula; v as is.
  const GgufFile f = GgufFile::open(path);
  for (const auto& [g, t, heads] : {std::tuple<const char*, const char*, int>{"blk.3.attn_q.weight", "layers.3.self_attn.q_proj.weight", 9},
                                    {"blk.3.attn_k.weight", "layers.3.self_attn.k_proj.weight", 3},
                                    {"blk.3.attn_v.weight", "layers.3.self_attn.v_proj.weight", 0}}) {
    const std::vector<float> raw = f.read_f32(g);
    const std::vector<float>& got = m.tensors.at(t).data;
    const int64_t rows = m.tensors.at(t).shape[0], cols = 576;
    for (int64_t r = 0; r < rows; ++r) {
      int64_t src = r;
      if (heads > 0) {
        const int64_t hd = rows / heads, d = hd / 2, h = r / hd, rr = r % hd;
        src = h * hd + (rr < d ? 2 * rr : 2 * (rr - d) + 1);
      }
      ASSERT_EQ(0, std::memcmp(&got[size_t(r * cols)], &raw[size_t(src * cols)], cols * sizeof(float))) << t << " row " << r;
    }
  }
}
