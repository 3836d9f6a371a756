#include "io/hf_config.hpp"

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "src/runtime/error.hpp"

namespace tessera {

namespace {

using json = nlohmann::json;

constexpr size_t kMaxConfigBytes = 16u << 20;
constexpr int kMaxJsonDepth = 64;
constexpr int64_t kMaxDim = int64_t(1) << 30;
constexpr int64_t kMaxLabels = 65536;

// Maximum nesting of arrays/objects outside strings (no recursion), so that deep input
// is rejected before nlohmann's recursive parser sees it.
int json_depth(const std::string& s) {
  int depth = 0, max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
      if (max_depth > kMaxJsonDepth) return max_depth;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return max_depth;
}

// Typed access to config.json keys; missing or null keys give the default.
struct Keys {
  const json& j;
  const std::string& origin;

  [[noreturn]] void fail(const std::string& key, const std::string& msg) const {
    throw Error(origin + ": " + key + ": " + msg);
  }
  const json* get(const std::string& key) const {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return nullptr;
    return &*it;
  }
  int64_t integer(const std::string& key, int64_t def, int64_t lo, int64_t hi) const {
    const json* v = get(key);
    if (!v) return def;
    int64_t x = 0;
    if (v->is_number_unsigned()) {
      const uint64_t u = v->get<uint64_t>();
      if (u > uint64_t(hi)) fail(key, std::to_string(u) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
      x = int64_t(u);
    } else if (v->is_number_integer()) {
      x = v->get<int64_t>();
    } else {
      fail(key, "must be an integer, got " + std::string(v->type_name()));
    }
    if (x < lo || x > hi)
      fail(key, std::to_string(x) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return x;
  }
  double number(const std::string& key, double def, double lo, double hi) const {
    const json* v = get(key);
    if (!v) return def;
    if (!v->is_number()) fail(key, "must be a number, got " + std::string(v->type_name()));
    const double x = v->get<double>();
    if (!std::isfinite(x) || x < lo || x > hi) {
      std::ostringstream os;
      os << x << " is out of range [" << lo << ", " << hi << "]";
      fail(key, os.str());
    }
    return x;
  }
  bool boolean(const std::string& key, bool def) const {
    const json* v = get(key);
    if (!v) return def;
    if (!v->is_boolean()) fail(key, "must be true or false, got " + std::string(v->type_name()));
    return v->get<bool>();
  }
  std::string string(const std::string& key, const std::string& def) const {
    const json* v = get(key);
    if (!v) return def;
    if (!v->is_string()) fail(key, "must be a string, got " + std::string(v->type_name()));
    return v->get<std::string>();
  }
  // Errors when the key is present with a value other than `expected`.
  void require_bool(const std::string& key, bool expected, const std::string& why) const {
    if (boolean(key, expected) != expected) fail(key, std::string("must be ") + (expected ? "true" : "false") + " (" + why + ")");
  }
  void require_one_of(const std::string& key, const std::string& def, std::initializer_list<const char*> allowed,
                      const std::string& why) const {
    const std::string s = string(key, def);
    std::string list;
    for (const char* a : allowed) {
      if (s == a) return;
      list += std::string(list.empty() ? "" : ", ") + a;
    }
    fail(key, "'" + s + "' is not supported (" + list + "): " + why);
  }
};

struct ArchName {
  Family family;
  const char* name;
  HeadKind head;
};

const ArchName kArchitectures[] = {
    {Family::GPT2, "GPT2LMHeadModel", HeadKind::CausalLM},
    {Family::GPT2, "GPT2Model", HeadKind::None},
    {Family::GPT2, "GPT2ForSequenceClassification", HeadKind::SequenceClassification},
    {Family::GPT2, "GPT2ForTokenClassification", HeadKind::TokenClassification},
    {Family::GPT2, "GPT2ForQuestionAnswering", HeadKind::QuestionAnswering},
    {Family::BERT, "BertModel", HeadKind::None},
    {Family::BERT, "BertForMaskedLM", HeadKind::None},    // pre-training head (cls.*) dropped
    {Family::BERT, "BertForPreTraining", HeadKind::None},
    {Family::BERT, "BertForSequenceClassification", HeadKind::SequenceClassification},
    {Family::BERT, "BertForTokenClassification", HeadKind::TokenClassification},
    {Family::BERT, "BertForQuestionAnswering", HeadKind::QuestionAnswering},
    {Family::RoBERTa, "RobertaModel", HeadKind::None},
    {Family::RoBERTa, "RobertaForMaskedLM", HeadKind::None},  // lm_head.* dropped
    {Family::RoBERTa, "RobertaForSequenceClassification", HeadKind::SequenceClassification},
    {Family::RoBERTa, "RobertaForTokenClassification", HeadKind::TokenClassification},
    {Family::RoBERTa, "RobertaForQuestionAnswering", HeadKind::QuestionAnswering},
    {Family::Llama, "LlamaForCausalLM", HeadKind::CausalLM},
    {Family::Llama, "LlamaModel", HeadKind::None},
    {Family::Llama, "LlamaForSequenceClassification", HeadKind::SequenceClassification},
    {Family::Llama, "LlamaForTokenClassification", HeadKind::TokenClassification},
    {Family::Llama, "LlamaForQuestionAnswering", HeadKind::QuestionAnswering},
};

// Head and label count from architectures[0] (or the family's default without one).
void read_head(const Keys& k, TransformerConfig& c) {
  c.head = c.is_encoder() ? HeadKind::None : HeadKind::CausalLM;
  if (const json* a = k.get("architectures")) {
    if (!a->is_array()) k.fail("architectures", "must be a list of class names");
    if (a->size() != 1)
      k.fail("architectures", "must name exactly one class, got " + std::to_string(a->size()));
    if (!(*a)[0].is_string()) k.fail("architectures", "must be a list of class names");
    const std::string name = (*a)[0].get<std::string>();
    bool found = false;
    std::string known;
    for (const ArchName& an : kArchitectures) {
      if (an.family != c.family) continue;
      known += std::string(known.empty() ? "" : ", ") + an.name;
      if (name == an.name) {
        c.head = an.head;
        found = true;
      }
    }
    if (!found)
      k.fail("architectures", "'" + name + "' is not supported for model_type '" + family_name(c.family) +
                                  "' (" + known + ")");
  }
  if (c.head == HeadKind::SequenceClassification || c.head == HeadKind::TokenClassification) {
    int64_t n = 2;
    if (const json* m = k.get("id2label")) {
      if (!m->is_object()) k.fail("id2label", "must be an object {\"0\": \"LABEL\", ...}");
      n = int64_t(m->size());
      if (n < 2 || n > kMaxLabels)
        k.fail("id2label", "must hold between 2 and 65536 labels, got " + std::to_string(n));
      const int64_t given = k.integer("num_labels", n, 2, kMaxLabels);
      if (given != n)
        k.fail("num_labels", std::to_string(given) + " differs from the " + std::to_string(n) + " labels of id2label");
    } else {
      n = k.integer("num_labels", 2, 2, kMaxLabels);
    }
    c.num_labels = int(n);
  }
}

int dim(const Keys& k, const std::string& key, int64_t def) { return int(k.integer(key, def, 1, kMaxDim)); }

int pad_id(const Keys& k, int64_t def) { return int(k.integer("pad_token_id", def, -1, kMaxDim)); }

void read_gpt2(const Keys& k, TransformerConfig& c) {
  c.n_layer = dim(k, "n_layer", 12);
  c.n_head = dim(k, "n_head", 12);
  c.n_embd = dim(k, "n_embd", 768);
  c.n_inner = int(k.integer("n_inner", 0, 0, kMaxDim));
  c.n_positions = dim(k, "n_positions", 1024);
  c.vocab_size = dim(k, "vocab_size", 50257);
  c.layer_norm_epsilon = k.number("layer_norm_epsilon", 1e-5, 0, 1);
  c.embd_pdrop = k.number("embd_pdrop", 0.1, 0, 1);
  c.attn_pdrop = k.number("attn_pdrop", 0.1, 0, 1);
  c.resid_pdrop = k.number("resid_pdrop", 0.1, 0, 1);
  c.classifier_pdrop = k.number("classifier_dropout", -1.0, 0, 1);
  c.initializer_range = k.number("initializer_range", 0.02, 0, 1e3);
  c.tie_word_embeddings = k.boolean("tie_word_embeddings", true);
  c.pad_token_id = pad_id(k, -1);
  k.require_one_of("activation_function", "gelu_new", {"gelu_new", "gelu_pytorch_tanh"},
                   "Tessera's GPT-2 block uses the tanh approximation of GELU");
  k.require_bool("scale_attn_by_inverse_layer_idx", false, "Tessera scales attention by 1/sqrt(head_dim) only");
  k.require_bool("add_cross_attention", false, "Tessera has no cross attention");
}

void read_encoder(const Keys& k, TransformerConfig& c) {
  const bool roberta = c.family == Family::RoBERTa;
  c.n_layer = dim(k, "num_hidden_layers", 12);
  c.n_head = dim(k, "num_attention_heads", 12);
  c.n_embd = dim(k, "hidden_size", 768);
  c.n_inner = dim(k, "intermediate_size", 3072);
  c.n_positions = dim(k, "max_position_embeddings", 512);
  c.vocab_size = dim(k, "vocab_size", roberta ? 50265 : 30522);
  c.type_vocab_size = int(k.integer("type_vocab_size", 2, 0, kMaxDim));
  c.layer_norm_epsilon = k.number("layer_norm_eps", 1e-12, 0, 1);
  c.resid_pdrop = c.embd_pdrop = k.number("hidden_dropout_prob", 0.1, 0, 1);
  c.attn_pdrop = k.number("attention_probs_dropout_prob", 0.1, 0, 1);
  c.classifier_pdrop = k.number("classifier_dropout", -1.0, 0, 1);
  c.initializer_range = k.number("initializer_range", 0.02, 0, 1e3);
  c.pad_token_id = pad_id(k, roberta ? 1 : 0);
  k.require_one_of("hidden_act", "gelu", {"gelu"}, "Tessera's encoder block uses the exact (erf) GELU");
  k.require_one_of("position_embedding_type", "absolute", {"absolute"}, "Tessera's encoder uses learned absolute positions");
  k.require_bool("is_decoder", false, "Tessera's BERT/RoBERTa are encoders");
  k.require_bool("add_cross_attention", false, "Tessera has no cross attention");
  if (roberta && c.pad_token_id < 0) k.fail("pad_token_id", "RoBERTa needs a padding id (positions start after it)");
}

void read_llama(const Keys& k, TransformerConfig& c) {
  c.n_layer = dim(k, "num_hidden_layers", 32);
  c.n_head = dim(k, "num_attention_heads", 32);
  c.n_kv_head = int(k.integer("num_key_value_heads", c.n_head, 1, kMaxDim));
  c.n_embd = dim(k, "hidden_size", 4096);
  c.n_inner = dim(k, "intermediate_size", 11008);
  c.n_positions = dim(k, "max_position_embeddings", 2048);
  c.vocab_size = dim(k, "vocab_size", 32000);
  c.layer_norm_epsilon = k.number("rms_norm_eps", 1e-6, 0, 1);
  c.rope_theta = k.number("rope_theta", 10000.0, 1e-6, 1e30);
  // transformers ≥ 5 writes rope_parameters {rope_theta, rope_type}; only the default type.
  for (const char* key : {"rope_parameters", "rope_scaling"}) {
    const json* r = k.get(key);
    if (!r) continue;
    if (!r->is_object()) k.fail(key, "must be an object");
    const Keys rk{*r, k.origin};
    const std::string type = rk.string("rope_type", rk.string("type", "default"));
    if (type != "default")
      k.fail(key, "rope_type '" + type + "' is not supported (RoPE scaling: only plain RoPE with rope_theta)");
    for (const auto& item : r->items())
      if (item.key() != "rope_type" && item.key() != "type" && item.key() != "rope_theta")
        k.fail(key, "'" + item.key() + "' is not supported (RoPE scaling: only plain RoPE with rope_theta)");
    if (r->contains("rope_theta")) c.rope_theta = rk.number("rope_theta", c.rope_theta, 1e-6, 1e30);
  }
  c.attn_pdrop = k.number("attention_dropout", 0.0, 0, 1);
  c.embd_pdrop = c.resid_pdrop = 0.0;
  c.classifier_pdrop = -1.0;
  c.initializer_range = k.number("initializer_range", 0.02, 0, 1e3);
  c.tie_word_embeddings = k.boolean("tie_word_embeddings", false);
  c.pad_token_id = pad_id(k, -1);
  k.require_one_of("hidden_act", "silu", {"silu"}, "Tessera's Llama block uses SwiGLU with SiLU");
  k.require_bool("attention_bias", false, "Tessera's Llama attention has no biases");
  k.require_bool("mlp_bias", false, "Tessera's Llama MLP has no biases");
  if (k.get("head_dim")) {
    const int64_t hd = k.integer("head_dim", 0, 1, kMaxDim);
    if (c.n_embd % c.n_head != 0 || hd != c.n_embd / c.n_head)
      k.fail("head_dim", std::to_string(hd) + " differs from hidden_size / num_attention_heads (Tessera needs them equal)");
  }
}

}  // namespace

TransformerConfig parse_hf_config(const std::string& text, const std::string& origin) {
  require(text.size() <= kMaxConfigBytes, origin + ": larger than 16 MiB, not a config.json");
  require(json_depth(text) <= kMaxJsonDepth, origin + ": JSON nested deeper than 64 levels");
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(origin + ": not valid JSON: " + e.what());
  }
  require(j.is_object(), origin + ": the top level must be a JSON object");
  const Keys k{j, origin};
  if (!k.get("model_type")) k.fail("model_type", "missing (gpt2, bert, roberta, llama)");
  const std::string type = k.string("model_type", "");
  TransformerConfig c;
  if (type == "gpt2") c.family = Family::GPT2;
  else if (type == "bert") c.family = Family::BERT;
  else if (type == "roberta") c.family = Family::RoBERTa;
  else if (type == "llama") c.family = Family::Llama;
  else throw Error(origin + ": model_type '" + type + "' is not supported (gpt2, bert, roberta, llama)");

  switch (c.family) {
    case Family::GPT2: read_gpt2(k, c); break;
    case Family::BERT:
    case Family::RoBERTa: read_encoder(k, c); break;
    case Family::Llama: read_llama(k, c); break;
  }
  if (int64_t(c.n_inner > 0 ? c.n_inner : 4 * int64_t(c.n_embd)) > kMaxDim)
    k.fail(c.family == Family::GPT2 ? "n_embd" : "hidden_size", "the MLP width 4 x " + std::to_string(c.n_embd) + " exceeds 2^30");
  if (c.pad_token_id >= c.vocab_size)
    k.fail("pad_token_id", std::to_string(c.pad_token_id) + " is not below vocab_size " + std::to_string(c.vocab_size));
  read_head(k, c);
  const bool tie = c.tie_word_embeddings;
  apply_family_defaults(c);
  if (!c.is_encoder()) c.tie_word_embeddings = tie;
  if (c.family == Family::RoBERTa && c.position_offset >= c.n_positions)
    k.fail("max_position_embeddings", std::to_string(c.n_positions) + " leaves no positions after the offset " +
                                          std::to_string(c.position_offset) + " (pad_token_id + 1)");
  // Tessera's n_positions is the usable context; RoBERTa's table has position_offset more rows.
  if (c.family == Family::RoBERTa) c.n_positions -= c.position_offset;
  if (c.family == Family::Llama && c.n_head % c.kv_heads() != 0)
    k.fail("num_key_value_heads", std::to_string(c.kv_heads()) + " does not divide num_attention_heads " +
                                      std::to_string(c.n_head));
  validate_transformer_config(c, origin);
  return c;
}

TransformerConfig load_hf_config(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  require(bool(f), path + ": cannot open (a Hugging Face model directory needs config.json)");
  std::string text;
  f.seekg(0, std::ios::end);
  const std::streamoff n = f.tellg();
  require(n >= 0 && size_t(n) <= kMaxConfigBytes, path + ": larger than 16 MiB, not a config.json");
  text.resize(size_t(n));
  f.seekg(0);
  f.read(text.data(), n);
  require(bool(f), path + ": read failed");
  return parse_hf_config(text, path);
}

std::string hf_architecture(const TransformerConfig& c) {
  const HeadKind want = c.head;
  for (const ArchName& an : kArchitectures)
    if (an.family == c.family && an.head == want) return an.name;
  throw Error(std::string("no transformers class for family ") + family_name(c.family) + " with head " +
              head_name(c.head));
}

std::string hf_backbone_prefix(const TransformerConfig& c) {
  if (c.head == HeadKind::None) return "";
  switch (c.family) {
    case Family::GPT2: return "transformer.";
    case Family::BERT: return "bert.";
    case Family::RoBERTa: return "roberta.";
    case Family::Llama: return "model.";
  }
  return "";
}

std::string hf_config_json(const TransformerConfig& c, const std::string& torch_dtype) {
  json j;
  j["architectures"] = json::array({hf_architecture(c)});
  j["model_type"] = family_name(c.family);
  j["torch_dtype"] = torch_dtype;  // transformers < 5
  j["dtype"] = torch_dtype;        // transformers ≥ 5
  j["initializer_range"] = c.initializer_range;
  j["vocab_size"] = c.vocab_size;
  if (c.pad_token_id >= 0) j["pad_token_id"] = c.pad_token_id;
  if (c.classifier_pdrop >= 0 && c.family != Family::Llama) j["classifier_dropout"] = c.classifier_pdrop;
  switch (c.family) {
    case Family::GPT2:
      j["n_layer"] = c.n_layer;
      j["n_head"] = c.n_head;
      j["n_embd"] = c.n_embd;
      j["n_inner"] = c.ffn_dim();
      j["n_positions"] = c.n_positions;
      j["n_ctx"] = c.n_positions;
      j["layer_norm_epsilon"] = c.layer_norm_epsilon;
      j["embd_pdrop"] = c.embd_pdrop;
      j["attn_pdrop"] = c.attn_pdrop;
      j["resid_pdrop"] = c.resid_pdrop;
      j["activation_function"] = "gelu_new";
      j["tie_word_embeddings"] = c.tie_word_embeddings;
      break;
    case Family::BERT:
    case Family::RoBERTa:
      j["num_hidden_layers"] = c.n_layer;
      j["num_attention_heads"] = c.n_head;
      j["hidden_size"] = c.n_embd;
      j["intermediate_size"] = c.ffn_dim();
      j["max_position_embeddings"] = c.n_positions + c.position_offset;  // table rows (RoBERTa: + offset)
      j["type_vocab_size"] = c.type_vocab_size;
      j["layer_norm_eps"] = c.layer_norm_epsilon;
      j["hidden_dropout_prob"] = c.resid_pdrop;
      j["attention_probs_dropout_prob"] = c.attn_pdrop;
      j["hidden_act"] = "gelu";
      j["position_embedding_type"] = "absolute";
      if (c.family == Family::RoBERTa) j["pad_token_id"] = c.position_offset - 1;
      break;
    case Family::Llama:
      j["num_hidden_layers"] = c.n_layer;
      j["num_attention_heads"] = c.n_head;
      j["num_key_value_heads"] = c.kv_heads();
      j["hidden_size"] = c.n_embd;
      j["intermediate_size"] = c.ffn_dim();
      j["max_position_embeddings"] = c.n_positions;
      j["rms_norm_eps"] = c.layer_norm_epsilon;
      j["rope_theta"] = c.rope_theta;
      j["rope_parameters"] = {{"rope_theta", c.rope_theta}, {"rope_type", "default"}};
      j["attention_bias"] = false;
      j["mlp_bias"] = false;
      j["attention_dropout"] = c.attn_pdrop;
      j["hidden_act"] = "silu";
      j["tie_word_embeddings"] = c.tie_word_embeddings;
      break;
  }
  if (c.head == HeadKind::SequenceClassification || c.head == HeadKind::TokenClassification) {
    json id2label = json::object(), label2id = json::object();
    for (int i = 0; i < c.num_labels; ++i) {
      const std::string name = "LABEL_" + std::to_string(i);
      id2label[std::to_string(i)] = name;
      label2id[name] = i;
    }
    j["id2label"] = id2label;
    j["label2id"] = label2id;
  }
  return j.dump(2) + "\n";
}

}  // namespace tessera
