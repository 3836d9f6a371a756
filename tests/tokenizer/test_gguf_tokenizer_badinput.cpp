// bpe_tokenizer_from_gguf on crafted in-memory GGUFs: no tokenizer metadata, an
// unsupported model or pre-tokenizer, missing/bad merges -> tessera::Error naming the
// file; a tiny valid vocabulary checks specials and the individual-digit split by hand.
#include <gtest/gtest.h>

#include <functional>

#include "io/gguf.hpp"
#include "src/runtime/error.hpp"
#include "src/tokenizer/gguf_tokenizer.hpp"

using namespace tessera;

namespace {

void expect_error(const std::function<void()>& fn, std::initializer_list<const char*> needles) {
  try {
    fn();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    for (const char* n : needles)
      EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << "'" << n << "' in " << e.what();
  }
}

// GGUF v3 with metadata only (no tensors).
struct G {
  std::string b;
  uint64_t n_kv = 0;
  template <class T>
  G& put(T v) {
    b.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  G& str(const std::string& s) {
    put<uint64_t>(s.size());
    b += s;
    return *this;
  }
  G& kv_str(const std::string& k, const std::string& v) {
    ++n_kv;
    return str(k).put<uint32_t>(8).str(v);
  }
  G& kv_strs(const std::string& k, const std::vector<std::string>& v) {
    ++n_kv;
    str(k).put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(v.size());
    for (auto& s : v) str(s);
    return *this;
  }
  G& kv_i32s(const std::string& k, const std::vector<int32_t>& v) {
    ++n_kv;
    str(k).put<uint32_t>(9).put<uint32_t>(5).put<uint64_t>(v.size());
    for (int32_t x : v) put<int32_t>(x);
    return *this;
  }
  GgufFile file(const std::string& name) const {
    std::string h = "GGUF";
    auto app = [&](auto v) { h.append(reinterpret_cast<const char*>(&v), sizeof v); };
    app(uint32_t(3));
    app(uint64_t(0));
    app(n_kv);
    std::string all = h + b;
    while (all.size() % 32) all.push_back('\0');
    return GgufFile::from_memory(all, name);
  }
};

// GPT-2 alphabet spelling of one byte.
std::string spell(unsigned char c) {
  std::string s;
  const int32_t cp = gpt2_bytes_to_unicode()[c];
  if (cp < 0x80) s.push_back(char(cp));
  else {
    s.push_back(char(0xC0 | (cp >> 6)));
    s.push_back(char(0x80 | (cp & 0x3F)));
  }
  return s;
}

// 256 byte tokens (id = byte), then "12" (256), "<ctl>" control (257), "ab" (258),
// "Ġ1" (259).
G tiny_vocab(const std::string& pre) {
  std::vector<std::string> toks;
  for (int b = 0; b < 256; ++b) toks.push_back(spell(uint8_t(b)));
  toks.insert(toks.end(), {"12", "<ctl>", "ab", spell(' ') + "1"});
  std::vector<int32_t> types(toks.size(), 1);
  types[257] = 3;
  G g;
  g.kv_str("general.architecture", "llama").kv_str("tokenizer.ggml.model", "gpt2");
  if (!pre.empty()) g.kv_str("tokenizer.ggml.pre", pre);
  g.kv_strs("tokenizer.ggml.tokens", toks).kv_i32s("tokenizer.ggml.token_type", types);
  g.kv_strs("tokenizer.ggml.merges", {"1 2", "a b", spell(' ') + " 1"});
  return g;
}

}  // namespace

TEST(GgufTokenizerBadInput, WeightsOnlyGgufSaysThereIsNoTokenizer) {
  G g;
  g.kv_str("general.architecture", "llama");
  auto f = g.file("weights_only.gguf");
  expect_error([&] { bpe_tokenizer_from_gguf(f); }, {"weights_only.gguf", "no tokenizer metadata", "tokenizer.ggml.model"});
  // tokens without a model, too
  G h;
  h.kv_strs("tokenizer.ggml.tokens", {"a"});
  auto f2 = h.file("tokens_only.gguf");
  expect_error([&] { bpe_tokenizer_from_gguf(f2); }, {"tokens_only.gguf", "no tokenizer metadata"});
}

TEST(GgufTokenizerBadInput, UnsupportedModelPreOrMerges) {
  G sp;
  sp.kv_str("tokenizer.ggml.model", "llama").kv_strs("tokenizer.ggml.tokens", {"<unk>", "a"});
  auto f = sp.file("spm.gguf");
  expect_error([&] { bpe_tokenizer_from_gguf(f); }, {"spm.gguf", "'llama'", "not supported"});

  auto f2 = tiny_vocab("llama-bpe").file("llama3.gguf");
  expect_error([&] { bpe_tokenizer_from_gguf(f2); }, {"llama3.gguf", "tokenizer.ggml.pre = 'llama-bpe'", "not supported"});
  EXPECT_NO_THROW(bpe_tokenizer_from_gguf(f2, GgufPreTokenizer::Gpt2));  // explicit choice overrides

  G nm;
  nm.kv_str("tokenizer.ggml.model", "gpt2").kv_strs("tokenizer.ggml.tokens", {"a", "b"});
  auto f3 = nm.file("nomerges.gguf");
  expect_error([&] { bpe_tokenizer_from_gguf(f3); }, {"nomerges.gguf", "merges"});

  G empty_tok;
  empty_tok.kv_str("tokenizer.ggml.model", "gpt2").kv_strs("tokenizer.ggml.tokens", {"a", "", "b"});
  empty_tok.kv_strs("tokenizer.ggml.merges", {"a b"});
  auto f4 = empty_tok.file("emptytok.gguf");
  expect_error([&] { bpe_tokenizer_from_gguf(f4); }, {"emptytok.gguf", "token 1 is empty"});

  G bad2;
  std::vector<std::string> toks;
  for (int b = 0; b < 256; ++b) toks.push_back(spell(uint8_t(b)));
  bad2.kv_str("tokenizer.ggml.model", "gpt2").kv_strs("tokenizer.ggml.tokens", toks);
  bad2.kv_strs("tokenizer.ggml.merges", {"a b"});  // "ab" is not a token
  auto f5 = bad2.file("badmerge.gguf");
  expect_error([&] { bpe_tokenizer_from_gguf(f5); }, {"badmerge.gguf", "merge 0 'a b'", "missing from the vocabulary"});
  G bad3;
  bad3.kv_str("tokenizer.ggml.model", "gpt2").kv_strs("tokenizer.ggml.tokens", toks);
  bad3.kv_strs("tokenizer.ggml.merges", {"ab"});
  auto f6 = bad3.file("nospace.gguf");
  expect_error([&] { bpe_tokenizer_from_gguf(f6); }, {"nospace.gguf", "expected 'a b'"});
}

TEST(GgufTokenizerBadInput, TinyVocabularySpecialsAndDigitSplit) {
  auto plain = bpe_tokenizer_from_gguf(tiny_vocab("gpt-2").file("tiny.gguf"));
  auto digits = bpe_tokenizer_from_gguf(tiny_vocab("smollm").file("tiny.gguf"));
  EXPECT_EQ(plain.vocab_size(), 260);
  // GPT-2 regex: "x", " 12", "ab"; in " 12" merge "1 2" (rank 0) beats "Ġ 1" (rank 2) -> " ", "12".
  EXPECT_EQ(plain.encode("x 12ab"), (std::vector<int32_t>{'x', ' ', 256, 258}));
  // Individual digits: "x ", "1", "2", "ab": no merge across the digit pieces.
  EXPECT_EQ(digits.encode("x 12ab"), (std::vector<int32_t>{'x', ' ', '1', '2', 258}));
  // " 1" stays one piece under the GPT-2 regex ("Ġ1"), splits under individual digits.
  EXPECT_EQ(plain.encode("x 1"), (std::vector<int32_t>{'x', 259}));
  EXPECT_EQ(digits.encode("x 1"), (std::vector<int32_t>{'x', ' ', '1'}));
  // Control token matched whole, offsets in bytes, decode round trip.
  auto e = digits.encode_with_offsets("a<ctl>12");
  EXPECT_EQ(e.ids, (std::vector<int32_t>{'a', 257, '1', '2'}));
  EXPECT_EQ(e.offsets, (std::vector<std::pair<size_t, size_t>>{{0, 1}, {1, 6}, {6, 7}, {7, 8}}));
  EXPECT_EQ(digits.decode(e.ids), "a<ctl>12");
  EXPECT_EQ(digits.token_to_id("<ctl>"), 257);
}

TEST(GgufTokenizerBadInput, BytesWithoutATokenAreDroppedLikeHf) {
  // SmolLM2 has no token for bytes 4, 6, 19, 20, 22, 29, 192, 193, 241, 242, 245-255; HF's
  // BPE (no unk token) drops such bytes and merges across them.
  std::vector<std::string> toks;
  for (int b = 0; b < 256; ++b) toks.push_back(spell(uint8_t(b)));
  toks[4] = "<unused4>";
  toks.push_back("!!");
  G g;
  g.kv_str("tokenizer.ggml.model", "gpt2").kv_strs("tokenizer.ggml.tokens", toks);
  g.kv_strs("tokenizer.ggml.merges", {"! !"});
  auto t = bpe_tokenizer_from_gguf(g.file("gap.gguf"));
  EXPECT_EQ(t.encode("!\x04!"), (std::vector<int32_t>{256}));  // HF tokenizers 0.23: [256]
  EXPECT_EQ(t.encode("a\x04"), (std::vector<int32_t>{'a'}));
  EXPECT_TRUE(t.encode("\x04").empty());
  auto e = t.encode_with_offsets("x!\x04!");
  EXPECT_EQ(e.ids, (std::vector<int32_t>{'x', 256}));
  EXPECT_EQ(e.offsets, (std::vector<std::pair<size_t, size_t>>{{0, 1}, {1, 4}}));  // spans the dropped byte
  EXPECT_EQ(t.decode(e.ids), "x!!");
}
