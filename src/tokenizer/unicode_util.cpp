#include "src/tokenizer/unicode_util.hpp"

#include <utf8proc.h>

namespace tessera::uni {

void append_utf8(std::string& out, int32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_whitespace(int32_t cp) {
  if (cp < 0) return false;
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

static inline utf8proc_category_t cat(int32_t cp) {
  return cp < 0 ? UTF8PROC_CATEGORY_CN : utf8proc_category(cp);
}

bool is_letter(int32_t cp) {
  auto c = cat(cp);
  return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}
bool is_number(int32_t cp) {
  auto c = cat(cp);
  return c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO;
}
bool is_punctuation(int32_t cp) {
  auto c = cat(cp);
  return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}
bool is_mark_nonspacing(int32_t cp) { return cat(cp) == UTF8PROC_CATEGORY_MN; }
bool is_other_control(int32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  auto c = cat(cp);
  return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CO ||
         c == UTF8PROC_CATEGORY_CS;
}

int decompose_nfd(int32_t cp, int32_t* out, int out_cap) {
  int last_boundclass = 0;
  utf8proc_ssize_t n = utf8proc_decompose_char(cp, out, out_cap, UTF8PROC_DECOMPOSE, &last_boundclass);
  if (n < 0 || n > out_cap) {  // should not happen for canonical decompositions (max 4)
    out[0] = cp;
    return 1;
  }
  return static_cast<int>(n);
}

int32_t to_lower_simple(int32_t cp) { return utf8proc_tolower(cp); }

}  // namespace tessera::uni
