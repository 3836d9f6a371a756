// Tessera's parameter names and full shapes for a TransformerConfig, and how they map
// to Hugging Face checkpoints. Names are HF's without the model prefix ("h.0.ln_1.weight",
// "encoder.layer.0.attention.self.query.weight", "layers.0.mlp.gate_proj.weight"); task
// heads keep HF's top-level names (lm_head, classifier, score, qa_outputs). Every linear
// weight is [out, in] like nn.Linear; HF GPT-2 stores c_attn / c_proj / c_fc as Conv1D
// [in, out], so those are transposed on the way in and out.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "src/model/transformer_config.hpp"

namespace tessera {

struct ParamShape {
  std::string name;
  std::vector<int64_t> shape;
  bool head = false;  // task head: a top-level name in HF checkpoints (no backbone prefix)
};

// Every parameter of the model cfg describes, in a fixed order (embeddings, blocks,
// final norm, pooler, head). cfg.pooler decides the BERT/RoBERTa pooler.
std::vector<ParamShape> transformer_parameter_shapes(const TransformerConfig& cfg);

// True for the GPT-2 weights HF stores transposed (Conv1D).
bool hf_stores_transposed(const TransformerConfig& cfg, const std::string& name);

// Row-major [rows, cols] → [cols, rows].
std::vector<float> transpose_2d(const std::vector<float>& src, int64_t rows, int64_t cols);

// "[2, 3]"
std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace tessera
