// StepLog writes one JSON object per line; text that is not valid UTF-8 (a generated
// sample cut inside a multi-byte character) is written with U+FFFD in its place instead
// of throwing (which once ended a finished training run with exit 1).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include "src/train/step_log.hpp"
#include "test_support.hpp"

TEST(StepLog, InvalidUtf8InASampleIsReplacedNotThrown) {
  const auto dir = tessera_test::fresh_dir("step_log_utf8");
  const std::string path = (dir / "metrics.jsonl").string();
  {
    tessera::StepLog log(path, true, 10);
    EXPECT_NO_THROW(log.record("sample", {{"step", 3}, {"text", std::string("caf\xc3") + " ok \xff"}}));
    log.record("sample", {{"step", 4}, {"text", "caf\xc3\xa9"}});
  }
  std::istringstream in(tessera_test::read_file(path));
  std::string line;
  std::vector<nlohmann::json> recs;
  while (std::getline(in, line)) recs.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0]["text"], "caf\xef\xbf\xbd ok \xef\xbf\xbd");  // U+FFFD for each bad byte
  EXPECT_EQ(recs[1]["text"], "caf\xc3\xa9");                      // valid text unchanged
  EXPECT_EQ(recs[0]["kind"], "sample");
}
