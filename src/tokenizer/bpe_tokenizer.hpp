// Byte-level BPE tokenizer (GPT-2 / RoBERTa family), token-for-token compatible with
// Hugging Face `tokenizers` (BPE + ByteLevel(add_prefix_space=false, trim_offsets=false))
// and with tiktoken's "gpt2" encoding.
//
// Loading:
//   from_vocab_merges(vocab.json, merges.txt)  HF/OpenAI files (bytes_to_unicode alphabet)
//   from_tiktoken(gpt2.tiktoken)                "base64(token) rank" per line; id = rank
//   from_tokens_merges(tokens, merges, ...)     in memory, e.g. GGUF tokenizer.ggml.* (see
//                                               src/tokenizer/gguf_tokenizer.hpp)
// Encoding: special tokens (default "<|endoftext|>") are split out first; the rest is
// pre-tokenized with GPT-2's regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (hand-written scanner, utf8proc classes), then each piece's bytes are merged by rank.
// With individual_digits (HF Digits(individual_digits=true) before ByteLevel; llama.cpp's
// "\p{N}" split) every \p{N} character is a piece of its own and the regex runs on the
// text between them.
// Invalid UTF-8: each invalid byte is one character that is neither letter, number nor
// space (so it joins the punctuation run), and is BPE-encoded as its raw byte; never
// throws, and decode(encode(x)) == x for any bytes.
// Offsets: byte offsets widened to whole UTF-8 characters, as HF reports them when a
// token holds only part of a multi-byte character.
// Thread safety: encode/decode are safe to call concurrently (the BPE cache is locked).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/tokenizer/encoding.hpp"

namespace tessera {

class BpeTokenizer {
 public:
  static constexpr const char* kEndOfText = "<|endoftext|>";

  // Files missing/unreadable/malformed -> tessera::Error naming the file.
  // `specials`: tokens matched verbatim before pre-tokenization; those found in
  // vocab.json use that id, others get the next free ids.
  static BpeTokenizer from_vocab_merges(const std::string& vocab_json, const std::string& merges_txt,
                                        const std::vector<std::string>& specials = {kEndOfText});
  // tiktoken rank file; specials are (text, id) pairs (GPT-2: <|endoftext|> = 50256).
  static BpeTokenizer from_tiktoken(const std::string& path,
                                    const std::vector<std::pair<std::string, int32_t>>& specials = {
                                        {kEndOfText, 50256}});

  // Byte-level BPE held in memory. tokens[id] is spelled in the GPT-2 byte alphabet (a token
  // with a character outside it stands for its own UTF-8 bytes, as HF's GGUF loader reads
  // it); merges are "a b" in rank order; the tokens special_ids name are matched verbatim
  // before pre-tokenization (HF added tokens). A byte without a token (SmolLM2 lacks 21,
  // e.g. 0x04) is dropped when encoding and BPE merges across it, as HF's BPE without an
  // unk token does (ids equal; the merged token's offsets span the dropped byte).
  // `origin` names the source in errors.
  static BpeTokenizer from_tokens_merges(const std::vector<std::string>& tokens, const std::vector<std::string>& merges,
                                         const std::vector<int32_t>& special_ids, bool individual_digits,
                                         const std::string& origin, const std::string& name = "bpe-in-memory");

  std::vector<int32_t> encode(std::string_view text) const;
  Encoding encode_with_offsets(std::string_view text) const;
  // Bytes of each token concatenated (special tokens give their text). Ids out of
  // range throw Error.
  std::string decode(const std::vector<int32_t>& ids) const;

  int64_t vocab_size() const;
  // Id of the token whose bytes are `bytes` (special tokens included), or -1.
  int32_t token_to_id(std::string_view bytes) const;
  // Raw bytes of token `id` (throws Error when out of range).
  const std::string& id_to_bytes(int32_t id) const;
  std::string name() const;

  struct Impl;

 private:
  explicit BpeTokenizer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// GPT-2 byte_to_unicode table: byte -> code point of the printable stand-in char.
const std::vector<int32_t>& gpt2_bytes_to_unicode();

}  // namespace tessera
