// Byte offsets (what tessera::Encoding and task offsets hold) to code-point offsets
// (Python str indices, what SQuAD files and HF pipelines report).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tessera::tasks {

// Number of code points that start before byte `byte` of UTF-8 `s` (byte is clamped
// to s.size()). Invalid bytes count as one code point each, as in
// utf8_codepoint_to_byte (io/task_readers.hpp), of which this is the inverse on
// character boundaries; an offset inside a character counts that character.
int64_t utf8_byte_to_codepoint(std::string_view s, size_t byte);

}  // namespace tessera::tasks
