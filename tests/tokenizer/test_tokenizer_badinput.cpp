// Missing or malformed vocabulary files -> tessera::Error naming the file.
#include <gtest/gtest.h>

#include "src/runtime/error.hpp"
#include "src/tokenizer/bpe_tokenizer.hpp"
#include "src/tokenizer/wordpiece_tokenizer.hpp"
#include "test_support.hpp"

using tessera::BpeTokenizer;
using tessera::WordPieceTokenizer;

namespace {
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const tessera::Error& e) {
    return e.what();
  }
  return "<no tessera::Error>";
}
}  // namespace

TEST(TokenizerBadInput, MissingFilesNameTheFile) {
  auto d = tessera_test::fresh_dir("tokenizer_badinput_missing");
  std::string v = (d / "nope_vocab.json").string(), m = (d / "nope_merges.txt").string();
  tessera_test::write_file(d / "vocab_ok.json", "{\"a\": 0}");
  EXPECT_NE(error_of([&] { BpeTokenizer::from_vocab_merges(v, m); }).find("nope_vocab.json"), std::string::npos);
  EXPECT_NE(error_of([&] { BpeTokenizer::from_tiktoken((d / "nope.tiktoken").string()); }).find("nope.tiktoken"),
            std::string::npos);
  EXPECT_NE(error_of([&] { WordPieceTokenizer::from_vocab_txt((d / "nope_vocab.txt").string()); }).find("nope_vocab.txt"),
            std::string::npos);
}

TEST(TokenizerBadInput, MalformedFilesNameTheFile) {
  auto d = tessera_test::fresh_dir("tokenizer_badinput_malformed");
  tessera_test::write_file(d / "bad.json", "{not json");
  tessera_test::write_file(d / "merges.txt", "#version: 0.2\na b\n");
  EXPECT_NE(error_of([&] { BpeTokenizer::from_vocab_merges((d / "bad.json").string(), (d / "merges.txt").string()); })
                .find("bad.json"),
            std::string::npos);
  // vocab lacking the 256 byte tokens
  tessera_test::write_file(d / "small.json", "{\"a\": 0, \"b\": 1}");
  EXPECT_NE(error_of([&] { BpeTokenizer::from_vocab_merges((d / "small.json").string(), (d / "merges.txt").string()); })
                .find("small.json"),
            std::string::npos);
  tessera_test::write_file(d / "bad.tiktoken", "!!!! 0\n");
  EXPECT_NE(error_of([&] { BpeTokenizer::from_tiktoken((d / "bad.tiktoken").string()); }).find("bad.tiktoken"),
            std::string::npos);
  tessera_test::write_file(d / "nounk.txt", "[PAD]\nhello\n");
  EXPECT_NE(error_of([&] { WordPieceTokenizer::from_vocab_txt((d / "nounk.txt").string()); }).find("nounk.txt"),
            std::string::npos);
}
