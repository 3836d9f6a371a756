// GPT-2 from tiktoken ranks (whisper's gpt2.tiktoken) vs tiktoken itself, and vs the
// vocab.json/merges.txt tokenizer.
#include <gtest/gtest.h>

#include "src/tokenizer/bpe_tokenizer.hpp"
#include "tokenizer_test_util.hpp"

using tessera::BpeTokenizer;

TEST(Gpt2Tiktoken, CorpusParityWithTiktoken) {
  std::string path = tok_test::asset("gpt2/gpt2.tiktoken");
  ASSERT_FALSE(path.empty());
  auto t = BpeTokenizer::from_tiktoken(path);
  EXPECT_EQ(t.vocab_size(), 50257);
  EXPECT_EQ(t.encode("Hello world! The quick brown fox."),
            (std::vector<int32_t>{15496, 995, 0, 383, 2068, 7586, 21831, 13}));
  auto lines = tok_test::corpus();
  auto rows = tok_test::fixture("gpt2_tiktoken.jsonl");
  tok_test::check_parity("gpt2_tiktoken(gpt2.tiktoken)", lines, rows,
                         [&](const std::string& s) { return tessera::Encoding{t.encode(s), {}}; });
  size_t rt = 0;
  for (auto& s : lines) rt += t.decode(t.encode(s)) == s;
  EXPECT_EQ(rt, lines.size());
}

TEST(Gpt2Tiktoken, SameAsVocabMergesIncludingOffsets) {
  std::string path = tok_test::asset("gpt2/gpt2.tiktoken");
  std::string v = tok_test::asset("gpt2/vocab.json"), m = tok_test::asset("gpt2/merges.txt");
  ASSERT_FALSE(path.empty() || v.empty() || m.empty());
  auto a = BpeTokenizer::from_tiktoken(path);
  auto b = BpeTokenizer::from_vocab_merges(v, m);
  for (int32_t id = 0; id < 50257; ++id) ASSERT_EQ(a.id_to_bytes(id), b.id_to_bytes(id)) << id;
  for (auto& s : tok_test::corpus()) {
    auto ea = a.encode_with_offsets(s), eb = b.encode_with_offsets(s);
    ASSERT_EQ(ea.ids, eb.ids) << s;
    ASSERT_EQ(ea.offsets, eb.offsets) << s;
  }
}
