#include "io/hf_param_names.hpp"

namespace tessera {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void gpt2_block(std::vector<ParamShape>& out, const std::string& p, int64_t C, int64_t F) {
  out.push_back({p + "ln_1.weight", {C}});
  out.push_back({p + "ln_1.bias", {C}});
  out.push_back({p + "attn.c_attn.weight", {3 * C, C}});
  out.push_back({p + "attn.c_attn.bias", {3 * C}});
  out.push_back({p + "attn.c_proj.weight", {C, C}});
  out.push_back({p + "attn.c_proj.bias", {C}});
  out.push_back({p + "ln_2.weight", {C}});
  out.push_back({p + "ln_2.bias", {C}});
  out.push_back({p + "mlp.c_fc.weight", {F, C}});
  out.push_back({p + "mlp.c_fc.bias", {F}});
  out.push_back({p + "mlp.c_proj.weight", {C, F}});
  out.push_back({p + "mlp.c_proj.bias", {C}});
}

void linear(std::vector<ParamShape>& out, const std::string& p, int64_t o, int64_t i, bool bias = true) {
  out.push_back({p + ".weight", {o, i}});
  if (bias) out.push_back({p + ".bias", {o}});
}

void layer_norm(std::vector<ParamShape>& out, const std::string& p, int64_t C) {
  out.push_back({p + ".weight", {C}});
  out.push_back({p + ".bias", {C}});
}

void encoder_block(std::vector<ParamShape>& out, const std::string& p, int64_t C, int64_t F) {
  linear(out, p + "attention.self.query", C, C);
  linear(out, p + "attention.self.key", C, C);
  linear(out, p + "attention.self.value", C, C);
  linear(out, p + "attention.output.dense", C, C);
  layer_norm(out, p + "attention.output.LayerNorm", C);
  linear(out, p + "intermediate.dense", F, C);
  linear(out, p + "output.dense", C, F);
  layer_norm(out, p + "output.LayerNorm", C);
}

void llama_block(std::vector<ParamShape>& out, const std::string& p, int64_t C, int64_t KV, int64_t F) {
  out.push_back({p + "input_layernorm.weight", {C}});
  linear(out, p + "self_attn.q_proj", C, C, false);
  linear(out, p + "self_attn.k_proj", KV, C, false);
  linear(out, p + "self_attn.v_proj", KV, C, false);
  linear(out, p + "self_attn.o_proj", C, C, false);
  out.push_back({p + "post_attention_layernorm.weight", {C}});
  linear(out, p + "mlp.gate_proj", F, C, false);
  linear(out, p + "mlp.up_proj", F, C, false);
  linear(out, p + "mlp.down_proj", C, F, false);
}

void task_head(std::vector<ParamShape>& out, const TransformerConfig& c) {
  const int64_t C = c.n_embd, V = c.vocab_size, L = c.num_labels;
  const size_t first = out.size();
  const bool decoder = !c.is_encoder();
  switch (c.head) {
    case HeadKind::CausalLM:
      if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {V, C}});
      break;
    case HeadKind::SequenceClassification:
      if (c.family == Family::RoBERTa) {
        linear(out, "classifier.dense", C, C);
        linear(out, "classifier.out_proj", L, C);
      } else if (decoder) {
        linear(out, "score", L, C, false);
      } else {
        linear(out, "classifier", L, C);
      }
      break;
    case HeadKind::TokenClassification:
      linear(out, c.family == Family::Llama ? "score" : "classifier", L, C);
      break;
    case HeadKind::QuestionAnswering:
      linear(out, "qa_outputs", 2, C);
      break;
    case HeadKind::None:
      break;
  }
  for (size_t i = first; i < out.size(); ++i) out[i].head = true;
}

}  // namespace

std::vector<ParamShape> transformer_parameter_shapes(const TransformerConfig& c) {
  std::vector<ParamShape> out;
  const int64_t C = c.n_embd, V = c.vocab_size, P = c.n_positions, F = c.ffn_dim();
  const int64_t KV = int64_t(c.kv_heads()) * c.head_dim();
  switch (c.family) {
    case Family::GPT2:
      out.push_back({"wte.weight", {V, C}});
      out.push_back({"wpe.weight", {P, C}});
      for (int i = 0; i < c.n_layer; ++i) gpt2_block(out, "h." + std::to_string(i) + ".", C, F);
      layer_norm(out, "ln_f", C);
      break;
    case Family::BERT:
    case Family::RoBERTa:
      out.push_back({"embeddings.word_embeddings.weight", {V, C}});
      out.push_back({"embeddings.position_embeddings.weight", {P + c.position_offset, C}});
      if (c.type_vocab_size > 0) out.push_back({"embeddings.token_type_embeddings.weight", {c.type_vocab_size, C}});
      layer_norm(out, "embeddings.LayerNorm", C);
      for (int i = 0; i < c.n_layer; ++i) encoder_block(out, "encoder.layer." + std::to_string(i) + ".", C, F);
      if (c.pooler) linear(out, "pooler.dense", C, C);
      break;
    case Family::Llama:
      out.push_back({"embed_tokens.weight", {V, C}});
      for (int i = 0; i < c.n_layer; ++i) llama_block(out, "layers." + std::to_string(i) + ".", C, KV, F);
      out.push_back({"norm.weight", {C}});
      break;
  }
  task_head(out, c);
  return out;
}

bool hf_stores_transposed(const TransformerConfig& c, const std::string& name) {
  if (c.family != Family::GPT2 || name.rfind("h.", 0) != 0) return false;
  return ends_with(name, ".attn.c_attn.weight") || ends_with(name, ".attn.c_proj.weight") ||
         ends_with(name, ".mlp.c_fc.weight") || ends_with(name, ".mlp.c_proj.weight");
}

std::vector<float> transpose_2d(const std::vector<float>& src, int64_t rows, int64_t cols) {
  std::vector<float> out(src.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[size_t(c * rows + r)] = src[size_t(r * cols + c)];
  return out;
}

std::string shape_string(const std::vector<int64_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
  return o + "]";
}

}  // namespace tessera
