// `tessera score bleu` end to end: the printed sacreBLEU line against the values
// sacrebleu 2.6.0 gave for tests/fixtures/metrics/bleu.json, and sacrebleu's own
// README output for its example (two reference streams).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "metrics_test_util.hpp"

namespace {

using tessera_test::fresh_dir;
using tessera_test::run_tessera;
using tessera_test::write_file;

std::string lines_file(const std::filesystem::path& p, const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& l : lines) text += l + "\n";
  write_file(p, text);
  return p.string();
}

// Runs `score bleu` on the case's hypotheses and reference streams.
tessera_test::CommandResult score_case(const nlohmann::json& c, const std::filesystem::path& dir) {
  std::string args = "score bleu --hypotheses " +
                     lines_file(dir / "hyp.txt", c["hypotheses"].get<std::vector<std::string>>());
  for (size_t k = 0; k < c["references"].size(); ++k)
    args += " --references " + lines_file(dir / ("ref" + std::to_string(k) + ".txt"),
                                          c["references"][k].get<std::vector<std::string>>());
  if (c["lowercase"].get<bool>()) args += " --lowercase";
  return run_tessera(args);
}

bool has_line_break(const nlohmann::json& c) {
  auto bad = [](const std::string& s) { return s.find_first_of("\n\r") != std::string::npos; };
  for (const auto& h : c["hypotheses"])
    if (bad(h.get<std::string>())) return true;
  for (const auto& stream : c["references"])
    for (const auto& r : stream)
      if (bad(r.get<std::string>())) return true;
  return false;
}

TEST(ScoreCli, SacrebleuReadmeExampleWithTwoReferenceFiles) {
  const auto cases = metrics_test::load_fixture("bleu.json")["cases"];
  for (const auto& c : cases) {
    if (c["name"] != "sacrebleu_readme") continue;
    ASSERT_EQ(c["references"].size(), 2u);
    const auto r = score_case(c, fresh_dir("score_cli_readme"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    // print(sacrebleu.corpus_bleu(...)) in sacrebleu's README.
    EXPECT_EQ(r.output.substr(0, r.output.find('\n')),
              "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)");
    EXPECT_NE(r.output.find("nrefs:2|case:mixed"), std::string::npos) << r.output;
    return;
  }
  FAIL() << "bleu.json has no sacrebleu_readme case";
}

TEST(ScoreCli, EveryFixtureCaseMatchesSacrebleu) {
  const auto cases = metrics_test::load_fixture("bleu.json")["cases"];
  int checked = 0;
  for (const auto& c : cases) {
    if (has_line_break(c)) continue;  // one segment per line cannot hold these
    const std::string name = c["name"].get<std::string>();
    const auto r = score_case(c, fresh_dir("score_cli_" + name));
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.output;
    double score = 0, p[4] = {}, bp = 0, ratio = 0;
    long long hyp_len = 0, ref_len = 0;
    ASSERT_EQ(std::sscanf(r.output.c_str(),
                          "BLEU = %lf %lf/%lf/%lf/%lf (BP = %lf ratio = %lf hyp_len = %lld ref_len = %lld)", &score,
                          &p[0], &p[1], &p[2], &p[3], &bp, &ratio, &hyp_len, &ref_len),
              9)
        << name << ": " << r.output;
    const auto& want = c["corpus"];
    EXPECT_NEAR(score, want["score"].get<double>(), 0.005 + 1e-9) << name;
    for (int n = 0; n < 4; ++n) EXPECT_NEAR(p[n], want["precisions"][n].get<double>(), 0.05 + 1e-9) << name;
    EXPECT_NEAR(bp, want["bp"].get<double>(), 0.0005 + 1e-9) << name;
    const long long sys = want["sys_len"].get<long long>(), ref = want["ref_len"].get<long long>();
    EXPECT_EQ(hyp_len, sys) << name;
    EXPECT_EQ(ref_len, ref) << name;
    EXPECT_NEAR(ratio, ref > 0 ? double(sys) / double(ref) : 0.0, 0.0005 + 1e-9) << name;
    ++checked;
  }
  EXPECT_GE(checked, 40);
}

TEST(ScoreCli, ReferenceWithOtherLineCountIsAnError) {
  const auto dir = fresh_dir("score_cli_mismatch");
  const std::string hyp = lines_file(dir / "hyp.txt", {"a b c", "d e f"});
  const std::string ref = lines_file(dir / "ref.txt", {"a b c"});
  const auto r = run_tessera("score bleu --hypotheses " + hyp + " --references " + ref);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("ref.txt has 1 lines but"), std::string::npos) << r.output;
}

TEST(ScoreCli, MissingHypothesisFileIsAnError) {
  const auto dir = fresh_dir("score_cli_missing");
  const std::string ref = lines_file(dir / "ref.txt", {"a b c"});
  const auto r = run_tessera("score bleu --hypotheses " + (dir / "nope.txt").string() + " --references " + ref);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("nope.txt"), std::string::npos) << r.output;
}

}  // namespace
