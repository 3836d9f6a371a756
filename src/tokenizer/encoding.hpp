// tessera::Encoding: token ids plus, per token, the [begin, end) byte offsets of the
// input text it came from (what HF `tokenizers` calls offsets, but in UTF-8 bytes).
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace tessera {

struct Encoding {
  std::vector<int32_t> ids;
  std::vector<std::pair<size_t, size_t>> offsets;  // same length as ids
};

}  // namespace tessera
