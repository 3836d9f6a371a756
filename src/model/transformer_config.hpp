// Hyper-parameters of Tessera's one transformer block and the model around it.
// GPT-2, BERT/RoBERTa and Llama are configurations of the same block (names of
// the size fields follow Hugging Face's GPT2Config; the other families' HF
// config.json keys map onto them in io/hf_config):
//
//   family   norm     placement  activation  positions        bias  attention      head tie
//   gpt2     LayerNorm pre-norm   gelu_tanh   learned          yes   causal MHA     tied
//   bert     LayerNorm post-norm  gelu_erf    learned+types    yes   bidirectional  (encoder)
//   roberta  LayerNorm post-norm  gelu_erf    learned, offset  yes   bidirectional  (encoder)
//   llama    RMSNorm   pre-norm   swiglu      rotary (RoPE)    no    causal GQA     config
//
// The task head sits on the last pipeline stage: causal LM (vocab-parallel, tied
// or untied), sequence classification (BERT: [CLS] → pooler(tanh) → classifier;
// RoBERTa: <s> → dense(tanh) → out_proj; decoders: last non-pad token → score),
// token classification (classifier on every token), extractive QA (qa_outputs →
// start/end logits), or none (the model returns hidden states).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

enum class Family { GPT2, BERT, RoBERTa, Llama };
enum class NormKind { LayerNorm, RMSNorm };
enum class Activation { GeluTanh, GeluErf, SwiGLU };
enum class PositionKind { Learned, Rotary };
enum class HeadKind { CausalLM, SequenceClassification, TokenClassification, QuestionAnswering, None };
// model.attention: materialise the B·NH·T·T probabilities (attention.hpp) or the tiled online-softmax kernels
// that keep only the output and a per-row logsumexp (tiled_attention.hpp). Same results either way.
enum class AttentionKind { Materialized, Tiled };
// train.recompute (activation recomputation, docs/peft.md): keep every block's activations for backward (None),
// keep only each block's input and recompute the block's forward just before its backward (Full, Megatron's
// full recompute at block granularity), or keep everything but the B·NH·T·T attention probabilities and
// recompute those from the kept q/k (Selective; a no-op with AttentionKind::Tiled, which never stores them).
// Gradients are bitwise those of None (the same kernels on the same inputs, the same dropout keys).
enum class RecomputeKind { None, Full, Selective };

const char* family_name(Family f);
const char* head_name(HeadKind h);
// Parse "gpt2" | "bert" | "roberta" | "llama" (throws tessera::Error naming `what`).
Family parse_family(const std::string& s, const std::string& what);
// Parse "causal_lm" | "sequence_classification" | "token_classification" | "question_answering" | "none".
HeadKind parse_head(const std::string& s, const std::string& what);
const char* recompute_name(RecomputeKind r);
// Parse "none" | "full" | "selective" (throws tessera::Error naming `what` and the allowed values).
RecomputeKind parse_recompute(const std::string& s, const std::string& what);

// LoRA (docs/peft.md): W x + (alpha/r)·B·A·dropout(x) on the block's linear layers
// named by targets (PEFT target_modules: a module-name suffix such as "q_proj",
// "attn.c_attn", or a glob on the whole module name such as "h.*.mlp.c_fc").
struct LoraConfig {
  int r = 0;                         // rank; 0 = no LoRA
  double alpha = 8;                  // scaling alpha / r
  double dropout = 0;                // on the LoRA branch's input
  std::vector<std::string> targets;  // required when r > 0
  bool enabled() const { return r > 0; }
  double scale() const { return alpha / double(r); }
};

// Auxiliary-feature head of sequence classification (docs/datasets.md, "Auxiliary
// features"): the classifier reads u0 = [z ; dense ; E[cat_1] ; … ; E[cat_m]] — z the
// head input the classifier reads without features (pooled / pooler / dense output,
// width n_embd), dense the dataset's standardised feature vector, E[cat_j] a learned
// embedding of categorical column j — through hidden layers u_{i+1} = drop(act(W_i·u_i + b_i))
// (model.feature_hidden) and the classifier (score / classifier / out_proj) on the last u.
// dense_dim and categorical_cardinalities come from the task dataset's feature schema
// (resolve_feature_head); off when both are empty.
struct FeatureHeadConfig {
  int64_t dense_dim = 0;                           // standardised dense features (from the dataset)
  std::vector<int64_t> categorical_cardinalities;  // per categorical column, unknown bucket included (from the dataset)
  int embedding_dim = 8;                           // model.categorical_embedding_dim
  std::vector<int64_t> hidden;                     // model.feature_hidden ("64,32"; empty = the classifier on u0)
  std::string activation = "relu";                 // model.feature_activation: relu | gelu | tanh
  double dropout = 0;                              // model.feature_dropout (after each hidden activation)
  bool enabled() const { return dense_dim > 0 || !categorical_cardinalities.empty(); }
  int64_t categorical_dim() const { return int64_t(categorical_cardinalities.size()); }
  int64_t categorical_rows() const {  // rows of the shared embedding table (columns stacked)
    int64_t n = 0;
    for (int64_t c : categorical_cardinalities) n += c;
    return n;
  }
  int64_t input_dim(int64_t C) const { return C + dense_dim + categorical_dim() * embedding_dim; }
  int64_t output_dim(int64_t C) const { return hidden.empty() ? input_dim(C) : hidden.back(); }
};

struct TransformerConfig {
  Family family = Family::GPT2;
  int n_layer = 12;
  int n_head = 12;
  int n_kv_head = 0;        // key/value heads (GQA); 0 = n_head
  int n_embd = 768;
  int n_inner = 0;          // MLP width; 0 = 4·n_embd
  int n_positions = 1024;   // context length (learned positions: table rows)
  int vocab_size = 50257;
  int type_vocab_size = 0;  // BERT token-type embeddings (2); 0 = none
  int position_offset = 0;  // first position id (RoBERTa: padding_idx + 1 = 2)
  int pad_token_id = -1;    // padding id (sequence classification of decoders: last non-pad token)
  double embd_pdrop = 0.0;  // dropout after the embeddings
  double attn_pdrop = 0.0;  // dropout on attention probabilities
  double resid_pdrop = 0.0; // dropout on each residual branch output
  double classifier_pdrop = -1.0;  // dropout before a classification/QA head; < 0 = resid_pdrop
  double layer_norm_epsilon = 1e-5;  // LayerNorm / RMSNorm epsilon
  double initializer_range = 0.02;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = true;

  // Block configuration (set from the family by apply_family_defaults()).
  NormKind norm = NormKind::LayerNorm;
  bool pre_norm = true;          // false: post-norm (BERT): x = norm(x + branch(x))
  Activation activation = Activation::GeluTanh;
  PositionKind positions = PositionKind::Learned;
  bool bias = true;              // biases on every linear layer
  bool causal = true;            // false: bidirectional with key padding mask
  bool embedding_norm = false;   // BERT: LayerNorm after the embedding sum
  bool final_norm = true;        // norm after the last block (GPT-2 ln_f, Llama norm)
  bool pooler = false;           // BERT pooler (dense + tanh on [CLS]) present

  // Task head.
  HeadKind head = HeadKind::CausalLM;
  int num_labels = 0;            // classes (sequence/token classification)

  FeatureHeadConfig features;    // auxiliary features in the sequence-classification head (off by default)
  LoraConfig lora;               // adapters on the block's linear layers (base frozen)
  AttentionKind attention = AttentionKind::Materialized;  // attention kernels (training and generation prefill)
  RecomputeKind recompute = RecomputeKind::None;          // activation recomputation (from train.recompute)

  // True when the sequence-classification head reads auxiliary features.
  bool feature_head() const { return head == HeadKind::SequenceClassification && features.enabled(); }
  int kv_heads() const { return n_kv_head > 0 ? n_kv_head : n_head; }
  int head_dim() const { return n_embd / n_head; }
  int ffn_dim() const { return n_inner > 0 ? n_inner : 4 * n_embd; }
  double classifier_dropout() const { return classifier_pdrop >= 0 ? classifier_pdrop : resid_pdrop; }
  bool is_encoder() const { return family == Family::BERT || family == Family::RoBERTa; }
  // Parameter count of the backbone + head (tied embeddings counted once).
  int64_t num_parameters() const;
};

// Sets norm/pre_norm/activation/positions/bias/causal/embedding_norm/final_norm/
// pooler/position_offset/type_vocab_size from cfg.family (sizes untouched).
void apply_family_defaults(TransformerConfig& cfg);

// Checks sizes and their divisibility (throws tessera::Error starting with `what`).
void validate_transformer_config(const TransformerConfig& cfg, const std::string& what);

using GPT2Config = TransformerConfig;  // the original name, kept for GPT-2 code

}  // namespace tessera
