#include "src/tokenizer/bpe_tokenizer.hpp"

#include <algorithm>
#include <climits>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "src/runtime/error.hpp"
#include "src/tokenizer/unicode_util.hpp"

namespace tessera {

const std::vector<int32_t>& gpt2_bytes_to_unicode() {
  static const std::vector<int32_t> table = [] {
    std::vector<int32_t> t(256, -1);
    auto keep = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
    int n = 0;
    for (int b = 0; b < 256; ++b) t[b] = keep(b) ? b : 256 + n++;
    return t;
  }();
  return table;
}

namespace {

std::string read_whole(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(std::string("cannot open ") + what + " file '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Character classes of the GPT-2 pre-tokenizer regex.
enum Cls : uint8_t { kLetter, kNumber, kSpace, kOther };

struct AsciiTable {
  Cls c[128];
  AsciiTable() {
    for (int i = 0; i < 128; ++i) {
      if ((i >= 'a' && i <= 'z') || (i >= 'A' && i <= 'Z')) c[i] = kLetter;
      else if (i >= '0' && i <= '9') c[i] = kNumber;
      else if (i == ' ' || (i >= 9 && i <= 13)) c[i] = kSpace;
      else c[i] = kOther;
    }
  }
};
const AsciiTable kAscii;

// Class and byte length of the character at s[i].
inline Cls cls_at(std::string_view s, size_t i, size_t& len) {
  unsigned char b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) { len = 1; return kAscii.c[b]; }
  int32_t cp;
  len = uni::decode_utf8(s, i, cp);
  if (cp < 0) return kOther;
  if (uni::is_letter(cp)) return kLetter;
  if (uni::is_number(cp)) return kNumber;
  if (uni::is_whitespace(cp)) return kSpace;
  return kOther;
}

// End of the GPT-2 regex match starting at i (i < s.size()).
size_t next_piece(std::string_view s, size_t i) {
  const size_t n = s.size();
  if (s[i] == '\'' && i + 1 < n) {
    char a = s[i + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
    if (i + 2 < n) {
      char b = s[i + 2];
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    }
  }
  size_t k = (s[i] == ' ') ? i + 1 : i;
  if (k < n) {
    size_t len;
    Cls c = cls_at(s, k, len);
    if (c != kSpace) {
      size_t j = k + len;
      while (j < n) {
        size_t l2;
        if (cls_at(s, j, l2) != c) break;
        j += l2;
      }
      return j;
    }
  }
  // \s+(?!\S) | \s+  : s[i] is whitespace here.
  size_t j = i, last = i;
  while (j < n) {
    size_t len;
    if (cls_at(s, j, len) != kSpace) break;
    last = j;
    j += len;
  }
  if (j == n) return j;   // run reaches the end
  if (last > i) return last;  // leave the last space for the next word
  return j;               // a single space/tab before a non-space
}

struct Sym {
  uint32_t start, len;
  int32_t id;
};

}  // namespace

struct BpeTokenizer::Impl {
  std::string name;
  bool rank_mode = false;  // tiktoken: pair rank = rank of the concatenated bytes
  bool individual_digits = false;  // every \p{N} character is its own pre-token
  std::unordered_map<std::string, int32_t> encoder;  // token bytes -> id (no specials)
  std::vector<std::string> decoder;                  // id -> bytes (specials included)
  std::vector<bool> is_special;
  std::vector<std::pair<std::string, int32_t>> specials;
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges;  // (a,b) -> (rank, merged id)
  int32_t byte_id[256];

  mutable std::mutex cache_mu;
  mutable std::unordered_map<std::string, std::vector<std::pair<int32_t, uint32_t>>> cache;
  static constexpr size_t kCacheCap = 1 << 18;

  void set_specials(const std::vector<std::pair<std::string, int32_t>>& sp) {
    specials = sp;
    for (auto& [text, id] : sp) {
      require(!text.empty(), "BPE special token must not be empty");
      if (static_cast<size_t>(id) >= decoder.size()) {
        decoder.resize(id + 1);
        is_special.resize(id + 1, false);
      }
      decoder[id] = text;
      is_special[id] = true;
    }
  }

  // BPE of one pre-token; appends (id, byte length) pairs.
  void bpe(std::string_view piece, std::vector<std::pair<int32_t, uint32_t>>& out) const {
    if (rank_mode) {  // tiktoken: a piece that is a token is taken whole
      auto it = encoder.find(std::string(piece));
      if (it != encoder.end()) {
        out.emplace_back(it->second, static_cast<uint32_t>(piece.size()));
        return;
      }
    }
    std::vector<Sym> syms;
    syms.reserve(piece.size());
    for (size_t i = 0; i < piece.size(); ++i) {
      const int32_t id = byte_id[static_cast<unsigned char>(piece[i])];
      if (id >= 0) syms.push_back({static_cast<uint32_t>(i), 1, id});  // no token: dropped (HF, no unk)
    }
    std::string tmp;
    while (syms.size() > 1) {
      int32_t best_rank = INT32_MAX, best_id = -1;
      size_t best_i = 0;
      for (size_t i = 0; i + 1 < syms.size(); ++i) {
        int32_t rank, id;
        if (rank_mode) {
          tmp.assign(piece.substr(syms[i].start, syms[i].len + syms[i + 1].len));
          auto it = encoder.find(tmp);
          if (it == encoder.end()) continue;
          rank = id = it->second;
        } else {
          auto it = merges.find((static_cast<uint64_t>(static_cast<uint32_t>(syms[i].id)) << 32) |
                                static_cast<uint32_t>(syms[i + 1].id));
          if (it == merges.end()) continue;
          rank = it->second.first;
          id = it->second.second;
        }
        if (rank < best_rank) {
          best_rank = rank;
          best_id = id;
          best_i = i;
        }
      }
      if (best_id < 0) break;
      syms[best_i].len = syms[best_i + 1].start + syms[best_i + 1].len - syms[best_i].start;
      syms[best_i].id = best_id;
      syms.erase(syms.begin() + best_i + 1);
    }
    uint32_t at = 0;  // dropped bytes become (-1, length) gaps
    for (auto& s : syms) {
      if (s.start > at) out.emplace_back(-1, s.start - at);
      out.emplace_back(s.id, s.len);
      at = s.start + s.len;
    }
    if (at < piece.size()) out.emplace_back(-1, static_cast<uint32_t>(piece.size()) - at);
  }

  void encode_piece(std::string_view piece, std::vector<std::pair<int32_t, uint32_t>>& out) const {
    {
      std::lock_guard<std::mutex> lk(cache_mu);
      auto it = cache.find(std::string(piece));
      if (it != cache.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    size_t before = out.size();
    bpe(piece, out);
    std::lock_guard<std::mutex> lk(cache_mu);
    if (cache.size() < kCacheCap) cache.emplace(std::string(piece), std::vector<std::pair<int32_t, uint32_t>>(out.begin() + before, out.end()));
  }

  // Encodes text without specials; base = byte offset of text in the full input.
  void encode_plain(std::string_view text, size_t base, Encoding& enc, bool want_offsets) const {
    std::vector<std::pair<int32_t, uint32_t>> toks;
    std::vector<size_t> starts;
    size_t i = 0;
    while (i < text.size()) {
      size_t e = next_piece(text, i);
      std::string_view piece = text.substr(i, e - i);
      toks.clear();
      encode_piece(piece, toks);
      size_t pos = i;
      bool ascii = true;
      if (want_offsets && toks.size() > 1)
        for (char c : piece) if (static_cast<unsigned char>(c) >= 0x80) { ascii = false; break; }
      if (!ascii) {  // char starts, to widen partial-character tokens like HF
        starts.clear();
        for (size_t p = 0; p < piece.size();) {
          starts.push_back(p);
          int32_t cp;
          p += uni::decode_utf8(piece, p, cp);
        }
        starts.push_back(piece.size());
      }
      for (auto& [id, len] : toks) {
        if (id < 0) {  // bytes without a token (from_tokens_merges only)
          pos += len;
          continue;
        }
        enc.ids.push_back(id);
        if (want_offsets) {
          size_t b = pos - i, en = b + len;
          if (!ascii) {
            auto ub = std::upper_bound(starts.begin(), starts.end(), b);
            b = *(ub - 1);
            en = *std::lower_bound(starts.begin(), starts.end(), en);
          }
          enc.offsets.emplace_back(base + i + b, base + i + en);
        }
        pos += len;
      }
      i = e;
    }
  }

  // encode_plain, after the individual-digit split when that is on.
  void encode_split(std::string_view text, size_t base, Encoding& enc, bool want_offsets) const {
    if (!individual_digits) return encode_plain(text, base, enc, want_offsets);
    size_t from = 0;
    for (size_t i = 0; i < text.size();) {
      size_t len;
      if (cls_at(text, i, len) != kNumber) {
        i += len;
        continue;
      }
      if (i > from) encode_plain(text.substr(from, i - from), base + from, enc, want_offsets);
      encode_plain(text.substr(i, len), base + i, enc, want_offsets);
      i += len;
      from = i;
    }
    if (from < text.size()) encode_plain(text.substr(from), base + from, enc, want_offsets);
  }

  Encoding encode(std::string_view text, bool want_offsets) const {
    Encoding enc;
    enc.ids.reserve(text.size() / 3 + 4);
    size_t pos = 0;
    while (pos < text.size()) {
      const SpecialMatch m = find_special(text, pos, specials);
      const size_t best = m.pos, best_len = m.len;
      const int32_t best_id = m.id;
      size_t end = best == std::string_view::npos ? text.size() : best;
      if (end > pos) encode_split(text.substr(pos, end - pos), pos, enc, want_offsets);
      if (best == std::string_view::npos) break;
      enc.ids.push_back(best_id);
      if (want_offsets) enc.offsets.emplace_back(best, best + best_len);
      pos = best + best_len;
    }
    return enc;
  }
};

BpeTokenizer BpeTokenizer::from_vocab_merges(const std::string& vocab_json, const std::string& merges_txt,
                                             const std::vector<std::string>& specials) {
  auto impl = std::make_shared<Impl>();
  impl->name = "bpe-vocab-merges";
  // byte-level alphabet: stand-in code point -> byte
  std::vector<int> u2b(512, -1);
  const auto& b2u = gpt2_bytes_to_unicode();
  for (int b = 0; b < 256; ++b) u2b[b2u[b]] = b;

  std::string vtext = read_whole(vocab_json, "BPE vocabulary (vocab.json)");
  nlohmann::json vj;
  try {
    vj = nlohmann::json::parse(vtext);
  } catch (const std::exception& e) {
    throw Error("BPE vocabulary '" + vocab_json + "' is not valid JSON: " + e.what());
  }
  require(vj.is_object() && !vj.empty(), "BPE vocabulary '" + vocab_json + "' must be a non-empty JSON object");
  for (auto it = vj.begin(); it != vj.end(); ++it) {
    require(it.value().is_number_integer(), "BPE vocabulary '" + vocab_json + "': id of '" + it.key() + "' is not an integer");
    int64_t id = it.value().get<int64_t>();
    require(id >= 0 && id < (1 << 24), "BPE vocabulary '" + vocab_json + "': bad id for '" + it.key() + "'");
    const std::string& key = it.key();
    std::string bytes;
    for (size_t p = 0; p < key.size();) {
      int32_t cp;
      p += uni::decode_utf8(key, p, cp);
      if (cp < 0 || cp >= 512 || u2b[cp] < 0)
        throw Error("BPE vocabulary '" + vocab_json + "': token '" + key + "' is outside the byte-level alphabet");
      bytes.push_back(static_cast<char>(u2b[cp]));
    }
    if (static_cast<size_t>(id) >= impl->decoder.size()) {
      impl->decoder.resize(id + 1);
      impl->is_special.resize(id + 1, false);
    }
    impl->decoder[id] = bytes;
    impl->encoder[bytes] = static_cast<int32_t>(id);
  }
  for (int b = 0; b < 256; ++b) {
    auto it = impl->encoder.find(std::string(1, static_cast<char>(b)));
    require(it != impl->encoder.end(), "BPE vocabulary '" + vocab_json + "' lacks the token for byte " + std::to_string(b));
    impl->byte_id[b] = it->second;
  }

  std::string mtext = read_whole(merges_txt, "BPE merges (merges.txt)");
  std::istringstream ms(mtext);
  std::string line;
  int32_t rank = 0;
  int lineno = 0;
  auto to_bytes = [&](const std::string& tok) {
    std::string bytes;
    for (size_t p = 0; p < tok.size();) {
      int32_t cp;
      p += uni::decode_utf8(tok, p, cp);
      if (cp < 0 || cp >= 512 || u2b[cp] < 0)
        throw Error("BPE merges '" + merges_txt + "' line " + std::to_string(lineno) + ": '" + tok + "' is outside the byte-level alphabet");
      bytes.push_back(static_cast<char>(u2b[cp]));
    }
    return bytes;
  };
  while (std::getline(ms, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (lineno == 1 && line.rfind("#version", 0) == 0)) continue;
    size_t sp = line.find(' ');
    require(sp != std::string::npos && sp > 0 && sp + 1 < line.size() && line.find(' ', sp + 1) == std::string::npos,
            "BPE merges '" + merges_txt + "' line " + std::to_string(lineno) + ": expected 'a b'");
    std::string a = to_bytes(line.substr(0, sp)), b = to_bytes(line.substr(sp + 1));
    auto ia = impl->encoder.find(a), ib = impl->encoder.find(b), iab = impl->encoder.find(a + b);
    require(ia != impl->encoder.end() && ib != impl->encoder.end() && iab != impl->encoder.end(),
            "BPE merges '" + merges_txt + "' line " + std::to_string(lineno) + ": merge '" + line + "' uses tokens missing from the vocabulary");
    uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(ia->second)) << 32) | static_cast<uint32_t>(ib->second);
    impl->merges.emplace(key, std::make_pair(rank++, iab->second));
  }
  require(rank > 0, "BPE merges '" + merges_txt + "' has no merges");

  std::vector<std::pair<std::string, int32_t>> sp;
  int32_t next = static_cast<int32_t>(impl->decoder.size());
  for (auto& s : specials) {
    auto it = impl->encoder.find(s);
    sp.emplace_back(s, it != impl->encoder.end() ? it->second : next++);
  }
  impl->set_specials(sp);
  for (auto& [s, id] : sp) impl->encoder.erase(s);  // specials only match via the special path
  return BpeTokenizer(std::move(impl));
}

BpeTokenizer BpeTokenizer::from_tokens_merges(const std::vector<std::string>& tokens,
                                              const std::vector<std::string>& merges,
                                              const std::vector<int32_t>& special_ids, bool individual_digits,
                                              const std::string& origin, const std::string& name) {
  auto impl = std::make_shared<Impl>();
  impl->name = name;
  impl->individual_digits = individual_digits;
  require(!tokens.empty() && tokens.size() < (1u << 24), origin + ": the token list is empty or too long");
  std::vector<int> u2b(512, -1);
  const auto& b2u = gpt2_bytes_to_unicode();
  for (int b = 0; b < 256; ++b) u2b[b2u[b]] = b;
  // Token text -> bytes; false when a character is outside the byte alphabet.
  auto to_bytes = [&](const std::string& tok, std::string& bytes) {
    bytes.clear();
    for (size_t p = 0; p < tok.size();) {
      int32_t cp;
      p += uni::decode_utf8(tok, p, cp);
      if (cp < 0 || cp >= 512 || u2b[cp] < 0) return false;
      bytes.push_back(static_cast<char>(u2b[cp]));
    }
    return true;
  };
  impl->decoder.resize(tokens.size());
  impl->is_special.assign(tokens.size(), false);
  std::string bytes;
  for (size_t id = 0; id < tokens.size(); ++id) {
    require(!tokens[id].empty(), origin + ": token " + std::to_string(id) + " is empty");
    if (!to_bytes(tokens[id], bytes)) bytes = tokens[id];
    impl->decoder[id] = bytes;
    impl->encoder[bytes] = static_cast<int32_t>(id);
  }
  for (int b = 0; b < 256; ++b) {  // a byte without a token is dropped when encoding, like HF without unk
    auto it = impl->encoder.find(std::string(1, static_cast<char>(b)));
    impl->byte_id[b] = it == impl->encoder.end() ? -1 : it->second;
  }
  require(!merges.empty(), origin + ": no merges");
  std::string a, b;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& m = merges[rank];
    const size_t sp = m.find(' ');
    const std::string where = origin + ": merge " + std::to_string(rank) + " '" + m + "'";
    require(sp != std::string::npos && sp > 0 && sp + 1 < m.size() && m.find(' ', sp + 1) == std::string::npos,
            where + ": expected 'a b'");
    require(to_bytes(m.substr(0, sp), a) && to_bytes(m.substr(sp + 1), b), where + " is outside the byte-level alphabet");
    auto ia = impl->encoder.find(a), ib = impl->encoder.find(b), iab = impl->encoder.find(a + b);
    require(ia != impl->encoder.end() && ib != impl->encoder.end() && iab != impl->encoder.end(),
            where + " uses tokens missing from the vocabulary");
    uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(ia->second)) << 32) | static_cast<uint32_t>(ib->second);
    impl->merges.emplace(key, std::make_pair(static_cast<int32_t>(rank), iab->second));
  }
  std::vector<std::pair<std::string, int32_t>> sp;
  for (int32_t id : special_ids) {
    require(id >= 0 && static_cast<size_t>(id) < tokens.size(), origin + ": special token id " + std::to_string(id) + " is out of range");
    sp.emplace_back(impl->decoder[id], id);
  }
  impl->set_specials(sp);
  for (auto& [s, id] : sp) {
    auto it = impl->encoder.find(s);
    if (it != impl->encoder.end() && it->second == id) impl->encoder.erase(it);  // only via the special path
  }
  return BpeTokenizer(std::move(impl));
}

namespace {
std::string base64_decode(const std::string& in, const std::string& path, int lineno) {
  static const std::vector<int> table = [] {
    std::vector<int> t(256, -1);
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(a[i])] = i;
    return t;
  }();
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v = table[static_cast<unsigned char>(c)];
    if (v < 0) throw Error("tiktoken file '" + path + "' line " + std::to_string(lineno) + ": bad base64");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}
}  // namespace

BpeTokenizer BpeTokenizer::from_tiktoken(const std::string& path,
                                         const std::vector<std::pair<std::string, int32_t>>& specials) {
  auto impl = std::make_shared<Impl>();
  impl->name = "bpe-tiktoken";
  impl->rank_mode = true;
  std::string text = read_whole(path, "tiktoken rank");
  std::istringstream is(text);
  std::string line;
  int lineno = 0;
  while (std::getline(is, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    size_t sp = line.find(' ');
    require(sp != std::string::npos, "tiktoken file '" + path + "' line " + std::to_string(lineno) + ": expected '<base64> <rank>'");
    std::string bytes = base64_decode(line.substr(0, sp), path, lineno);
    int64_t rank;
    try {
      rank = std::stoll(line.substr(sp + 1));
    } catch (const std::exception&) {
      throw Error("tiktoken file '" + path + "' line " + std::to_string(lineno) + ": bad rank");
    }
    require(rank >= 0 && rank < (1 << 24) && !bytes.empty(), "tiktoken file '" + path + "' line " + std::to_string(lineno) + ": bad token/rank");
    if (static_cast<size_t>(rank) >= impl->decoder.size()) {
      impl->decoder.resize(rank + 1);
      impl->is_special.resize(rank + 1, false);
    }
    impl->decoder[rank] = bytes;
    impl->encoder[bytes] = static_cast<int32_t>(rank);
  }
  for (int b = 0; b < 256; ++b) {
    auto it = impl->encoder.find(std::string(1, static_cast<char>(b)));
    require(it != impl->encoder.end(), "tiktoken file '" + path + "' lacks the token for byte " + std::to_string(b));
    impl->byte_id[b] = it->second;
  }
  impl->set_specials(specials);
  return BpeTokenizer(std::move(impl));
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text) const { return impl_->encode(text, false).ids; }
Encoding BpeTokenizer::encode_with_offsets(std::string_view text) const { return impl_->encode(text, true); }

std::string BpeTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids) out += id_to_bytes(id);
  return out;
}

const std::string& BpeTokenizer::id_to_bytes(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->decoder.size())
    throw Error("BPE token id " + std::to_string(id) + " is out of range [0, " + std::to_string(impl_->decoder.size()) + ")");
  return impl_->decoder[id];
}

int64_t BpeTokenizer::vocab_size() const { return static_cast<int64_t>(impl_->decoder.size()); }

int32_t BpeTokenizer::token_to_id(std::string_view bytes) const {
  for (auto& [s, id] : impl_->specials)
    if (s == bytes) return id;
  auto it = impl_->encoder.find(std::string(bytes));
  return it == impl_->encoder.end() ? -1 : it->second;
}

std::string BpeTokenizer::name() const { return impl_->name; }

}  // namespace tessera
