#include "src/tokenizer/byte_tokenizer.hpp"

#include "src/runtime/error.hpp"

namespace tessera {

std::vector<int32_t> ByteTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size());
  for (char c : text) ids.push_back(static_cast<int32_t>(static_cast<unsigned char>(c)));
  return ids;
}

std::string ByteTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  out.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    int32_t id = ids[i];
    if (id == kEot) {
      out += kEotText;
    } else if (id >= 0 && id < 256) {
      out.push_back(static_cast<char>(static_cast<unsigned char>(id)));
    } else {
      throw Error("byte-v1 tokenizer: token id " + std::to_string(id) + " at position " + std::to_string(i) +
                  " is outside [0, 257)");
    }
  }
  return out;
}

}  // namespace tessera
