#include "src/tasks/near_duplicate.hpp"
#include <algorithm>
#include "src/runtime/error.hpp"

namespace tessera::tasks {

std::string normalize_text(const std::string& text) {
  std::string out;
  bool gap = false;
  for (unsigned char c : text) {
    const bool keep = c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!keep) {
      gap = true;
      continue;
    }
    if (gap && !out.empty()) out += ' ';
    gap = false;
    out += char(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  return out;
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> w;
  std::string cur;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      if (!cur.empty()) w.push_back(cur), cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) w.push_back(cur);
  return w;
}

std::set<std::string> word_ngrams(const std::string& text, int n) {
  require(n >= 1, "word_ngrams: n must be >= 1");
  const std::vector<std::string> w = split_words(normalize_text(text));
  std::set<std::string> out;
  if (w.empty()) return out;
  const size_t m = std::min(w.size(), size_t(n));
  for (size_t i = 0; i + m <= w.size(); ++i) {
    std::string g = w[i];
    for (size_t j = 1; j < m; ++j) g += ' ' + w[i + j];
    out.insert(g);
  }
  return out;
}

double jaccard(const std::set<std::string>& a, const std::set<std::string>& b) {
  if (a.empty() && b.empty()) return 1.0;
  size_t inter = 0;
  for (const std::string& s : a) inter += b.count(s);
  return double(inter) / double(a.size() + b.size() - inter);
}

}  // namespace tessera::tasks
