#include "src/tasks/utf8_offsets.hpp"

namespace tessera::tasks {

int64_t utf8_byte_to_codepoint(std::string_view s, size_t byte) {
  if (byte > s.size()) byte = s.size();
  size_t i = 0;
  int64_t cp = 0;
  while (i < byte) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    if (i + len > s.size()) len = 1;
    for (size_t j = 1; j < len; ++j)
      if ((static_cast<unsigned char>(s[i + j]) & 0xC0) != 0x80) {
        len = 1;
        break;
      }
    i += len;
    ++cp;
  }
  return cp;
}

}  // namespace tessera::tasks
