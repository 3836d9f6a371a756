// GPT-2 byte-level BPE (vocab.json + merges.txt) vs Hugging Face `tokenizers`:
// ids and byte offsets for every corpus line, round trips, invalid UTF-8.
#include <gtest/gtest.h>

#include "src/runtime/error.hpp"
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
