// tessera::Encoding: token ids plus, per token, the [begin, end) byte offsets of the
// input text it came from (what HF `tokenizers` calls offsets, but in UTF-8 bytes).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera {

struct Encoding {
  std::vector<int32_t> ids;
  std::vector<std::pair<size_t, size_t>> offsets;  // same length as ids
};

// The earliest special token (e.g. "<|endoftext|>", "[SEP]") in text at or after
// pos; on a tie the longest wins. pos = npos when none occurs.
struct SpecialMatch {
  size_t pos = std::string_view::npos, len = 0;
  int32_t id = -1;
};
inline SpecialMatch find_special(std::string_view text, size_t from,
                                 const std::vector<std::pair<std::string, int32_t>>& specials) {
  SpecialMatch best;
  for (const auto& [sp, id] : specials) {
    const size_t f = text.find(sp, from);
    if (f != std::string_view::npos && (f < best.pos || (f == best.pos && sp.size() > best.len))) best = {f, sp.size(), id};
  }
  return best;
}

}  // namespace tessera
