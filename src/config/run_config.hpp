// The run configuration: one TOML file, strictly validated. Every key is
// documented in docs/config.md; unknown keys and ill-typed or out-of-range values
// are rejected with the key's dotted name (e.g. "train.micro_batch_size").
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <vector>
#include "src/model/transformer_config.hpp"

namespace tessera {

struct ModelSection {  // [model]
  std::string family = "gpt2";  // gpt2 | bert | roberta | llama (sets the block configuration)
  std::string head = "causal_lm";  // causal_lm | sequence_classification | token_classification | question_answering | none
  std::string preset = "";       // "", "gpt2-tiny", "gpt2-small" (124M) ... fills the dims below unless given
  TransformerConfig transformer; // sizes, dropouts, epsilon, rope_theta, tie_word_embeddings, num_labels (family/head
                                 // applied by the parser: apply_family_defaults)
  std::string init_from = "";    // checkpoint to initialise weights from (fine-tuning); "" = random init
  std::string adapter = "";      // LoRA adapter to load: Tessera adapter file or PEFT directory ([lora] comes from it)
  std::string init_blocks = "";  // with init_from: keep only these blocks ("first:K", "every:N", "0,2,5"); "" = all
  std::string prune_heads = "";  // attention heads pruned, "layer:head,head;layer:head" (src/compress/head_pruning.hpp)
  int heads_per_layer = 0;       // with init_from: keep the K most important heads of each layer (0 = all)
  std::string attention = "materialized";  // materialized | tiled (kernels/tiled_attention.hpp; no B·NH·T·T buffers)
  // Auxiliary-feature head (sequence classification on a dataset with a feature schema):
  // hidden widths "64,32" ("" = the classifier reads [pooled ; features] directly); the
  // activation, dropout and categorical embedding width live in transformer.features.
  std::string feature_hidden = "";
};

struct DataSection {  // [data]
  std::string path;              // tokenized HDF5 dataset (tessera prepare)
  std::string train_split = "train";
  std::string validation_split = "validation";  // "" = no validation
  int seq_len = 128;             // T; ≤ model.n_positions
  bool shuffle = true;
};

struct TrainSection {  // [train]
  int64_t max_steps = 100;       // optimizer steps (0 = use epochs)
  double epochs = 0;             // alternative to max_steps
  int micro_batch_size = 8;      // B per rank per micro-step
  int grad_accum_steps = 1;
  uint64_t seed = 1234;
  double grad_clip = 1.0;        // global-norm clip, 0 = off
  int64_t eval_interval = 50;    // steps between validations, 0 = only at the end
  int64_t eval_batches = 8;      // validation micro-batches per evaluation (0 = whole split)
  int64_t log_interval = 1;
  std::string device = "auto";   // auto | host | cuda
  std::string precision = "fp32";   // fp32 | bf16: bf16 runs the model's linear/LM-head GEMMs on bf16 operands (fp32 master weights)
  std::string bf16_fallback = "error";  // error | fp32: what bf16 does on a CPU without avx512_bf16
  double max_time_s = 0;         // stop (with checkpoint) after this wall time, 0 = none
  double peak_gflops = 0;        // per-rank peak for MFU; 0 = measure a BLAS sgemm at start
  // Fine-tuning recipe (task datasets).
  std::string eval_metric = "loss";  // metric that picks the best checkpoint / drives early stopping
  int early_stopping_patience = 0;   // evaluations without improvement before stopping (0 = off)
  double early_stopping_min_delta = 0;
  bool keep_best = false;            // save the best evaluation's weights in <run.dir>/best/ and restore them at the end
  double label_smoothing = 0;        // classification heads
  std::string class_weights = "";    // "" | "balanced" | "1.0,2.5" | "neg=1,pos=2.5"
  std::string resample = "none";     // none | oversample | undersample (sequence classification)
  double smote_ratio = 0;            // SMOTE on pooled head inputs: synthetic rows per minority row (0 = off)
  int smote_k = 5;                   // SMOTE: neighbours to interpolate towards
  // Freezing (docs/peft.md): frozen parameters get no gradient and no optimizer state.
  std::vector<std::string> freeze;   // glob patterns (* ?) on parameter names, e.g. "h.*.attn.*"
  bool freeze_embeddings = false;    // token/position/type tables and the embedding norm
  int freeze_blocks = 0;             // the bottom k transformer blocks
  // Activation recomputation (docs/peft.md): none | full (keep block inputs, recompute each block before its
  // backward) | selective (recompute the attention probabilities only). Sets TransformerConfig::recompute.
  std::string recompute = "none";
};

struct OptimSection {  // [optim]
  double lr = 3e-4;
  double min_lr_ratio = 0.1;     // final lr = lr * min_lr_ratio (cosine/linear)
  std::string schedule = "cosine";  // cosine | linear | constant
  int64_t warmup_steps = 0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;      // decoupled (AdamW), on matrices only
  double l1 = 0.0;                // L1 penalty λ·Σ|θ| on matrices (subgradient added before the step)
};

struct CheckpointSection {  // [checkpoint]
  std::string dir = "";          // "" = <run.dir>/checkpoints
  int64_t interval = 0;          // steps between saves, 0 = only at the end
  int keep_last = 3;             // 0 = keep all
  bool resume = false;           // resume from the newest complete checkpoint in dir
};

struct RunSection {  // [run]
  std::string dir = "runs/default";  // logs (metrics.jsonl), checkpoints
  std::string name = "";
};

struct GenerateSection {  // [generate] — sample printed at the end of training
  std::string prompt = "";
  int max_new_tokens = 0;        // 0 = no sample
  double temperature = 1.0;
  int top_k = 0;
};

struct ParallelSection {  // [parallel]
  int dp = 1;                    // data-parallel ranks
  int tp = 1;                    // tensor-parallel ranks (innermost: neighbours on a node)
  int pp = 1;                    // pipeline stages
  bool zero1 = false;            // shard AdamW moments over dp (ZeRO stage 1)
  double bucket_mb = 25;         // gradient all-reduce bucket size (MiB)
  double timeout_s = 300;        // hang watchdog: a collective/exchange not done within this aborts the job (0 = wait forever)
  double timeout_step_factor = 20;  // the timeout grows to this × the slowest step so far (0 = fixed timeout_s)
};

struct PruneSection {  // [prune] — gradual magnitude pruning while fine-tuning (src/compress/sparsity_masks.hpp)
  double final_sparsity = 0;     // 0 = off; in [0, 1)
  double initial_sparsity = 0;   // sparsity at start_step
  int64_t start_step = 0;        // Zhu & Gupta cubic schedule from start_step to end_step
  int64_t end_step = 0;
  int64_t frequency = 10;        // steps between mask updates
};

struct RunConfig {
  ModelSection model;
  DataSection data;
  TrainSection train;
  OptimSection optim;
  CheckpointSection checkpoint;
  RunSection run;
  GenerateSection generate;
  ParallelSection parallel;
  PruneSection prune;
  std::string source_text;  // the TOML text as read (stored in checkpoints)
  std::string source_path;
  std::set<std::string> given;  // dotted keys set explicitly in the file
};

// Parses and validates. Throws tessera::Error naming the file and the key.
RunConfig load_run_config(const std::string& path);
RunConfig parse_run_config(const std::string& toml_text, const std::string& origin);
// Same keys, for commands that need only the model (generate, predict, export):
// [data] may be absent.
RunConfig parse_model_config(const std::string& toml_text, const std::string& origin);
// Fine-tuning from model.init_from: the architecture (family and every size, norm
// epsilon, rope_theta, tying, pooler, pad id) comes from the checkpoint's stored
// config, as Hugging Face's from_pretrained reads config.json; the run keeps its
// head, num_labels and dropout settings. A key the run sets explicitly to a
// different value is an error naming it. stored_toml = the checkpoint's /run/config.
void adopt_init_from_architecture(RunConfig& cfg, const std::string& stored_toml, const std::string& origin);

// The [model] section of a config describing t (import writes it into checkpoints).
std::string model_toml(const TransformerConfig& t, const std::string& head = "");

// The value type of a run-config key by dotted name ("optim.lr"): "int", "float",
// "string", "bool" (or "other"); "" when no such key exists. For `tessera tune`.
std::string run_config_key_type(const std::string& dotted);
// The closest known key to an unknown dotted name ("" = none close).
std::string suggest_run_config_key(const std::string& dotted);

// Serialises back to TOML (round-trips through parse_run_config).
std::string to_toml(const RunConfig& cfg);

}  // namespace tessera
