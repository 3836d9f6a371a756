// BERT uncased WordPiece (all-MiniLM-L6-v2 vocab.txt) vs Hugging Face `tokenizers`
// loaded from the same model's tokenizer.json.
#include <gtest/gtest.h>

#include "src/runtime/error.hpp"
#include "src/tokenizer/wordpiece_tokenizer.hpp"
#include "tokenizer_test_util.hpp"

using tessera::WordPieceTokenizer;

namespace {
const WordPieceTokenizer* bert() {
  static std::unique_ptr<WordPieceTokenizer> tok = [] {
    std::unique_ptr<WordPieceTokenizer> t;
    std::string v = tok_test::asset("minilm/vocab.txt");
    if (!v.empty()) t = std::make_unique<WordPieceTokenizer>(WordPieceTokenizer::from_vocab_txt(v));
    return t;
  }();
  return tok.get();
}
}  // namespace

TEST(BertWordPiece, Golden) {
  auto* t = bert();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->vocab_size(), 30522);
  EXPECT_EQ(t->token_to_id("the"), 1996);
  // [CLS] hello world ! [SEP]
  EXPECT_EQ(t->encode("Hello world!", true), (std::vector<int32_t>{101, 7592, 2088, 999, 102}));
  auto e = t->encode_with_offsets("Héllo, Wörld!", true);
  std::vector<std::pair<size_t, size_t>> want = {{0, 0}, {0, 6}, {6, 7}, {8, 14}, {14, 15}, {0, 0}};
  EXPECT_EQ(e.offsets, want) << tok_test::show(e.offsets);
  EXPECT_EQ(t->normalize("Héllo\tWÖRLD 中文"), "hello world  中  文 ");
  EXPECT_EQ(t->decode(t->encode("Don't stop, it's unbelievable!", true)), "don't stop, it's unbelievable!");
}

TEST(BertWordPiece, CorpusParityWithHF) {
  auto* t = bert();
  ASSERT_NE(t, nullptr);
  auto rows = tok_test::fixture("bert_uncased_wordpiece.jsonl");
  tok_test::check_parity("bert_uncased_wordpiece(minilm vocab.txt)", tok_test::corpus(), rows,
                         [&](const std::string& s) { return t->encode_with_offsets(s); });
}

TEST(BertWordPiece, ClsSepWrapsPlainEncoding) {
  auto* t = bert();
  ASSERT_NE(t, nullptr);
  for (auto& s : tok_test::corpus()) {
    auto plain = t->encode(s);
    auto with = t->encode(s, true);
    ASSERT_EQ(with.size(), plain.size() + 2);
    EXPECT_EQ(with.front(), 101);
    EXPECT_EQ(with.back(), 102);
    EXPECT_TRUE(std::equal(plain.begin(), plain.end(), with.begin() + 1));
  }
}

TEST(BertWordPiece, LongWordIsUnkAndInvalidUtf8DoesNotThrow) {
  auto* t = bert();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->encode(std::string(101, 'a')), (std::vector<int32_t>{t->unk_id()}));
  EXPECT_NE(t->encode(std::string(100, 'a')), (std::vector<int32_t>{t->unk_id()}));
  tessera::Encoding e;
  ASSERT_NO_THROW(e = t->encode_with_offsets(std::string("ab\xff" "cd \xc3 x", 9)));
  EXPECT_EQ(e.ids, t->encode("abcd x"));  // invalid bytes are dropped like U+FFFD
  EXPECT_THROW(t->decode({30522}), tessera::Error);
}
