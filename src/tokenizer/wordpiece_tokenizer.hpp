// BERT WordPiece tokenizer (bert-base-uncased / all-MiniLM-L6-v2 vocab.txt), token-for-
// token compatible with Hugging Face `tokenizers`' BertNormalizer + BertPreTokenizer +
// WordPiece (+ optional [CLS] ... [SEP] template).
//
//   normalizer:   clean_text (drop NUL, U+FFFD and Cc/Cf/Co/Cs except \t\n\r; map
//                 whitespace to ' '), CJK chars surrounded by spaces, strip accents
//                 (per-character NFD, drop Mn; default: on when lowercasing), lowercase
//   pre-tokenizer: split on whitespace (dropped); every punctuation char (ASCII
//                 punctuation or Unicode P*) is its own word
//   model:        greedy longest-match-first with "##" continuations; a word with no
//                 full segmentation or longer than max_input_chars_per_word -> [UNK]
// Offsets are UTF-8 byte offsets into the original input; a normalized char maps back to
// the whole original char it came from. Invalid UTF-8 bytes are treated as U+FFFD and so
// removed by clean_text (never throws).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/tokenizer/encoding.hpp"

namespace tessera {

struct WordPieceOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool lowercase = true;
  int strip_accents = -1;  // -1: same as lowercase (HF's None), 0 off, 1 on
  int max_input_chars_per_word = 100;
  std::string unk_token = "[UNK]";
  std::string continuing_prefix = "##";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
};

class WordPieceTokenizer {
 public:
  // vocab.txt: one token per line, id = line number (0-based). Missing file / missing
  // [UNK] -> tessera::Error naming the file.
  static WordPieceTokenizer from_vocab_txt(const std::string& path, const WordPieceOptions& opt = {});

  // add_special_tokens: [CLS] ids [SEP] (special tokens get offsets (0, 0), like HF).
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = false) const;
  Encoding encode_with_offsets(std::string_view text, bool add_special_tokens = false) const;
  // HF WordPiece decoder: tokens joined by spaces, "##" glued on, cleanup of spaces
  // before punctuation/contractions. Not an inverse of encode (lowercasing etc.).
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = true) const;
  // The normalized text (for debugging / docs).
  std::string normalize(std::string_view text) const;

  int64_t vocab_size() const;
  int32_t token_to_id(const std::string& token) const;  // -1 if absent
  const std::string& id_to_token(int32_t id) const;     // throws Error when out of range
  int32_t unk_id() const;
  int32_t cls_id() const;
  int32_t sep_id() const;

  struct Impl;

 private:
  explicit WordPieceTokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace tessera
