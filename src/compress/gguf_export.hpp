// tessera export --format gguf: a Llama-family or GPT-2 decoder checkpoint (float32,
// sparse or quantised) as a GGUF v3 file that llama.cpp loads (docs/compression.md,
// "GGUF export"):
//   * GPT-2: general.architecture = "gpt2", gpt2.{context_length, embedding_length,
//     block_count, feed_forward_length, attention.head_count,
//     attention.layer_norm_epsilon, vocab_size}; tensors token_embd, position_embd,
//     blk.N.{attn_norm, attn_qkv, attn_output, ffn_norm, ffn_up, ffn_down}.{weight,bias},
//     output_norm (gguf_gpt2_tensor_names; no permutation); tokenizer.* also from a
//     vocab.json + merges.txt directory (io/gguf_bpe_metadata.hpp);
//   * Llama metadata: general.architecture = "llama", general.name, general.file_type,
//     general.quantization_version, llama.{context_length, embedding_length,
//     block_count, feed_forward_length, attention.head_count, attention.head_count_kv,
//     rope.freq_base, attention.layer_norm_rms_epsilon, rope.dimension_count, vocab_size};
//     tokenizer.* copied from `tokenizer` (a GGUF, e.g. the one the model was imported
//     from) or left out (the summary says so; llama.cpp needs a tokenizer to load);
//   * tensors under llama.cpp's names (token_embd, blk.N.attn_q, ..., output_norm,
//     output unless tied), attn_q / attn_k rows in llama.cpp's rotary order
//     (permute_rope_rows: the inverse of what import does);
//   * types: packed Q8_0 / Q4_0 / Q4_1 blocks of a quantised checkpoint are written
//     as they are (bit for bit); float tensors as F32, or with `quant` (f16 | q8_0 |
//     q4_0 | q4_1) every 2-D float tensor in that type (1-D norms stay F32). int8
//     (per-channel) has no GGUF type: it needs `quant`, and is dequantised and
//     requantised. A packed tensor of another format than `quant` is requantised too.
#pragma once
#include <mpi.h>
#include <cstdint>
#include <map>
#include <string>

namespace tessera {

struct GgufExportOptions {
  std::string quant;      // "" (as stored) | f32 | f16 | q8_0 | q4_0 | q4_1
  std::string tokenizer;  // GGUF whose tokenizer.* metadata is copied, or a GPT-2 tokenizer
                          // directory (vocab.json + merges.txt); "" = none
  std::string name;       // general.name ("" = the checkpoint's file stem)
};

struct GgufExportSummary {
  std::map<std::string, int> tensors_by_type;  // "Q4_0" -> count
  int requantized = 0;                          // packed tensors converted to another type
  bool tokenizer = false;
  uint64_t bytes = 0;
  std::string file_type;                        // general.file_type as a name
  std::string architecture;                     // general.architecture (llama | gpt2)
};

// Rank 0 reads `checkpoint` and writes `out`; collective over comm. Errors name the
// file, the tensor or the option.
GgufExportSummary export_gguf(const std::string& checkpoint, const std::string& out, const GgufExportOptions& opt,
                              MPI_Comm comm);

}  // namespace tessera
