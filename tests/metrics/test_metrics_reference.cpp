// Every case of tests/fixtures/metrics/*.json (written by
// scripts/tools/make_metric_fixtures.py from scikit-learn, seqeval, the SQuAD v1.1
// evaluation logic and sacrebleu) must be reproduced by src/metrics within the
// tolerances of metrics_test_util.hpp.
#include <gtest/gtest.h>

#include "metrics_test_util.hpp"
#include "src/metrics/metrics.hpp"
#include "src/runtime/error.hpp"

using metrics_test::kBleuTol;
using metrics_test::kTol;
using metrics_test::load_fixture;
using metrics_test::near_or_nan;
using metrics_test::ref_num;
using nlohmann::json;
namespace mx = tessera::metrics;

namespace {

void expect_prf(const json& ref, const mx::PrfScores& got, const std::string& what) {
  EXPECT_TRUE(near_or_nan(ref_num(ref["precision"]), got.precision, kTol)) << what << " precision";
  EXPECT_TRUE(near_or_nan(ref_num(ref["recall"]), got.recall, kTol)) << what << " recall";
  EXPECT_TRUE(near_or_nan(ref_num(ref["f1"]), got.f1, kTol)) << what << " f1";
  if (ref.contains("support")) EXPECT_EQ(ref["support"].get<int64_t>(), got.support) << what << " support";
}

template <typename Label>
void check_classification_case(const json& c) {
  const std::string name = c["name"];
  const auto y_true = c["y_true"].get<std::vector<Label>>();
  const auto y_pred = c["y_pred"].get<std::vector<Label>>();
  std::optional<std::vector<Label>> labels;
  if (!c["labels"].is_null()) labels = c["labels"].get<std::vector<Label>>();

  EXPECT_TRUE(near_or_nan(c["accuracy"].get<double>(), mx::accuracy_score(y_true, y_pred), kTol)) << name;

  const auto rep = mx::precision_recall_fscore_support(y_true, y_pred, labels);
  const auto& pc = c["per_class"];
  ASSERT_EQ(pc["labels"].get<std::vector<Label>>(), rep.labels) << name;
  ASSERT_EQ(pc["precision"].size(), rep.per_class.size()) << name;
  int64_t support_sum = 0;
  for (size_t i = 0; i < rep.per_class.size(); ++i) {
    const std::string what = name + " class " + std::to_string(i);
    EXPECT_TRUE(near_or_nan(pc["precision"][i].get<double>(), rep.per_class[i].precision, kTol)) << what;
    EXPECT_TRUE(near_or_nan(pc["recall"][i].get<double>(), rep.per_class[i].recall, kTol)) << what;
    EXPECT_TRUE(near_or_nan(pc["f1"][i].get<double>(), rep.per_class[i].f1, kTol)) << what;
    EXPECT_EQ(pc["support"][i].get<int64_t>(), rep.per_class[i].support) << what;
    support_sum += rep.per_class[i].support;
  }
  expect_prf(c["micro"], rep.micro, name + " micro");
  expect_prf(c["macro"], rep.macro, name + " macro");
  expect_prf(c["weighted"], rep.weighted, name + " weighted");
  EXPECT_EQ(support_sum, rep.micro.support) << name;
  EXPECT_EQ(support_sum, rep.weighted.support) << name;

  if (c["confusion"].is_null()) {
    EXPECT_THROW(mx::confusion_matrix(y_true, y_pred, labels), tessera::Error) << name;
  } else {
    const auto cm = mx::confusion_matrix(y_true, y_pred, labels);
    EXPECT_EQ(pc["labels"].get<std::vector<Label>>(), cm.labels) << name;
    EXPECT_EQ(c["confusion"].get<std::vector<std::vector<int64_t>>>(), cm.counts) << name;
  }
}

void check_entity_report(const json& ref, const mx::EntityReport& got, const std::string& what) {
  size_t n_types = 0;
  for (const auto& [key, _] : ref.items())
    if (key.size() < 4 || key.substr(key.size() - 4) != " avg") ++n_types;
  ASSERT_EQ(n_types, got.per_type.size()) << what;
  for (const auto& t : got.per_type) {
    ASSERT_TRUE(ref.contains(t.type)) << what << " unexpected type " << t.type;
    expect_prf(ref[t.type], t.scores, what + " type " + t.type);
  }
  // seqeval writes types in sorted order, as we do
  std::vector<std::string> sorted_types;
  for (const auto& t : got.per_type) sorted_types.push_back(t.type);
  EXPECT_TRUE(std::is_sorted(sorted_types.begin(), sorted_types.end())) << what;
  expect_prf(ref["micro avg"], got.micro, what + " micro");
  expect_prf(ref["macro avg"], got.macro, what + " macro");
  expect_prf(ref["weighted avg"], got.weighted, what + " weighted");
}

void expect_bleu(const json& ref, const mx::BleuScore& got, const std::string& what) {
  EXPECT_TRUE(near_or_nan(ref["score"].get<double>(), got.score, kBleuTol)) << what << " score";
  EXPECT_TRUE(near_or_nan(ref["bp"].get<double>(), got.bp, kBleuTol)) << what << " bp";
  EXPECT_EQ(ref["sys_len"].get<int64_t>(), got.sys_len) << what;
  EXPECT_EQ(ref["ref_len"].get<int64_t>(), got.ref_len) << what;
  for (size_t n = 0; n < 4; ++n) {
    EXPECT_EQ(ref["counts"][n].get<int64_t>(), got.counts[n]) << what << " counts[" << n << "]";
    EXPECT_EQ(ref["totals"][n].get<int64_t>(), got.totals[n]) << what << " totals[" << n << "]";
    EXPECT_TRUE(near_or_nan(ref["precisions"][n].get<double>(), got.precisions[n], kBleuTol))
        << what << " precisions[" << n << "]";
  }
}

}  // namespace

TEST(MetricsReference, ClassificationMatchesSklearn) {
  const json j = load_fixture("classification.json");
  ASSERT_GE(j["cases"].size(), 60u);
  for (const auto& c : j["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    if (c["label_type"] == "str") check_classification_case<std::string>(c);
    else check_classification_case<int64_t>(c);
  }
}

TEST(MetricsReference, EntitiesMatchSeqevalDefaultAndStrict) {
  const json j = load_fixture("entities.json");
  ASSERT_GE(j["cases"].size(), 60u);
  for (const auto& c : j["cases"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    const auto y_true = c["y_true"].get<std::vector<std::vector<std::string>>>();
    const auto y_pred = c["y_pred"].get<std::vector<std::vector<std::string>>>();
    check_entity_report(c["default"], mx::entity_classification_report(y_true, y_pred, mx::EntityMode::Default),
                        name + " default");
    check_entity_report(c["strict"],
                        mx::entity_classification_report(y_true, y_pred, mx::EntityMode::StrictIOB2),
                        name + " strict");
  }
}

TEST(MetricsReference, SquadMatchesOfficialV11) {
  const json j = load_fixture("squad.json");
  ASSERT_GE(j["cases"].size(), 10u);
  for (const auto& c : j["cases"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    for (const auto& [raw, norm] : c["normalized"].items())
      EXPECT_EQ(norm.get<std::string>(), mx::squad_normalize_answer(raw)) << name << " normalize '" << raw << "'";
    const auto preds = c["predictions"].get<std::vector<std::string>>();
    const auto gts = c["ground_truths"].get<std::vector<std::vector<std::string>>>();
    for (size_t i = 0; i < preds.size(); ++i) {
      bool em = false;
      double f1 = 0.0;
      for (const auto& g : gts[i]) {
        em = em || mx::squad_exact_match(preds[i], g);
        f1 = std::max(f1, mx::squad_f1(preds[i], g));
      }
      EXPECT_EQ(c["per_question"][i]["em"].get<bool>(), em) << name << " question " << i;
      EXPECT_TRUE(near_or_nan(c["per_question"][i]["f1"].get<double>(), f1, kTol)) << name << " question " << i;
    }
    const auto s = mx::squad_v1_evaluate(preds, gts);
    EXPECT_EQ(preds.size(), s.total);
    EXPECT_TRUE(near_or_nan(c["exact_match"].get<double>(), s.exact_match, kTol)) << name << " EM";
    EXPECT_TRUE(near_or_nan(c["f1"].get<double>(), s.f1, kTol)) << name << " F1";
  }
}

TEST(MetricsReference, BleuMatchesSacrebleu) {
  const json j = load_fixture("bleu.json");
  ASSERT_GE(j["cases"].size(), 40u);
  for (const auto& c : j["cases"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    const bool lower = c["lowercase"].get<bool>();
    for (const auto& [raw, tok] : c["tokenized"].items())
      EXPECT_EQ(tok.get<std::string>(), mx::tokenize_13a(lower ? mx::python_lower(raw) : raw))
          << name << " tokenize '" << raw << "'";
    const auto hyps = c["hypotheses"].get<std::vector<std::string>>();
    const auto refs = c["references"].get<std::vector<std::vector<std::string>>>();
    mx::BleuOptions opt;
    opt.lowercase = lower;
    expect_bleu(c["corpus"], mx::corpus_bleu(hyps, refs, opt), name + " corpus");
    for (size_t i = 0; i < hyps.size(); ++i) {
      std::vector<std::string> seg_refs;
      for (const auto& stream : refs) seg_refs.push_back(stream[i]);
      mx::BleuOptions sopt;
      sopt.lowercase = lower;
      sopt.effective_order = true;
      expect_bleu(c["sentences"][i], mx::sentence_bleu(hyps[i], seg_refs, sopt),
                  name + " sentence " + std::to_string(i));
    }
  }
}

TEST(MetricsReference, FixturesRecordLibraryVersions) {
  for (const char* f : {"classification.json", "entities.json", "squad.json", "bleu.json"}) {
    const json j = load_fixture(f);
    ASSERT_TRUE(j.contains("versions")) << f;
    EXPECT_TRUE(j["versions"].contains("scikit-learn")) << f;
    EXPECT_TRUE(j["versions"].contains("seqeval")) << f;
    EXPECT_TRUE(j["versions"].contains("sacrebleu")) << f;
  }
}
