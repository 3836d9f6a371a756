#include "src/tokenizer/wordpiece_tokenizer.hpp"

#include <array>
#include <fstream>
#include <unordered_map>

#include "src/runtime/error.hpp"
#include "src/tokenizer/unicode_util.hpp"

namespace tessera {

namespace {

struct NChar {
  int32_t cp;
  uint32_t ob, oe;  // original byte range of the char this came from
};

bool is_chinese_char(int32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool is_bert_punc(int32_t c) {
  if (c < 0x80) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
  return uni::is_punctuation(c);
}

}  // namespace

struct WordPieceTokenizer::Impl {
  WordPieceOptions opt;
  bool strip_accents = true;
  std::unordered_map<std::string, int32_t> vocab;
  std::vector<std::string> tokens;
  std::vector<std::pair<std::string, int32_t>> specials;  // matched verbatim in raw input
  int32_t unk = -1, cls = -1, sep = -1;

  void push_lower(int32_t cp, uint32_t ob, uint32_t oe, std::vector<NChar>& out) const {
    if (!opt.lowercase) {
      out.push_back({cp, ob, oe});
    } else if (cp == 0x130) {  // full lowercase mapping (SpecialCasing): I WITH DOT ABOVE
      out.push_back({'i', ob, oe});
      out.push_back({0x307, ob, oe});
    } else {
      out.push_back({cp < 0x80 ? (cp >= 'A' && cp <= 'Z' ? cp + 32 : cp) : uni::to_lower_simple(cp), ob, oe});
    }
  }

  // BertNormalizer over text[0, n), original offsets shifted by base.
  void normalize(std::string_view text, size_t base, std::vector<NChar>& out) const {
    int32_t buf[8];
    for (size_t p = 0; p < text.size();) {
      int32_t cp;
      size_t len = uni::decode_utf8(text, p, cp);
      uint32_t ob = static_cast<uint32_t>(base + p), oe = static_cast<uint32_t>(base + p + len);
      p += len;
      if (cp < 0) cp = 0xFFFD;
      if (opt.clean_text) {
        if (cp == 0 || cp == 0xFFFD || uni::is_other_control(cp)) continue;
        if (uni::is_whitespace(cp)) cp = ' ';
      }
      bool cjk = opt.handle_chinese_chars && is_chinese_char(cp);
      if (cjk) out.push_back({' ', ob, oe});
      if (strip_accents && cp >= 0x80) {
        int n = uni::decompose_nfd(cp, buf, 8);
        for (int k = 0; k < n; ++k)
          if (!uni::is_mark_nonspacing(buf[k])) push_lower(buf[k], ob, oe, out);
      } else {
        push_lower(cp, ob, oe, out);
      }
      if (cjk) out.push_back({' ', ob, oe});
    }
  }

  void emit(int32_t id, uint32_t ob, uint32_t oe, Encoding& enc) const {
    enc.ids.push_back(id);
    enc.offsets.emplace_back(ob, oe);
  }

  void wordpiece(const NChar* w, size_t n, Encoding& enc, std::string& word, std::vector<size_t>& cpos,
                 std::string& sub, std::vector<std::array<int32_t, 3>>& pieces) const {
    if (static_cast<int>(n) > opt.max_input_chars_per_word) {
      emit(unk, w[0].ob, w[n - 1].oe, enc);
      return;
    }
    word.clear();
    cpos.clear();
    for (size_t i = 0; i < n; ++i) {
      cpos.push_back(word.size());
      uni::append_utf8(word, w[i].cp);
    }
    cpos.push_back(word.size());
    pieces.clear();
    size_t start = 0;
    while (start < n) {
      size_t end = n;
      int32_t found = -1;
      while (start < end) {
        sub.clear();
        if (start > 0) sub += opt.continuing_prefix;
        sub.append(word, cpos[start], cpos[end] - cpos[start]);
        auto it = vocab.find(sub);
        if (it != vocab.end()) {
          found = it->second;
          break;
        }
        --end;
      }
      if (found < 0) {
        emit(unk, w[0].ob, w[n - 1].oe, enc);
        return;
      }
      pieces.push_back({found, static_cast<int32_t>(start), static_cast<int32_t>(end)});
      start = end;
    }
    for (auto& pc : pieces) emit(pc[0], w[pc[1]].ob, w[pc[2] - 1].oe, enc);
  }

  void encode_plain(std::string_view text, size_t base, Encoding& enc) const {
    std::vector<NChar> norm;
    norm.reserve(text.size() + 8);
    normalize(text, base, norm);
    std::string word, sub;
    std::vector<size_t> cpos;
    std::vector<std::array<int32_t, 3>> pieces;
    size_t i = 0, n = norm.size();
    while (i < n) {
      int32_t c = norm[i].cp;
      if (c == ' ' || uni::is_whitespace(c)) { ++i; continue; }
      if (is_bert_punc(c)) {
        wordpiece(&norm[i], 1, enc, word, cpos, sub, pieces);
        ++i;
        continue;
      }
      size_t j = i + 1;
      while (j < n) {
        int32_t d = norm[j].cp;
        if (d == ' ' || uni::is_whitespace(d) || is_bert_punc(d)) break;
        ++j;
      }
      wordpiece(&norm[i], j - i, enc, word, cpos, sub, pieces);
      i = j;
    }
  }

  Encoding encode(std::string_view text, bool add_special) const {
    Encoding enc;
    if (add_special) emit(cls, 0, 0, enc);
    size_t pos = 0;
    while (pos < text.size()) {
      const SpecialMatch m = find_special(text, pos, specials);
      const size_t best = m.pos, best_len = m.len;
      const int32_t best_id = m.id;
      size_t end = best == std::string_view::npos ? text.size() : best;
      if (end > pos) encode_plain(text.substr(pos, end - pos), pos, enc);
      if (best == std::string_view::npos) break;
      emit(best_id, static_cast<uint32_t>(best), static_cast<uint32_t>(best + best_len), enc);
      pos = best + best_len;
    }
    if (add_special) emit(sep, 0, 0, enc);
    return enc;
  }
};

WordPieceTokenizer WordPieceTokenizer::from_vocab_txt(const std::string& path, const WordPieceOptions& opt) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open WordPiece vocabulary file (vocab.txt) '" + path + "'");
  auto impl = std::make_shared<Impl>();
  impl->opt = opt;
  impl->strip_accents = opt.strip_accents < 0 ? opt.lowercase : opt.strip_accents != 0;
  std::string line;
  while (std::getline(f, line)) {
    // HF: line.trim_end()
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t' || line.back() == '\n'))
      line.pop_back();
    int32_t id = static_cast<int32_t>(impl->tokens.size());
    impl->tokens.push_back(line);
    impl->vocab.emplace(line, id);
  }
  require(!impl->tokens.empty(), "WordPiece vocabulary '" + path + "' is empty");
  auto find = [&](const std::string& t) {
    auto it = impl->vocab.find(t);
    return it == impl->vocab.end() ? -1 : it->second;
  };
  impl->unk = find(opt.unk_token);
  require(impl->unk >= 0, "WordPiece vocabulary '" + path + "' lacks the unknown token " + opt.unk_token);
  impl->cls = find(opt.cls_token);
  impl->sep = find(opt.sep_token);
  for (const char* s : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
    int32_t id = find(s);
    if (id >= 0) impl->specials.emplace_back(s, id);
  }
  return WordPieceTokenizer(std::move(impl));
}

std::vector<int32_t> WordPieceTokenizer::encode(std::string_view text, bool add_special_tokens) const {
  return encode_with_offsets(text, add_special_tokens).ids;
}

Encoding WordPieceTokenizer::encode_with_offsets(std::string_view text, bool add_special_tokens) const {
  if (add_special_tokens)
    require(impl_->cls >= 0 && impl_->sep >= 0, "WordPiece vocabulary lacks [CLS]/[SEP] needed for add_special_tokens");
  return impl_->encode(text, add_special_tokens);
}

std::string WordPieceTokenizer::normalize(std::string_view text) const {
  std::vector<NChar> norm;
  impl_->normalize(text, 0, norm);
  std::string out;
  for (auto& c : norm) uni::append_utf8(out, c.cp);
  return out;
}

std::string WordPieceTokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::string out;
  const std::string& pre = impl_->opt.continuing_prefix;
  bool first = true;
  for (int32_t id : ids) {
    const std::string& t = id_to_token(id);
    if (skip_special_tokens) {
      bool special = false;
      for (auto& sp : impl_->specials)
        if (sp.second == id) special = true;
      if (special) continue;
    }
    if (!first && t.compare(0, pre.size(), pre) == 0) {
      out.append(t, pre.size(), std::string::npos);
    } else {
      if (!first) out.push_back(' ');
      out += t;
    }
    first = false;
  }
  // HF's cleanup (tokenizers::decoders::wordpiece::cleanup)
  static const std::pair<const char*, const char*> kRep[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
      {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (auto& [from, to] : kRep) {
    std::string f(from), t(to), r;
    size_t pos = 0, hit;
    while ((hit = out.find(f, pos)) != std::string::npos) {
      r.append(out, pos, hit - pos);
      r += t;
      pos = hit + f.size();
    }
    r.append(out, pos, std::string::npos);
    out.swap(r);
  }
  return out;
}

int64_t WordPieceTokenizer::vocab_size() const { return static_cast<int64_t>(impl_->tokens.size()); }
int32_t WordPieceTokenizer::token_to_id(const std::string& token) const {
  auto it = impl_->vocab.find(token);
  return it == impl_->vocab.end() ? -1 : it->second;
}
const std::string& WordPieceTokenizer::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->tokens.size())
    throw Error("WordPiece token id " + std::to_string(id) + " is out of range [0, " + std::to_string(impl_->tokens.size()) + ")");
  return impl_->tokens[id];
}
int32_t WordPieceTokenizer::unk_id() const { return impl_->unk; }
int32_t WordPieceTokenizer::cls_id() const { return impl_->cls; }
int32_t WordPieceTokenizer::sep_id() const { return impl_->sep; }

}  // namespace tessera
