// Pretrained checkpoints in and out of Tessera: a Hugging Face model directory
// (config.json + model.safetensors, or a model.safetensors.index.json with its shards)
// or a llama.cpp GGUF file becomes a TransformerConfig plus every parameter as a
// full-shape float32 tensor under Tessera's names (io/hf_param_names.hpp); the reverse
// writes <dir>/model.safetensors (F32, HF names with the class's prefix, as
// save_pretrained would) and <dir>/config.json.
//
// Import checks every tensor the config implies is present with its shape (HF shape:
// GPT-2's Conv1D weights transposed), dtype F32/F16/BF16 (GGUF: every type
// io/dequantize supports); unknown tensors are errors except known buffers (GPT-2
// attn.bias / attn.masked_bias, embeddings.position_ids, rotary_emb.inv_freq), a tied
// lm_head duplicate and BERT/RoBERTa pre-training heads (cls.*, lm_head.*), which are
// listed in `dropped`. GGUF q/k projections are un-permuted from llama.cpp's
// interleaved-RoPE row order back to HF's (rotate_half) order.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>
#include "src/model/transformer_config.hpp"
#include "io/safetensors.hpp"

namespace tessera {

struct FloatTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;  // row-major
};

struct ImportedModel {
  TransformerConfig config;
  std::map<std::string, FloatTensor> tensors;  // Tessera names, full shapes
  std::vector<std::string> dropped;            // source tensors deliberately not imported
};

// A Hugging Face model directory.
ImportedModel import_hf_directory(const std::string& dir);
// A GGUF file (general.architecture = llama or gpt2).
ImportedModel import_gguf(const std::string& path);
// Either, by what `path` is (a directory, or a file starting with "GGUF").
ImportedModel import_pretrained(const std::string& path);

// Throws Error (prefixed with `origin`) unless m.tensors holds exactly the parameters of
// m.config with their shapes and data sizes.
void check_model_tensors(const ImportedModel& m, const std::string& origin);

// Writes <dir>/model.safetensors and <dir>/config.json (creating dir). `dtype` is the
// stored type of every tensor: F32 (exact), BF16 or F16 (rounded to nearest even from the
// fp32 values the checkpoint holds; config.json's dtype says which).
void export_hf_directory(const std::string& dir, const ImportedModel& m, StDtype dtype = StDtype::F32);

// llama.cpp's row permutation of attn_q / attn_k (convert_hf_to_gguf.py `permute`):
// HF → GGUF is w.reshape(n_head, 2, rows/n_head/2, cols).swapaxes(1, 2); this is its
// inverse, GGUF → HF, on a row-major [rows, cols] matrix.
std::vector<float> unpermute_rope_rows(const std::vector<float>& w, int64_t rows, int64_t cols, int n_head);
// HF → GGUF (tessera export --format gguf).
std::vector<float> permute_rope_rows(const std::vector<float>& w, int64_t rows, int64_t cols, int n_head);
// Tessera name → llama.cpp tensor name of a Llama with n_layer blocks
// (embed_tokens.weight → token_embd.weight, layers.N.self_attn.q_proj.weight → blk.N.attn_q.weight, ...).
std::map<std::string, std::string> gguf_llama_tensor_names(int n_layer);
// GPT-2 (llama.cpp's gpt2 architecture): wte.weight → token_embd.weight, wpe.weight →
// position_embd.weight, h.N.attn.c_attn.{weight,bias} → blk.N.attn_qkv.*, c_proj →
// attn_output, ln_1/ln_2 → attn_norm/ffn_norm, mlp.c_fc/c_proj → ffn_up/ffn_down,
// ln_f → output_norm. Matrices are [out, in] in both (Tessera stores GPT-2's Conv1D
// weights transposed, as llama.cpp's converter writes them).
std::map<std::string, std::string> gguf_gpt2_tensor_names(int n_layer);
// The map of c's family (llama or gpt2; other families are an Error).
std::map<std::string, std::string> gguf_tensor_names(const TransformerConfig& c);

}  // namespace tessera
