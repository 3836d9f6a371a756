// Hugging Face config.json ⇄ TransformerConfig for model_type gpt2 / bert / roberta /
// llama. Keys missing from the file take transformers' class defaults (GPT2Config,
// BertConfig, RobertaConfig, LlamaConfig); the task head comes from architectures[0]
// (GPT2LMHeadModel → causal_lm, BertModel → none, *ForSequenceClassification, ...).
// Anything Tessera's block cannot reproduce (another hidden_act, rope_scaling,
// attention/MLP biases on Llama, a head_dim other than hidden/heads, cross attention)
// is an error naming the file and the key. Free of MPI/Kokkos (fuzz/ compiles it).
#pragma once
#include <string>
#include "src/model/transformer_config.hpp"

namespace tessera {

// Parses config.json text (`origin` names it in errors), applies the family defaults and
// validates. Throws tessera::Error "<origin>: <key>: ...".
TransformerConfig parse_hf_config(const std::string& json_text, const std::string& origin);
// Reads and parses `path`.
TransformerConfig load_hf_config(const std::string& path);

// The transformers class a checkpoint of cfg is saved as, e.g. "LlamaForCausalLM".
std::string hf_architecture(const TransformerConfig& cfg);
// Prefix of the backbone's tensor names in that class ("transformer.", "bert.",
// "roberta.", "model."; "" for the bare *Model classes).
std::string hf_backbone_prefix(const TransformerConfig& cfg);

// config.json text that transformers loads into the same model (architectures,
// model_type, torch_dtype float32 and the size/dropout/epsilon fields).
// torch_dtype: the dtype written as "torch_dtype"/"dtype" (float32, bfloat16, float16).
std::string hf_config_json(const TransformerConfig& cfg, const std::string& torch_dtype = "float32");

}  // namespace tessera
