// Raw text -> model input for token classification, encoded exactly as training
// encodes CoNLL words (encode_token_classification, "first-subword"): the text is
// split into words at ASCII whitespace, each word is encoded on its own (with a
// leading space after the first word when tok.word_prefix_space, as BPE), wrapped in
// [CLS] ... [SEP] when the tokenizer has them, and truncated to max_len. Each token
// comes with its role and byte offsets into the original text, ready for
// assign_tags / decode_entities (src/tasks/entity_decoding.hpp).
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "io/task_readers.hpp"
#include "src/tasks/entity_decoding.hpp"

namespace tessera::tasks {

struct TaggingInput {
  std::vector<int32_t> input_ids;   // unpadded, at most max_len
  std::vector<TaggedToken> tokens;  // same length; tag/score unset
  size_t words = 0;                 // words in the text
  size_t words_kept = 0;            // words with at least one token left after truncation
};

TaggingInput encode_words_for_tagging(std::string_view text, const TaskTokenizer& tok, int64_t max_len);

}  // namespace tessera::tasks
