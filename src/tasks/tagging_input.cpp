#include "src/tasks/tagging_input.hpp"

#include <algorithm>

#include "src/runtime/error.hpp"

namespace tessera::tasks {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

TaggingInput encode_words_for_tagging(std::string_view text, const TaskTokenizer& tok, int64_t max_len) {
  require(static_cast<bool>(tok.encode), "tagging input: tokenizer '" + tok.name + "' has no encode function");
  require(max_len > 0, "tagging input: max_len must be positive");
  TaggingInput in;
  auto special = [&](int32_t id) {
    in.input_ids.push_back(id);
    TaggedToken t;
    t.role = TokenRole::Special;
    in.tokens.push_back(t);
  };
  const int64_t specials = (tok.cls_id >= 0 ? 1 : 0) + (tok.sep_id >= 0 ? 1 : 0);
  const auto budget = static_cast<size_t>(std::max<int64_t>(0, max_len - specials));
  if (tok.cls_id >= 0) special(tok.cls_id);
  size_t body = 0, pos = 0;
  while (true) {
    while (pos < text.size() && is_space(text[pos])) ++pos;
    if (pos >= text.size()) break;
    size_t end = pos;
    while (end < text.size() && !is_space(text[end])) ++end;
    const std::string_view word = text.substr(pos, end - pos);
    const size_t shift = (tok.word_prefix_space && in.words > 0) ? 1 : 0;  // the added space
    const Encoding e = tok.encode(shift ? " " + std::string(word) : std::string(word));
    ++in.words;
    bool kept = false;
    for (size_t p = 0; p < e.ids.size() && body < budget; ++p, ++body) {
      TaggedToken t;
      t.role = p == 0 ? TokenRole::WordStart : TokenRole::Continuation;
      // offsets into the encoded string -> into text (the added space maps to the word start)
      t.begin = pos + std::min(word.size(), e.offsets[p].first > shift ? e.offsets[p].first - shift : 0);
      t.end = pos + std::min(word.size(), e.offsets[p].second > shift ? e.offsets[p].second - shift : 0);
      in.input_ids.push_back(e.ids[p]);
      in.tokens.push_back(t);
      kept = true;
    }
    if (kept) ++in.words_kept;
    pos = end;
  }
  if (tok.sep_id >= 0) special(tok.sep_id);
  if (in.input_ids.size() > static_cast<size_t>(max_len)) {  // max_len smaller than the specials
    in.input_ids.resize(static_cast<size_t>(max_len));
    in.tokens.resize(static_cast<size_t>(max_len));
  }
  return in;
}

}  // namespace tessera::tasks
