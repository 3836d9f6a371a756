// Small Unicode helpers for the tokenizers (UTF-8 decoding, character classes),
// backed by utf8proc. Invalid UTF-8 is decoded one byte at a time as kInvalidCp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tessera::uni {

constexpr int32_t kInvalidCp = -1;

// Decodes the code point starting at s[pos]; returns its length in bytes (>= 1).
// Malformed, overlong or surrogate sequences yield cp = kInvalidCp and length 1.
inline size_t decode_utf8(std::string_view s, size_t pos, int32_t& cp) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + pos;
  const size_t left = s.size() - pos;
  unsigned char c = p[0];
  if (c < 0x80) { cp = c; return 1; }
  auto cont = [&](size_t i) { return i < left && (p[i] & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF && cont(1)) { cp = ((c & 0x1F) << 6) | (p[1] & 0x3F); return 2; }
  if (c >= 0xE0 && c <= 0xEF && cont(1) && cont(2)) {
    int32_t v = ((c & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    if (v >= 0x800 && (v < 0xD800 || v > 0xDFFF)) { cp = v; return 3; }
  }
  if (c >= 0xF0 && c <= 0xF4 && cont(1) && cont(2) && cont(3)) {
    int32_t v = ((c & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    if (v >= 0x10000 && v <= 0x10FFFF) { cp = v; return 4; }
  }
  cp = kInvalidCp;
  return 1;
}

void append_utf8(std::string& out, int32_t cp);

// Unicode White_Space (what Rust's char::is_whitespace, Oniguruma's and the regex
// crate's \s accept).
bool is_whitespace(int32_t cp);
bool is_letter(int32_t cp);       // \p{L}: Lu Ll Lt Lm Lo
bool is_number(int32_t cp);       // \p{N}: Nd Nl No
bool is_punctuation(int32_t cp);  // \p{P}: Pc Pd Ps Pe Pi Pf Po
bool is_mark_nonspacing(int32_t cp);  // Mn
// Cc, Cf, Co, Cs (HF BertNormalizer's "other" chars; \t \n \r are not control there).
bool is_other_control(int32_t cp);
// Canonical decomposition (NFD of one code point, recursively); returns the count
// written to out (at most out_cap).
int decompose_nfd(int32_t cp, int32_t* out, int out_cap);
int32_t to_lower_simple(int32_t cp);

}  // namespace tessera::uni
