#include "src/model/transformer_config.hpp"

#include "src/runtime/error.hpp"

namespace tessera {

const char* family_name(Family f) {
  switch (f) {
    case Family::GPT2: return "gpt2";
    case Family::BERT: return "bert";
    case Family::RoBERTa: return "roberta";
    case Family::Llama: return "llama";
  }
  return "?";
}

const char* head_name(HeadKind h) {
  switch (h) {
    case HeadKind::CausalLM: return "causal_lm";
    case HeadKind::SequenceClassification: return "sequence_classification";
    case HeadKind::TokenClassification: return "token_classification";
    case HeadKind::QuestionAnswering: return "question_answering";
    case HeadKind::None: return "none";
  }
  return "?";
}

Family parse_family(const std::string& s, const std::string& what) {
  if (s == "gpt2") return Family::GPT2;
  if (s == "bert") return Family::BERT;
  if (s == "roberta") return Family::RoBERTa;
  if (s == "llama") return Family::Llama;
  throw Error(what + ": unknown model family '" + s + "' (supported: gpt2, bert, roberta, llama)");
}

HeadKind parse_head(const std::string& s, const std::string& what) {
  for (HeadKind h : {HeadKind::CausalLM, HeadKind::SequenceClassification, HeadKind::TokenClassification,
                     HeadKind::QuestionAnswering, HeadKind::None})
    if (s == head_name(h)) return h;
  throw Error(what + ": unknown head '" + s +
              "' (supported: causal_lm, sequence_classification, token_classification, question_answering, none)");
}

const char* recompute_name(RecomputeKind r) {
  switch (r) {
    case RecomputeKind::None: return "none";
    case RecomputeKind::Full: return "full";
    case RecomputeKind::Selective: return "selective";
  }
  return "?";
}

RecomputeKind parse_recompute(const std::string& s, const std::string& what) {
  for (RecomputeKind r : {RecomputeKind::None, RecomputeKind::Full, RecomputeKind::Selective})
    if (s == recompute_name(r)) return r;
  throw Error(what + ": unknown recompute mode '" + s + "' (supported: none, full, selective)");
}

void apply_family_defaults(TransformerConfig& c) {
  switch (c.family) {
    case Family::GPT2:
      c.norm = NormKind::LayerNorm; c.pre_norm = true; c.activation = Activation::GeluTanh;
      c.positions = PositionKind::Learned; c.bias = true; c.causal = true;
      c.embedding_norm = false; c.final_norm = true; c.pooler = false;
      c.type_vocab_size = 0; c.position_offset = 0;
      break;
    case Family::BERT:
    case Family::RoBERTa:
      c.norm = NormKind::LayerNorm; c.pre_norm = false; c.activation = Activation::GeluErf;
      c.positions = PositionKind::Learned; c.bias = true; c.causal = false;
      c.embedding_norm = true; c.final_norm = false; c.tie_word_embeddings = true;
      if (c.family == Family::BERT) {
        c.position_offset = 0;
        c.pooler = true;
      } else {
        c.pooler = false;  // RoBERTa classifies with its own dense layer (classifier.dense)
        if (c.pad_token_id < 0) c.pad_token_id = 1;
        c.position_offset = c.pad_token_id + 1;
      }
      break;
    case Family::Llama:
      c.norm = NormKind::RMSNorm; c.pre_norm = true; c.activation = Activation::SwiGLU;
      c.positions = PositionKind::Rotary; c.bias = false; c.causal = true;
      c.embedding_norm = false; c.final_norm = true; c.pooler = false;
      c.type_vocab_size = 0; c.position_offset = 0;
      break;
  }
}

void validate_transformer_config(const TransformerConfig& c, const std::string& what) {
  auto need = [&](bool ok, const std::string& msg) {
    if (!ok) throw Error(what + ": " + msg);
  };
  need(c.n_layer > 0 && c.n_head > 0 && c.n_embd > 0 && c.vocab_size > 0 && c.n_positions > 0,
       "n_layer, n_head, n_embd, vocab_size and n_positions must be positive");
  need(c.n_embd % c.n_head == 0, "n_embd (" + std::to_string(c.n_embd) + ") must be divisible by n_head (" +
                                     std::to_string(c.n_head) + ")");
  need(c.n_kv_head >= 0 && c.n_head % c.kv_heads() == 0,
       "n_head (" + std::to_string(c.n_head) + ") must be a multiple of n_kv_head (" + std::to_string(c.kv_heads()) + ")");
  need(c.positions != PositionKind::Rotary || c.head_dim() % 2 == 0, "rotary embeddings need an even head dimension");
  need(c.n_inner >= 0, "n_inner must be >= 0");
  need(c.type_vocab_size >= 0 && c.position_offset >= 0, "type_vocab_size and position_offset must be >= 0");
  need(c.head != HeadKind::CausalLM || !c.is_encoder(),
       std::string("head causal_lm needs a decoder family (gpt2, llama), not ") + family_name(c.family));
  need(c.head != HeadKind::SequenceClassification && c.head != HeadKind::TokenClassification ? true : c.num_labels >= 2,
       "num_labels must be >= 2 for a classification head");
  for (double p : {c.embd_pdrop, c.attn_pdrop, c.resid_pdrop})
    need(p >= 0 && p < 1, "dropout probabilities must be in [0, 1)");
  need(c.classifier_pdrop < 1, "classifier_pdrop must be < 1");
  const FeatureHeadConfig& f = c.features;
  need(f.dense_dim >= 0 && f.embedding_dim >= 1, "feature head: dense_dim must be >= 0 and categorical_embedding_dim >= 1");
  for (int64_t k : f.categorical_cardinalities) need(k >= 1, "feature head: every categorical column needs >= 1 category");
  for (int64_t h : f.hidden) need(h >= 1, "feature head: hidden widths (model.feature_hidden) must be >= 1");
  need(f.dropout >= 0 && f.dropout < 1, "feature head: model.feature_dropout must be in [0, 1)");
  need(f.activation == "relu" || f.activation == "gelu" || f.activation == "tanh",
       "feature head: model.feature_activation must be relu, gelu or tanh (got '" + f.activation + "')");
}

int64_t TransformerConfig::num_parameters() const {
  const int64_t C = n_embd, L = n_layer, F = ffn_dim(), hd = head_dim();
  const int64_t kv = int64_t(kv_heads()) * hd;
  const int64_t b = bias ? 1 : 0;
  const int64_t norm_params = norm == NormKind::LayerNorm ? 2 * C : C;
  const int64_t attn = C * (C + 2 * kv) + b * (C + 2 * kv) + C * C + b * C;
  const int64_t mlp = activation == Activation::SwiGLU ? 3 * C * F : 2 * C * F + b * (F + C);
  int64_t total = int64_t(vocab_size) * C + L * (attn + mlp + 2 * norm_params);
  if (positions == PositionKind::Learned) total += int64_t(n_positions) * C;
  total += int64_t(type_vocab_size) * C;
  if (embedding_norm) total += 2 * C;
  if (final_norm) total += norm_params;
  if (!tie_word_embeddings && head == HeadKind::CausalLM) total += int64_t(vocab_size) * C;
  if (feature_head()) {
    total += features.categorical_rows() * features.embedding_dim;
    int64_t in = features.input_dim(C);
    for (int64_t h : features.hidden) {
      total += h * in + h;
      in = h;
    }
  }
  return total;
}

}  // namespace tessera
