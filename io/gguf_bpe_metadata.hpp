// GGUF tokenizer metadata (tokenizer.ggml.*) of a GPT-2 byte-level BPE given as
// Hugging Face's vocab.json + merges.txt, as llama.cpp's convert_hf_to_gguf.py writes
// it for the gpt2 architecture:
//   tokenizer.ggml.model = "gpt2", tokenizer.ggml.pre = "gpt-2",
//   tokenizer.ggml.tokens (id order), tokenizer.ggml.token_type (1 normal, 3 control for
//   <|endoftext|>), tokenizer.ggml.merges ("a b" by rank), bos/eos = <|endoftext|>.
// Host-only, free of MPI/Kokkos.
#pragma once
#include <string>
#include <utility>
#include <vector>
#include "io/gguf.hpp"

namespace tessera {

// `dir` holds vocab.json and merges.txt. Errors name the file (a missing file, ids that
// are not 0..n-1, a merge line that is not two symbols).
std::vector<std::pair<std::string, GgufValue>> gguf_bpe_metadata(const std::string& dir);

}  // namespace tessera
