// SmolLM2-135M-Instruct's tokenizer read from its GGUF (tokenizer.ggml.*) vs Hugging Face:
// transformers' GGUF loader (smollm2_gguf.jsonl, GgufPreTokenizer::Gpt2) and the published
// tokenizer.json pre-tokenizer with individual digits (smollm2_digits_diff.jsonl, Auto),
// ids and byte offsets on every corpus line, plus decode round trips.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "io/gguf.hpp"
#include "src/tokenizer/gguf_tokenizer.hpp"
#include "tokenizer_test_util.hpp"

using tessera::BpeTokenizer;
using tessera::GgufPreTokenizer;

namespace {
const char* kGguf = "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";  // scripts/fetch_gguf.sh

// Rows of smollm2_digits_diff.jsonl by 0-based corpus line.
std::map<size_t, tok_test::FixtureRow> digit_diff_rows() {
  std::map<size_t, tok_test::FixtureRow> out;
  std::ifstream f(tok_test::fixture_dir() / "smollm2_digits_diff.jsonl");
  if (!f) {
    ADD_FAILURE() << "fixture missing: " << (tok_test::fixture_dir() / "smollm2_digits_diff.jsonl").string();
    return out;
  }
  std::string line;
  std::getline(f, line);  // header
  while (std::getline(f, line)) {
    auto j = nlohmann::json::parse(line);
    tok_test::FixtureRow r;
    r.ids = j.at("ids").get<std::vector<int32_t>>();
    auto o = j.at("offsets").get<std::vector<size_t>>();
    r.has_offsets = true;
    for (size_t i = 0; i + 1 < o.size(); i += 2) r.offsets.emplace_back(o[i], o[i + 1]);
    out[j.at("line").get<size_t>() - 1] = std::move(r);
  }
  return out;
}
}  // namespace

TEST(Smollm2Gguf, CorpusParityWithTransformersGgufLoader) {
  const std::string path = tok_test::asset(kGguf);
  ASSERT_FALSE(path.empty()) << "run scripts/fetch_gguf.sh";
  auto t = tessera::bpe_tokenizer_from_gguf(path, GgufPreTokenizer::Gpt2);
  EXPECT_EQ(t.vocab_size(), 49152);
  auto lines = tok_test::corpus();
  auto rows = tok_test::fixture("smollm2_gguf.jsonl");
  tok_test::check_parity("smollm2_gguf(Gpt2)", lines, rows,
                         [&](const std::string& s) { return t.encode_with_offsets(s); });
  size_t rt = 0;
  for (auto& s : lines) rt += t.decode(t.encode(s)) == s;
  EXPECT_EQ(rt, lines.size());
}

TEST(Smollm2Gguf, AutoSplitsDigitsLikeThePublishedTokenizer) {
  const std::string path = tok_test::asset(kGguf);
  ASSERT_FALSE(path.empty()) << "run scripts/fetch_gguf.sh";
  auto t = tessera::bpe_tokenizer_from_gguf(path);  // tokenizer.ggml.pre = "smollm"
  EXPECT_NE(t.name().find("individual digits"), std::string::npos) << t.name();
  auto lines = tok_test::corpus();
  auto rows = tok_test::fixture("smollm2_gguf.jsonl");
  auto diff = digit_diff_rows();
  ASSERT_EQ(rows.size(), lines.size());
  EXPECT_GT(diff.size(), 50u);
  for (auto& [i, r] : diff) rows.at(i) = r;  // the published pre-tokenizer's answer where it differs
  tok_test::check_parity("smollm2_gguf(Auto: individual digits)", lines, rows,
                         [&](const std::string& s) { return t.encode_with_offsets(s); });
  size_t rt = 0;
  for (auto& s : lines) rt += t.decode(t.encode(s)) == s;
  EXPECT_EQ(rt, lines.size());
}

TEST(Smollm2Gguf, ChatTokensPromptsAndMetadata) {
  const std::string path = tok_test::asset(kGguf);
  ASSERT_FALSE(path.empty()) << "run scripts/fetch_gguf.sh";
  const auto f = tessera::GgufFile::open(path);
  auto t = tessera::bpe_tokenizer_from_gguf(f);
  // transformers AutoTokenizer(gguf_file=...) on this string.
  const std::string chat = "Hello 12345 world <|im_start|>user\nHi<|im_end|>";
  const std::vector<int32_t> want = {19556, 216, 33, 34, 35, 36, 37, 905, 216, 1, 4093, 198, 26843, 2};
  EXPECT_EQ(t.encode(chat), want);
  EXPECT_EQ(t.decode(want), chat);
  EXPECT_EQ(t.token_to_id("<|im_start|>"), 1);
  EXPECT_EQ(t.token_to_id("<|im_end|>"), 2);
  EXPECT_EQ(t.token_to_id("<|endoftext|>"), 0);
  // Byte 4 has no token: dropped, as transformers does ([81, 82], offsets (0,1) (2,3)).
  auto gap = t.encode_with_offsets("a\x04" "b");
  EXPECT_EQ(gap.ids, (std::vector<int32_t>{81, 82}));
  EXPECT_EQ(gap.offsets, (std::vector<std::pair<size_t, size_t>>{{0, 1}, {2, 3}}));
  const auto meta = f.tokenizer();
  EXPECT_EQ(meta.pre, "smollm");
  EXPECT_FALSE(meta.add_bos);
  // The prompts of tests/fixtures/hf/smollm2_reference.json, as transformers tokenized them.
  std::ifstream rf(std::filesystem::path(tessera_test::source_dir()) / "tests/fixtures/hf/smollm2_reference.json");
  ASSERT_TRUE(rf) << "fixture missing: tests/fixtures/hf/smollm2_reference.json";
  auto ref = nlohmann::json::parse(rf);
  const auto prompts = ref.at("prompts").get<std::vector<std::string>>();
  const auto ids = ref.at("prompt_ids").get<std::vector<std::vector<int32_t>>>();
  ASSERT_EQ(prompts.size(), ids.size());
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(t.encode(prompts[i]), ids[i]) << prompts[i];
  // Greedy continuation decodes to the recorded text.
  EXPECT_EQ(t.decode(ref.at("greedy_ids").get<std::vector<int32_t>>()), ref.at("greedy_text").get<std::string>());
}
