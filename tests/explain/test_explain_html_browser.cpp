// The HTML report in a real headless browser (Debian's chromium): the page renders
// (its script ran: <body data-rendered=N>), and every span's value and colour in the
// DOM equal the JSON report (colour by attribution_rgb); a question-answering report shows
// the question and the explained span. Fails when chromium is missing.
#include "explain_cli_fixture.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <regex>

#include "src/explain/html_report.hpp"

using namespace tessera_test;
using namespace explain_test;

namespace {

std::string chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
    if (std::filesystem::exists(p)) return p;
  return "";
}

}  // namespace

TEST(ExplainHtmlBrowser, DomColoursAndValuesEqualJson) {
  const std::string browser = chromium();
  ASSERT_FALSE(browser.empty()) << "chromium is not installed (scripts/install.sh installs Debian's chromium); "
                                   "the HTML report test needs a real headless browser";
  const ExplainSetup s = make_explain_setup("explain_html");
  const auto in = s.dir / "in.jsonl";
  write_file(in, "{\"text\": \"In the beginning God created the heaven\"}\n{\"text\": \"Moses and Aaron went\"}\n");
  const auto out = s.dir / "out";
  auto r = run_tessera("explain " + s.config + " --input " + in.string() + " --output " + out.string() +
                       " --method shap --shap exact");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<nlohmann::json> inputs;
  for (const auto& l : lines_of(read_file(out / "explanations.jsonl"))) inputs.push_back(nlohmann::json::parse(l));
  ASSERT_EQ(inputs.size(), 2u);

  const auto dom_file = s.dir / "dom.html";
  r = run_command(browser + " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --user-data-dir=" +
                  (s.dir / "profile").string() + " --dump-dom file://" + (out / "report.html").string() + " > " +
                  dom_file.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string dom = read_file(dom_file);
  size_t expected = 0;
  for (const auto& j : inputs) expected += j["features"].size();
  EXPECT_NE(dom.find("data-rendered=\"" + std::to_string(expected) + "\""), std::string::npos)
      << "the page's script did not run in the browser:\n" << dom.substr(0, 2000);

  // <span class="feature" data-input="i" data-feature="j" data-value="v" title=".." style="background-color: rgb(r, g, b);">text</span>
  const std::regex span(
      "<span class=\"feature\" data-input=\"(\\d+)\" data-feature=\"(\\d+)\" data-value=\"([^\"]+)\" title=\"[^\"]*\" "
      "style=\"background-color: rgb\\((\\d+), (\\d+), (\\d+)\\);\">([^<]*)</span>");
  size_t seen = 0;
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), span); it != std::sregex_iterator(); ++it, ++seen) {
    const auto& m = *it;
    const size_t i = std::stoul(m[1]), f = std::stoul(m[2]);
    ASSERT_LT(i, inputs.size());
    const auto& feats = inputs[i]["features"];
    ASSERT_LT(f, feats.size());
    const double a = feats[f]["attribution"].get<double>();
    EXPECT_NEAR(std::stod(m[3]), a, 1e-12 * std::max(1.0, std::fabs(a))) << "input " << i << " feature " << f;
    double max_abs = 0;
    for (const auto& x : feats) max_abs = std::max(max_abs, std::fabs(x["attribution"].get<double>()));
    const auto rgb = tessera::explain::attribution_rgb(a, max_abs);
    EXPECT_EQ(std::stoi(m[4]), rgb[0]) << "input " << i << " feature " << f;
    EXPECT_EQ(std::stoi(m[5]), rgb[1]) << "input " << i << " feature " << f;
    EXPECT_EQ(std::stoi(m[6]), rgb[2]) << "input " << i << " feature " << f;
    EXPECT_EQ(m[7].str(), feats[f]["text"].get<std::string>());
  }
  EXPECT_EQ(seen, expected) << dom.substr(0, 3000);
  // The strongest feature of each input is fully saturated (the colours are not all white).
  EXPECT_NE(dom.find("rgb(255, 0, 0)") == std::string::npos && dom.find("rgb(0, 0, 255)") == std::string::npos, true);
}

// Question answering: the page shows each input's question and explained answer span
// (rendered by the script) and one span a context word, values as in the JSON.
TEST(ExplainHtmlBrowser, QuestionAnsweringReport) {
  const std::string browser = chromium();
  ASSERT_FALSE(browser.empty()) << "chromium is not installed (scripts/install.sh installs Debian's chromium)";
  const ExplainSetup s = make_qa_explain_setup("explain_html_qa");
  const auto in = s.dir / "q.jsonl";
  write_file(in, "{\"id\": \"a\", \"question\": \"Who created the heaven?\", \"context\": \"In the beginning God created the heaven\"}\n");
  const auto out = s.dir / "out";
  auto r = run_tessera("explain " + s.config + " --input " + in.string() + " --output " + out.string() +
                       " --method shap --shap exact");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(lines_of(read_file(out / "explanations.jsonl")).at(0));
  const auto dom_file = s.dir / "dom.html";
  r = run_command(browser + " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --user-data-dir=" +
                  (s.dir / "profile").string() + " --dump-dom file://" + (out / "report.html").string() + " > " +
                  dom_file.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string dom = read_file(dom_file);
  EXPECT_NE(dom.find("data-rendered=\"" + std::to_string(j["features"].size()) + "\""), std::string::npos) << dom.substr(0, 2000);
  const std::string qa_line = "question: Who created the heaven? · answer: \"" + j["span"]["answer"].get<std::string>() +
                              "\" (characters " + std::to_string(j["span"]["start"].get<int>()) + "–" +
                              std::to_string(j["span"]["end"].get<int>()) + " of the context)";
  EXPECT_NE(dom.find("<p class=\"meta qa\">" + qa_line + "</p>"), std::string::npos) << dom.substr(0, 3000);
  const std::regex span("<span class=\"feature\" data-input=\"0\" data-feature=\"(\\d+)\" data-value=\"([^\"]+)\"[^>]*>([^<]*)</span>");
  size_t seen = 0;
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), span); it != std::sregex_iterator(); ++it, ++seen) {
    const auto& f = j["features"][std::stoul((*it)[1])];
    EXPECT_EQ((*it)[3].str(), f["text"].get<std::string>());
    EXPECT_NEAR(std::stod((*it)[2]), f["attribution"].get<double>(), 1e-12 * std::max(1.0, std::fabs(f["attribution"].get<double>())));
  }
  EXPECT_EQ(seen, j["features"].size());
}

// A feature-head report (docs/explain.md, "Feature-head models"): the page renders a table
// row per auxiliary feature column with its name, kind, value and attribution (coloured as
// the words, by attribution_rgb over the input's words and columns); an IG-excluded
// (null) attribution reads "excluded".
TEST(ExplainHtmlBrowser, FeatureColumnsTable) {
  const std::string browser = chromium();
  ASSERT_FALSE(browser.empty()) << "chromium is not installed (scripts/install.sh installs Debian's chromium)";
  const auto dir = fresh_dir("explain_html_columns");
  nlohmann::json report;
  report["run"] = {{"method", "ig"}};
  report["plots"] = nlohmann::json::array();
  report["inputs"] = nlohmann::json::array(
      {{{"row", 0}, {"method", "ig"}, {"full_value", -0.1}, {"base_value", -0.6},
        {"features", {{{"text", "light"}, {"attribution", 0.25}}, {{"text", "void"}, {"attribution", -0.05}}}},
        {"columns", {{{"column", "amount"}, {"kind", "numeric"}, {"value", "63.5"}, {"missing", false}, {"attribution", -0.5}},
                     {{"column", "city"}, {"kind", "categorical"}, {"value", "oslo"}, {"missing", false},
                      {"attribution", nullptr}}}}}});
  write_file(dir / "report.html", tessera::explain::html_report(report));
  const auto dom_file = dir / "dom.html";
  auto r = run_command(browser + " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --user-data-dir=" +
                       (dir / "profile").string() + " --dump-dom file://" + (dir / "report.html").string() + " > " +
                       dom_file.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string dom = read_file(dom_file);
  EXPECT_NE(dom.find("data-columns=\"2\""), std::string::npos) << dom.substr(0, 3000);
  const auto rgb = tessera::explain::attribution_rgb(-0.5, 0.5);
  const std::string amount_row = "<tr data-column=\"amount\"><td>amount</td><td>numeric</td><td>63.5</td>"
                                 "<td style=\"background-color: rgb(" + std::to_string(rgb[0]) + ", " +
                                 std::to_string(rgb[1]) + ", " + std::to_string(rgb[2]) + ");\">-0.5</td></tr>";
  EXPECT_NE(dom.find(amount_row), std::string::npos) << dom.substr(0, 4000);
  EXPECT_NE(dom.find("<tr data-column=\"city\"><td>city</td><td>categorical</td><td>oslo</td><td>excluded</td></tr>"),
            std::string::npos)
      << dom.substr(0, 4000);
  EXPECT_NE(dom.find("data-rendered=\"2\""), std::string::npos);  // the words' spans as before
}
