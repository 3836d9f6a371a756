// Byte-level tokenizer: token id = byte value (0..255), plus one end-of-text
// token (256). Lossless for any byte string, UTF-8 or not.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera {

class ByteTokenizer {
 public:
  static constexpr int32_t kEot = 256;
  static constexpr const char* kEotText = "<|endoftext|>";
  std::string name() const { return "byte-v1"; }
  int64_t vocab_size() const { return 257; }
  // One token per byte; no EOT is added.
  std::vector<int32_t> encode(std::string_view text) const;
  // Bytes back; kEot decodes to "<|endoftext|>"; ids outside [0, 257) throw Error.
  std::string decode(const std::vector<int32_t>& ids) const;
};

}  // namespace tessera
