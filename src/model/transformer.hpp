// One transformer, configured into GPT-2, BERT/RoBERTa or Llama (see
// transformer_config.hpp for the table), with its task head. Parameters carry
// Hugging Face's names without the model prefix (docs/formats.md lists them per
// family); linear weights are stored [out, in] (nn.Linear: y = x·Wᵀ + b), so
// GPT-2's Conv1D weights are transposed on import.
//
// Block (one code path; the configuration picks norm, placement, activation,
// positions, biases and attention mask):
//   pre-norm : s1 = x + drop(attn(norm1(x)));   out = s1 + drop(mlp(norm2(s1)))
//   post-norm: s1 = x + drop(attn(x)); h = norm1(s1); out = norm2(h + drop(mlp(h)))
//   attn = o_proj(attention(rope?(q,k), v)), GQA when n_kv_head < n_head
//   mlp  = proj(act(fc(x)))  or  down(silu(gate(x))·up(x))  (SwiGLU)
//
// Parallel layout (ModelParallel): q/k/v column-parallel by heads (GPT-2's fused
// c_attn with shard_groups = 3; separate q/k/v weights otherwise, kv heads split
// too, so n_kv_head must divide by tp), MLP fc/gate/up column-parallel, o_proj and
// MLP projection row-parallel (their biases replicated, added after the
// all-reduce), token embedding and untied LM head vocab-parallel (rows), norms,
// position/type embeddings and task heads replicated. With pp stages, stage s
// holds blocks balanced_range(n_layer, pp, s); the first stage the embeddings, the
// last the final norm, the head and — for a tied LM head — its own copy of the
// token embedding (gradient summed across the two stages by the trainer).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <array>
#include <set>
#include <string>
#include <vector>
#include "kernels/counter_rng.hpp"
#include "kernels/views.hpp"
#include "src/model/model_parallel.hpp"
#include "src/model/smote_rows.hpp"
#include "src/model/transformer_config.hpp"
#include "src/tensor/ignore_index.hpp"
#include "src/tensor/parameter_set.hpp"

namespace tessera {

template <class S>
struct LoraCall;

// RNG site of a parameter's initialisation stream: a hash of its name, so every
// shard and every pipeline stage draws the same values as the one-rank model.
uint32_t param_rng_site(const std::string& name);

struct ForwardOptions {
  bool training = false;  // dropout on when true
  uint64_t seed = 0;      // dropout RNG key: (seed, step, layer, site, element)
  uint64_t step = 0;
};

// One micro-batch as the model reads it (host memory, row-major). Stages read
// what they need: the first stage tokens/token_types, every stage the mask, the
// last stage the labels.
struct ModelInputs {
  const int32_t* tokens = nullptr;          // [B,T]
  const int32_t* token_types = nullptr;     // [B,T] segment ids (null = all 0)
  const int32_t* attention_mask = nullptr;  // [B,T] 1 = token, 0 = padding (null = no padding)
  // Targets of the head (null = no loss): causal_lm and token_classification
  // [B,T] (kIgnoreIndex = skip), sequence_classification [B], question_answering
  // [B,2] (start, end token; outside [0,T) = skip).
  const int32_t* labels = nullptr;
  // Auxiliary features of a sequence-classification head with a feature head
  // (TransformerConfig::feature_head(); last stage): dense [B, features.dense_dim]
  // standardised values, categorical [B, features.categorical_dim()] category indices of
  // each column (0 = unknown bucket). Required when the config has them.
  const float* dense_features = nullptr;
  const int32_t* categorical_features = nullptr;
};

// Block index of a parameter name ("h.3.attn.c_attn.weight" → 3), -1 outside the blocks.
int parameter_block(const TransformerConfig& cfg, const std::string& name);
// True for the embedding tables and the embedding LayerNorm (HF's model.embeddings /
// wte, wpe / embed_tokens).
bool is_embedding_parameter(const TransformerConfig& cfg, const std::string& name);

// Task-head parameters (classifier, score, qa_outputs, RoBERTa's classifier.dense):
// trained in full next to LoRA adapters (PEFT's modules_to_save).
bool is_task_head_parameter(const std::string& name);
// Every lora.target selects at least one block linear layer of the model, else an
// error naming the target (checked on the whole model, independent of the stage).
void validate_lora_targets(const TransformerConfig& cfg);

// Elements of ModelInputs::labels per sample for a head.
int64_t labels_per_sample(HeadKind head, int T);

// Inputs of a block's linear layers, as calibration observes them (src/compress/):
// Attention feeds q/k/v (GPT-2 c_attn), AttentionOutput o_proj, Mlp gate/up (fc),
// MlpOutput the down projection.
enum class LinearInput { Attention = 0, AttentionOutput = 1, Mlp = 2, MlpOutput = 3 };

template <class S>
class Transformer {
 public:
  explicit Transformer(const TransformerConfig& cfg);
  Transformer(const TransformerConfig& cfg, const ModelParallel& mp);
  // frozen(name) true = that parameter is frozen: no gradient buffer, no optimizer
  // state, its weight gradient is never computed (see ParameterSet).
  Transformer(const TransformerConfig& cfg, const ModelParallel& mp, const FrozenFilter& frozen);
  // Parameters named in `packed` are held as PackedMatrix (params().set_packed) instead
  // of in the value slab: quantised inference, forward only.
  Transformer(const TransformerConfig& cfg, const ModelParallel& mp, const std::set<std::string>& packed);
  Transformer(const TransformerConfig& cfg, const ModelParallel& mp, const FrozenFilter& frozen,
              const std::set<std::string>& packed);
  ~Transformer();

  const TransformerConfig& config() const { return cfg_; }
  ParameterSet<S>& params() { return params_; }
  const ParameterSet<S>& params() const { return params_; }

  // Weights N(0, initializer_range) (GPT-2's residual projections scaled by
  // 1/√(2·n_layer)), biases 0, norm weights 1. Each element is a pure function of
  // (seed, parameter name, element index in the full tensor): any shard equals
  // the matching slice of the one-rank init.
  void init_weights(uint64_t seed);

  // Classification losses: per-class weights (empty = 1; PyTorch CrossEntropyLoss
  // semantics, mean over Σ weight[label]) and label smoothing ε.
  void set_loss_options(std::vector<double> class_weights, double label_smoothing);

  // SMOTE on the sequence-classification head's input (src/model/smote_rows.hpp):
  // training forwards with labels append synthetic pooled rows; nullptr = off.
  void set_smote(std::shared_ptr<SmoteRows> smote) { smote_ = std::move(smote); }
  const SmoteRows* smote() const { return smote_.get(); }

  // Forward of the whole model (pp = 1). With labels returns the mean loss and
  // keeps what backward needs; without returns 0 and leaves logits().
  S forward(const ModelInputs& in, int B, int T, const ForwardOptions& opt);
  // Causal-LM shorthand: tokens and next-token targets [B,T].
  S forward(const int32_t* tokens, const int32_t* targets, int B, int T, const ForwardOptions& opt);

  // Backward of the last forward (which must have had labels): accumulates (+=)
  // d(loss_scale · mean loss)/dθ into params().grads().
  void backward(S loss_scale);

  // Head outputs of the last forward (slot 0, last stage): causal_lm [B,T,Vl]
  // (this rank's vocabulary columns), sequence_classification [B,K],
  // token_classification [B,T,K], question_answering [B,T,2] (start, end).
  // After backward() an LM buffer holds gradients.
  View1<S> logits() const;
  // Last hidden states [B,T,C] of the last forward (after the final norm if any).
  View1<S> hidden_states() const;
  // BERT pooler output tanh(W·h[CLS] + b) [B,C] of the last forward (pooler models).
  View1<S> pooler_output() const;
  // Feature head: the classifier's input of the last forward, the feature head's output
  // [B, features.output_dim(C)] (the last hidden layer's activation; empty otherwise).
  View1<S> feature_head_output() const;

  // ---- integrated gradients on the embedding output (pp = 1)
  // x0 [B,T,C] = the input of the first block (embeddings after their norm). The next
  // forward uses x0 = override instead of the tokens' embeddings (then the override is
  // cleared); the backward of that forward stops at x0 and leaves d(loss_scale·loss)/d(x0)
  // in embedding_output_grad() (no embedding-table gradients).
  void set_embedding_override(View1<S> x0) { embedding_override_ = x0; }
  View1<S> embedding_output() const;
  View1<S> embedding_output_grad() const { return embedding_grad_; }
  // Feature head: after that backward, d(loss_scale·loss)/d(u_0) of the feature head's
  // input u_0 = [z ; dense ; categorical embeddings], [B, features.input_dim(C)] (the
  // dense features' gradients at columns [C, C + dense_dim)).
  View1<S> feature_input_grad() const { return feature_input_grad_; }

  // Number of valid (non-ignored) targets in the last forward.
  int64_t num_valid_targets() const;

  // ---- incremental decoding with a KV cache (decoder families, pp = 1)
  // Allocates caches for B sequences of up to T_max positions and resets them.
  void begin_decode(int B, int T_max);
  // Feeds T_new tokens [B,T_new] at positions [pos0, pos0+T_new) (the prompt
  // first, then one token at a time); logits() then holds [B,T_new,Vl].
  void forward_decode(const int32_t* tokens, int B, int T_new, int64_t pos0);

  // ---- pipeline-stage interface (the whole model is one stage when pp = 1)
  const ModelParallel& parallel() const { return mp_; }
  bool is_first_stage() const { return mp_.pp_rank == 0; }
  bool is_last_stage() const { return mp_.pp_rank == mp_.pp_size - 1; }
  int first_layer() const { return layer_begin_; }
  int end_layer() const { return layer_end_; }
  void set_num_slots(int slots);
  S forward_stage(int slot, const ModelInputs& in, int B, int T, const ForwardOptions& opt,
                  const View1<S>& input_hidden);
  S forward_stage(int slot, const int32_t* tokens, const int32_t* targets, int B, int T, const ForwardOptions& opt,
                  const View1<S>& input_hidden);
  View1<S> stage_output(int slot) const;
  void backward_stage(int slot, S loss_scale, const View1<S>& output_grad);
  View1<S> stage_input_grad(int slot) const;
  void set_grads_ready_hook(std::function<void(size_t, size_t)> hook) { grads_ready_ = std::move(hook); }
  // Called in forward with each block's linear-layer inputs x [N, IC] (calibration).
  using LinearObserver = std::function<void(int layer, LinearInput site, const View1<S>& x, int64_t N, int64_t IC)>;
  void set_linear_observer(LinearObserver f) { observer_ = std::move(f); }

  // Name of the token embedding ("wte.weight", "embeddings.word_embeddings.weight",
  // "embed_tokens.weight") — tied with the LM head when tie_word_embeddings.
  std::string token_embedding_name() const;
  // True when the last stage holds its own copy of the tied token embedding.
  bool has_tied_copy() const;

  size_t activation_bytes() const;

  // ---- attention-head gates (Michel, Levy & Neubig 2019; src/compress/head_pruning.hpp)
  // gates [n_layer·n_head] (global layer and head indices; this rank uses its stage's
  // layers and its tensor-parallel heads): forward multiplies head h's attention context
  // by ξ_h before the output projection. Empty = no gates (the ungated path, bitwise
  // unchanged). With set_head_gate_grad(true) every backward also accumulates
  // ∂(loss_scale·loss)/∂ξ into head_gate_grad() (this rank's layers and heads; 0 elsewhere).
  // Gates act in forward()/forward_stage() (train, eval, importance), not in
  // forward_decode(): pruned heads reach decoding as zeroed weights (head_pruning.hpp).
  void set_head_gates(const std::vector<double>& gates);
  const std::vector<double>& head_gates() const { return head_gates_; }
  void set_head_gate_grad(bool on);
  std::vector<double> head_gate_grad() const;
  void zero_head_gate_grad();
  const std::function<void(size_t, size_t)>& grads_ready_hook() const { return grads_ready_; }

  // ---- LoRA (cfg.lora): W ← W + s·B·A for inference, and back. While merged, the
  // forward uses the merged weights only (training a merged model is refused).
  void merge_lora();
  void unmerge_lora();
  bool lora_merged() const { return lora_merged_; }

 private:
  struct Activations;
  struct DecodeCache;
  TransformerConfig cfg_;
  ModelParallel mp_;
  int layer_begin_ = 0, layer_end_ = 0;
  ParameterSet<S> params_;
  std::vector<std::unique_ptr<Activations>> slots_;
  std::unique_ptr<DecodeCache> cache_;
  std::function<void(size_t, size_t)> grads_ready_;
  LinearObserver observer_;
  std::vector<double> class_weights_;
  double label_smoothing_ = 0;
  std::shared_ptr<SmoteRows> smote_;
  // LoRA module name per (local layer, site), "" = no adapter there.
  std::vector<std::array<std::string, 9>> lora_modules_;
  bool lora_merged_ = false;
  // One block's forward on slot a (local layer li, input x0 or the previous block's output). recomputing =
  // the backward's re-run of train.recompute = full: the same kernels and dropout keys, no linear observer.
  void forward_block(Activations& a, int64_t li, bool recomputing);
  LoraCall<S> lora_call(const Activations& a, int64_t li, int site, int64_t in, int64_t out, int64_t in_full,
                        int64_t col0) const;
  void lora_apply_merge(double sign);
  int append_smote_rows(Activations& a, const int32_t* labels, int B, const ForwardOptions& opt);
  // Feature head (TransformerConfig::features): uploads rows' features; forward of
  // [z ; features] through the hidden layers (returns the classifier's input, rows ×
  // features.output_dim(C)); backward from dhead_logits (classifier, hidden layers,
  // embeddings) leaving d(z) in dz.
  void upload_features(Activations& a, const ModelInputs& in, int B);
  View1<S> feature_head_forward(Activations& a, const View1<S>& z, int rows);
  void feature_head_backward(Activations& a, int rows, View1<S> dz);
  View1<S> embedding_override_, embedding_grad_, feature_input_grad_;
  std::vector<double> head_gates_;   // [n_layer·n_head], empty = none
  View1<S> gate_dev_, gate_grad_dev_;  // [L·NHl] this stage's layers, this rank's heads
  bool gate_grad_on_ = false;
};

}  // namespace tessera
