// Token-classification (NER) decoding: per-token predicted tags -> entities with type,
// span and text. Words carry the tag of their first sub-word (the "first-subword"
// alignment training uses; HF pipeline aggregation_strategy="first"); the word tag
// sequence is read with seqeval's strict IOB2 rules (metrics::extract_entities,
// EntityMode::StrictIOB2): an entity is B-X followed by the longest run of I-X, a
// stray I-X is not an entity. Entity score = mean over its words of the first
// sub-word's tag probability.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace tessera::tasks {

enum class TokenRole : uint8_t {
  WordStart,     // first sub-word of a word: its tag is the word's tag
  Continuation,  // a later sub-word of the word started by the previous WordStart
  Special,       // [CLS], [SEP], padding, ...: ignored
};

struct TaggedToken {
  int32_t tag = 0;            // predicted tag id (index into the label map)
  double score = 1.0;         // probability of that tag
  size_t begin = 0, end = 0;  // byte offsets [begin, end) into the text (unused for Special)
  TokenRole role = TokenRole::WordStart;
};

// Sets tag = argmax (lowest id on ties) and score = its softmax probability for each
// token from logits [tokens.size(), K] (row-major). NaN / +inf logits throw Error.
void assign_tags(std::vector<TaggedToken>& tokens, const float* logits, int64_t K);

struct DecodedEntity {
  std::string type;                     // "PER" for B-PER I-PER ...
  size_t byte_start = 0, byte_end = 0;  // [start, end) into the text, UTF-8 bytes
  int64_t char_start = 0, char_end = 0; // the same span in code points (Python str indices)
  std::string text;                     // text[byte_start, byte_end)
  double score = 0.0;
  size_t first_word = 0, end_word = 0;  // words [first_word, end_word) (counting WordStart tokens)
};

// A word spans from its WordStart token's begin to the largest end among it and its
// Continuation tokens; an entity spans from its first word's start to its last
// word's end (so the text between its words is included). Continuation tokens before
// any WordStart are ignored. Tags outside [0, label_names.size()), offsets outside
// the text, and label names other than O / B-X / I-X throw Error.
std::vector<DecodedEntity> decode_entities(const std::vector<TaggedToken>& tokens,
                                           const std::vector<std::string>& label_names, std::string_view text);

// [{"type", "text", "start", "end" (code points), "byte_start", "byte_end", "score"}, ...]
nlohmann::json entities_json(const std::vector<DecodedEntity>& entities);

}  // namespace tessera::tasks
