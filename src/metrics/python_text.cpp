// Python str semantics the reference metrics depend on: str.lower() (full mapping
// + Final_Sigma), str.split() / str.isspace(), and re's Unicode \w. Backed by
// utf8proc; invalid UTF-8 is rejected (a Python str cannot hold it).
#include "src/metrics/python_text.hpp"

#include <utf8proc.h>

#include "src/runtime/error.hpp"
#include "src/tokenizer/unicode_util.hpp"

namespace tessera::metrics {
namespace detail {

std::vector<int32_t> decode_checked(std::string_view s, const char* what) {
  std::vector<int32_t> cps;
  cps.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) {
    int32_t cp;
    size_t len = uni::decode_utf8(s, pos, cp);
    if (cp == uni::kInvalidCp)
      throw Error(std::string(what) + ": invalid UTF-8 at byte " + std::to_string(pos));
    cps.push_back(cp);
    pos += len;
  }
  return cps;
}

std::string encode(const std::vector<int32_t>& cps) {
  std::string out;
  out.reserve(cps.size());
  for (int32_t cp : cps) uni::append_utf8(out, cp);
  return out;
}

bool py_isspace(int32_t cp) {
  if (cp < 128) return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20);
  switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

bool py_isword(int32_t cp) {
  if (cp < 128) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
  return uni::is_letter(cp) || uni::is_number(cp);
}

// Unicode Cased (Lowercase | Uppercase | Lt), approximated by the general
// categories plus "has a case mapping" (covers e.g. circled letters, U+0345).
static bool is_cased(int32_t cp) {
  const auto cat = utf8proc_category(cp);
  if (cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT) return true;
  return utf8proc_tolower(cp) != cp || utf8proc_toupper(cp) != cp;
}

// Unicode Case_Ignorable: Mn Me Cf Lm Sk, plus Word_Break MidLetter / MidNumLet /
// Single_Quote.
static bool is_case_ignorable(int32_t cp) {
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_SK:
      return true;
    default:
      break;
  }
  switch (cp) {
    case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F: case 0x5F4: case 0x2018: case 0x2019:
    case 0x2024: case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
      return true;
    default:
      return false;
  }
}

std::vector<int32_t> py_lower(const std::vector<int32_t>& cps) {
  std::vector<int32_t> out;
  out.reserve(cps.size() + 2);
  const size_t n = cps.size();
  for (size_t i = 0; i < n; ++i) {
    const int32_t c = cps[i];
    if (c < 128) {
      out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
    } else if (c == 0x130) {  // the one unconditional multi-char lowercase mapping
      out.push_back(0x69);
      out.push_back(0x307);
    } else if (c == 0x3A3) {  // Final_Sigma, as CPython's handle_capital_sigma
      size_t j = i;
      int32_t prev = 0;
      bool found = false;
      while (j > 0) {
        prev = cps[--j];
        if (!is_case_ignorable(prev)) { found = true; break; }
      }
      bool final_sigma = found && is_cased(prev);
      if (final_sigma && i + 1 < n) {
        size_t k = i + 1;
        for (; k < n; ++k)
          if (!is_case_ignorable(cps[k])) break;
        final_sigma = k == n || !is_cased(cps[k]);
      }
      out.push_back(final_sigma ? 0x3C2 : 0x3C3);
    } else {
      out.push_back(utf8proc_tolower(c));
    }
  }
  return out;
}

}  // namespace detail

std::string python_lower(std::string_view s) {
  return detail::encode(detail::py_lower(detail::decode_checked(s, "python_lower")));
}

std::vector<std::string> python_split(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  bool in_token = false;
  for (size_t pos = 0; pos < s.size();) {
    int32_t cp;
    size_t len = uni::decode_utf8(s, pos, cp);
    if (cp == uni::kInvalidCp) throw Error("python_split: invalid UTF-8 at byte " + std::to_string(pos));
    if (detail::py_isspace(cp)) {
      if (in_token) out.push_back(std::move(cur));
      cur.clear();
      in_token = false;
    } else {
      cur.append(s.substr(pos, len));
      in_token = true;
    }
    pos += len;
  }
  if (in_token) out.push_back(std::move(cur));
  return out;
}

}  // namespace tessera::metrics
