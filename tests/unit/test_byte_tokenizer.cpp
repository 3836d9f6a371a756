#include <gtest/gtest.h>

#include "src/runtime/error.hpp"
#include "src/tokenizer/byte_tokenizer.hpp"

using tessera::ByteTokenizer;

TEST(ByteTokenizer, Basics) {
  ByteTokenizer t;
  EXPECT_EQ(t.name(), "byte-v1");
  EXPECT_EQ(t.vocab_size(), 257);
  EXPECT_EQ(ByteTokenizer::kEot, 256);
  EXPECT_EQ(t.encode("Hi"), (std::vector<int32_t>{72, 105}));
  EXPECT_TRUE(t.encode("").empty());
}

TEST(ByteTokenizer, RoundTripAllBytesAndUtf8) {
  ByteTokenizer t;
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  auto ids = t.encode(all);
  ASSERT_EQ(ids.size(), 256u);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(ids[b], b);
  EXPECT_EQ(t.decode(ids), all);
  const std::string utf8 = "naïve café — ∑ 日本語 🙂";
  auto u = t.encode(utf8);
  EXPECT_EQ(u.size(), utf8.size());
  for (int32_t id : u) EXPECT_TRUE(id >= 0 && id < 256);
  EXPECT_EQ(t.decode(u), utf8);
}

TEST(ByteTokenizer, EotAndInvalid) {
  ByteTokenizer t;
  auto ids = t.encode("a");
  ids.push_back(ByteTokenizer::kEot);
  ids.push_back('b');
  EXPECT_EQ(t.decode(ids), "a<|endoftext|>b");
  EXPECT_THROW(t.decode({257}), tessera::Error);
  EXPECT_THROW(t.decode({-1}), tessera::Error);
}
