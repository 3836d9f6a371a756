// `tessera generate --timings`: the JSON line on stderr counts the prompt's tokens and
// the decoded tokens (every generated token after the first, which the prefill step
// picks), with positive times and rates that are those counts over those times.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include "cli_fixture.hpp"

using namespace tessera_test;

namespace {
nlohmann::json timings_line(const std::string& output) {
  const size_t at = output.rfind("{\"prompt_tokens\"");
  if (at == std::string::npos) return nullptr;
  return nlohmann::json::parse(output.substr(at, output.find('\n', at) - at));
}
}  // namespace

TEST(GenerateTimings, CountsPrefillAndDecodedTokens) {
  const auto dir = fresh_dir("generate_timings");
  const std::string data = prepare_ruth(dir);
  write_file(dir / "c.toml", tiny_config(data, (dir / "run").string(),
                                         {{"train.max_steps", "4"}, {"train.eval_interval", "0"}}));
  auto tr = run_tessera("train " + (dir / "c.toml").string());
  ASSERT_EQ(tr.exit_code, 0) << tr.output;
  const std::string ckpt = (dir / "run/checkpoints/step_00000004.h5").string();
  // 11 prompt bytes; 6 new tokens = 1 from the prefill step + 5 decoded.
  auto g = run_tessera("generate --checkpoint " + ckpt +
                       " --tokenizer byte --prompt 'And Naomi s' --max-new-tokens 6 --temperature 0 --ignore-eos --timings");
  ASSERT_EQ(g.exit_code, 0) << g.output;
  const nlohmann::json t = timings_line(g.output);
  ASSERT_FALSE(t.is_null()) << g.output;
  EXPECT_EQ(t["prompt_tokens"].get<int>(), 11);
  EXPECT_EQ(t["decode_tokens"].get<int>(), 5);
  EXPECT_GT(t["prefill_s"].get<double>(), 0);
  EXPECT_GT(t["decode_s"].get<double>(), 0);
  EXPECT_NEAR(t["prefill_tokens_per_s"].get<double>(), 11 / t["prefill_s"].get<double>(),
              1e-3 * t["prefill_tokens_per_s"].get<double>());
  EXPECT_NEAR(t["decode_tokens_per_s"].get<double>(), 5 / t["decode_s"].get<double>(),
              1e-3 * t["decode_tokens_per_s"].get<double>());
  // Without the flag: no timings line.
  auto plain = run_tessera("generate --checkpoint " + ckpt + " --tokenizer byte --prompt 'And' --max-new-tokens 3 --temperature 0");
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_TRUE(timings_line(plain.output).is_null()) << plain.output;
}
