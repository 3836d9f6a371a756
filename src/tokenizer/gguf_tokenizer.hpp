// Byte-level BPE tokenizer from a GGUF file's tokenizer.ggml.* metadata (llama.cpp
// convert scripts; model "gpt2"), e.g. SmolLM2: tokens + merges, control (token_type 3)
// and user-defined (4) tokens matched whole like HF added tokens, no BOS/EOS added.
//
// Pre-tokenizer (tokenizer.ggml.pre), GgufPreTokenizer::Auto, as llama.cpp and the
// models' published tokenizer.json split text:
//   "smollm" "starcoder" "refact" "command-r" "codeshell" "exaone" "minerva-7b"
//       -> every \p{N} character alone, then the GPT-2 regex (HF Digits(individual) + ByteLevel)
//   "gpt-2" "gpt2" "mpt" "olmo" "jais" or absent -> the GPT-2 regex
//   anything else (llama3, qwen2, ...) -> Error naming the file and the value.
// GgufPreTokenizer::Gpt2 forces the GPT-2 regex alone: what transformers' GGUF loader
// (AutoTokenizer.from_pretrained(dir, gguf_file=...), 5.x) builds for "smollm", which has no
// split entry there; it differs from Auto only around non-ASCII numbers (½, ², Ⅻ, ٣).
// Fixtures: tests/fixtures/tokenizer/smollm2_gguf.jsonl (Gpt2) and smollm2_digits_diff.jsonl (Auto).
//
// Errors (tessera::Error naming the file): no tokenizer metadata, a model other than
// "gpt2" (SentencePiece "llama", ...), no merges, malformed merges/tokens.
#pragma once
#include <string>

#include "io/gguf.hpp"
#include "src/tokenizer/bpe_tokenizer.hpp"

namespace tessera {

enum class GgufPreTokenizer { Auto, Gpt2, Gpt2IndividualDigits };

// True when tokenizer.ggml.pre = `pre` splits digits individually under Auto; Error for a
// name this tokenizer cannot reproduce.
bool gguf_pre_splits_digits(const std::string& pre, const std::string& origin);

BpeTokenizer bpe_tokenizer_from_gguf(const GgufFile& file, GgufPreTokenizer pre = GgufPreTokenizer::Auto);
BpeTokenizer bpe_tokenizer_from_gguf(const std::string& path, GgufPreTokenizer pre = GgufPreTokenizer::Auto);

}  // namespace tessera
