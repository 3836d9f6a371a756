// GPT-2 byte-level BPE (vocab.json + merges.txt) vs Hugging Face `tokenizers`:
// ids and byte offsets for every corpus line, round trips, invalid UTF-8.
#include <gtest/gtest.h>

#include "io/gguf.hpp"
#include "io/gguf_bpe_metadata.hpp"
#include "io/gguf_writer.hpp"
#include "src/runtime/error.hpp"
#include "src/tokenizer/gguf_tokenizer.hpp"
#include "test_support.hpp"
#include "src/tokenizer/bpe_tokenizer.hpp"
#include "tokenizer_test_util.hpp"

using tessera::BpeTokenizer;

namespace {
const BpeTokenizer* gpt2() {
  static std::unique_ptr<BpeTokenizer> tok = [] {
    std::unique_ptr<BpeTokenizer> t;
    std::string v = tok_test::asset("gpt2/vocab.json"), m = tok_test::asset("gpt2/merges.txt");
    if (!v.empty() && !m.empty()) t = std::make_unique<BpeTokenizer>(BpeTokenizer::from_vocab_merges(v, m));
    return t;
  }();
  return tok.get();
}
}  // namespace

TEST(Gpt2Bpe, GoldenHelloWorld) {
  auto* t = gpt2();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->vocab_size(), 50257);
  EXPECT_EQ(t->encode("Hello world! The quick brown fox."),
            (std::vector<int32_t>{15496, 995, 0, 383, 2068, 7586, 21831, 13}));
  EXPECT_EQ(t->token_to_id("<|endoftext|>"), 50256);
  EXPECT_EQ(t->encode("a<|endoftext|>b"), (std::vector<int32_t>{64, 50256, 65}));
  EXPECT_EQ(t->decode({15496, 995, 50256}), "Hello world<|endoftext|>");
}

TEST(Gpt2Bpe, CorpusParityWithHF) {
  auto* t = gpt2();
  ASSERT_NE(t, nullptr);
  auto rows = tok_test::fixture("gpt2_bpe.jsonl");
  tok_test::check_parity("gpt2_bpe(vocab.json+merges.txt)", tok_test::corpus(), rows,
                         [&](const std::string& s) { return t->encode_with_offsets(s); });
}

TEST(Gpt2Bpe, EncodeWithoutOffsetsMatches) {
  auto* t = gpt2();
  ASSERT_NE(t, nullptr);
  for (auto& s : tok_test::corpus()) ASSERT_EQ(t->encode(s), t->encode_with_offsets(s).ids) << s;
}

TEST(Gpt2Bpe, DecodeRoundTripsCorpus) {
  auto* t = gpt2();
  ASSERT_NE(t, nullptr);
  size_t ok = 0;
  auto lines = tok_test::corpus();
  for (auto& s : lines) {
    std::string d = t->decode(t->encode(s));
    EXPECT_EQ(d, s);
    ok += d == s;
  }
  std::cout << "[roundtrip] gpt2_bpe: " << ok << "/" << lines.size() << std::endl;
}

TEST(Gpt2Bpe, InvalidUtf8IsByteLevelAndLossless) {
  auto* t = gpt2();
  ASSERT_NE(t, nullptr);
  const std::vector<std::string> cases = {
      std::string("\xff\xfe abc", 6), std::string("caf\xc3", 4), std::string("\xc3\x28 x", 4),
      std::string("\xed\xa0\x80 surrogate", 13), std::string("\xf4\x90\x80\x80", 4),
      std::string("ok \x80\x80\x80 ok", 10), std::string("\xe2\x82", 2), std::string("a\0b", 3),
      std::string("'s\xff's", 5)};
  for (auto& s : cases) {
    tessera::Encoding e;
    ASSERT_NO_THROW(e = t->encode_with_offsets(s));
    EXPECT_EQ(t->decode(e.ids), s);
    ASSERT_EQ(e.ids.size(), e.offsets.size());
    size_t prev_end = 0;
    for (auto& [b, en] : e.offsets) {
      EXPECT_LE(b, en);
      EXPECT_LE(en, s.size());
      EXPECT_GE(en, prev_end);
      prev_end = en;
    }
  }
  // An invalid byte is one "other" character: it joins a punctuation run.
  EXPECT_EQ(t->decode(t->encode(std::string("x\xff!", 3))), std::string("x\xff!", 3));
  // Random bytes never throw and always round-trip.
  uint32_t seed = 12345;
  for (int n = 0; n < 300; ++n) {
    std::string s;
    for (int k = 0; k < 40; ++k) {
      seed = seed * 1664525u + 1013904223u;
      s.push_back(static_cast<char>(seed >> 24));
    }
    ASSERT_EQ(t->decode(t->encode(s)), s);
  }
}

TEST(Gpt2Bpe, OutOfRangeIdThrows) {
  auto* t = gpt2();
  ASSERT_NE(t, nullptr);
  EXPECT_THROW(t->decode({50257}), tessera::Error);
  EXPECT_THROW(t->decode({-1}), tessera::Error);
}

TEST(Gpt2Bpe, WhitespaceRules) {
  auto* t = gpt2();
  ASSERT_NE(t, nullptr);
  // "\s+(?!\S)" leaves the last space to the word; a lone tab stays alone; GPT-2 has
  // no "two spaces" token. Expected values are HF tokenizers 0.23.3's output.
  auto e = t->encode_with_offsets("a   b\t\tc  ");
  std::vector<std::pair<size_t, size_t>> want = {{0, 1}, {1, 2}, {2, 3}, {3, 5}, {5, 6},
                                                 {6, 7}, {7, 8}, {8, 9}, {9, 10}};
  EXPECT_EQ(e.ids, (std::vector<int32_t>{64, 220, 220, 275, 197, 197, 66, 220, 220}));
  EXPECT_EQ(e.offsets, want) << tok_test::show(e.offsets);
}

// tokenizer.ggml.* built from vocab.json + merges.txt (tessera export --format gguf
// --tokenizer DIR) is read back by Tessera's GGUF tokenizer loader into a tokenizer that
// encodes every corpus line exactly like the vocab.json + merges.txt one.
TEST(Gpt2Bpe, GgufMetadataFromVocabMergesEncodesTheCorpusAlike) {
  auto* t = gpt2();
  ASSERT_NE(t, nullptr);
  const auto kv = tessera::gguf_bpe_metadata(tok_test::assets_dir().string() + "/gpt2");
  tessera::GgufWriter w;
  w.set_string("general.architecture", "gpt2");
  for (const auto& [key, v] : kv) w.set(key, v);
  const std::filesystem::path dir = tessera_test::fresh_dir("gguf_bpe_metadata");
  const std::string path = (dir / "tokenizer.gguf").string();
  w.write(path);
  const tessera::GgufFile f = tessera::GgufFile::open(path);
  const tessera::GgufTokenizer meta = f.tokenizer();
  EXPECT_EQ(meta.model, "gpt2");
  EXPECT_EQ(meta.pre, "gpt-2");
  ASSERT_EQ(meta.tokens.size(), 50257u);
  EXPECT_EQ(meta.tokens[15496], "Hello");
  EXPECT_EQ(meta.merges.size(), 50000u);
  EXPECT_EQ(meta.merges[0], "Ġ t");
  EXPECT_EQ(meta.eos_id, 50256);
  EXPECT_EQ(meta.bos_id, 50256);
  EXPECT_EQ(meta.token_type[50256], 3);
  EXPECT_EQ(meta.token_type[0], 1);
  const BpeTokenizer g = tessera::bpe_tokenizer_from_gguf(f);
  EXPECT_EQ(g.vocab_size(), t->vocab_size());
  for (const auto& s : tok_test::corpus()) ASSERT_EQ(g.encode(s), t->encode(s)) << s;
  EXPECT_EQ(g.encode("a<|endoftext|>b"), (std::vector<int32_t>{64, 50256, 65}));
  // A directory without the files, a merges line that is not two symbols.
  try {
    tessera::gguf_bpe_metadata(dir.string());
    ADD_FAILURE() << "no vocab.json accepted";
  } catch (const tessera::Error& e) {
    EXPECT_NE(std::string(e.what()).find((dir / "vocab.json").string()), std::string::npos) << e.what();
  }
  tessera_test::write_file(dir / "vocab.json", "{\"a\": 0, \"b\": 1, \"ab\": 2}");
  tessera_test::write_file(dir / "merges.txt", "#version: 0.2\na b\na b c\n");
  try {
    tessera::gguf_bpe_metadata(dir.string());
    ADD_FAILURE() << "bad merges accepted";
  } catch (const tessera::Error& e) {
    EXPECT_NE(std::string(e.what()).find("merges.txt: line 3"), std::string::npos) << e.what();
  }
}
