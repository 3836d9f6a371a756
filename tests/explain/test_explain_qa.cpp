// `tessera explain` for question answering: the answer-span value function on a tiny
// BERT QA model (explain_fixture.hpp's toy tokenizer), exact SHAP against a brute-force
// Shapley sum written here (every coalition scored by hand through the model), IG
// completeness, the context-word features (question kept whole), and end to end
// (SQuAD input, JSON span, HTML report, 1 rank = 2 ranks, bad input).
#include "explain_cli_fixture.hpp"
#include "explain_fixture.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "src/explain/integrated_gradients.hpp"
#include "src/explain/lime.hpp"
#include "src/explain/shapley.hpp"
#include "src/runtime/error.hpp"

using namespace tessera;
using namespace tessera::explain;
using namespace explain_test;
using namespace tessera_test;

namespace {

TransformerConfig qa_config() {
  TransformerConfig c = tiny_config(Family::BERT, HeadKind::QuestionAnswering);
  c.num_labels = 0;
  return c;
}

struct QaModel {
  Transformer<float> model{qa_config()};
  TextModel tm{model, kMask, kPad, 8, MPI_COMM_SELF};
  QaModel() { model.init_weights(9); }
};

QaEncodeOptions qa_options(int64_t max_len = 40) {
  QaEncodeOptions o;
  o.max_len = max_len;
  o.doc_stride = 4;
  o.max_question_len = 16;
  return o;
}

QaExample example(const std::string& q, const std::string& c) {
  QaExample e;
  e.id = "q";
  e.question = q;
  e.context = c;
  return e;
}

// log p(start = s) + log p(end = e) of one token row, computed here from the logits.
double span_log_probability(QaModel& m, const TextInstance& x, const std::vector<int32_t>& row, int s, int e) {
  int T = 0;
  const std::vector<float> l = m.tm.forward_logits({row}, T, &x.types);
  auto log_softmax_at = [&](int which, int pos) {
    double mx = -1e300, z = 0;
    for (int t = 0; t < T; ++t) mx = std::max(mx, double(l[size_t(2 * t + which)]));
    for (int t = 0; t < T; ++t) z += std::exp(double(l[size_t(2 * t + which)]) - mx);
    return double(l[size_t(2 * pos + which)]) - mx - std::log(z);
  };
  return log_softmax_at(0, s) + log_softmax_at(1, e);
}

}  // namespace

TEST(ExplainQa, FeaturesAreContextWordsQuestionKept) {
  const auto tok = toy_tokenizer();
  const TextInstance x = make_qa_instance(example("who is", "ab cd. ef gh"), tok, qa_options(), Granularity::Word);
  EXPECT_EQ(x.features, (std::vector<std::string>{"ab", "cd.", "ef", "gh"}));
  EXPECT_EQ(x.question, "who is");
  EXPECT_EQ(x.text, "ab cd. ef gh");
  EXPECT_FALSE(x.truncated);
  // [CLS] w h o i s [SEP] a b c d . e f g h [SEP]: the question and specials never removed
  ASSERT_EQ(x.ids.size(), 17u);
  for (int t = 0; t < 7; ++t) EXPECT_EQ(x.special[size_t(t)], 1) << t;
  EXPECT_EQ(x.special[16], 1);
  EXPECT_EQ(x.feature_tokens[1], (std::vector<int>{9, 10, 11}));
  EXPECT_EQ(x.types[3], 0);
  EXPECT_EQ(x.types[9], 1);  // context segment
  const TextInstance s = make_qa_instance(example("who", "ab cd. ef gh"), tok, qa_options(), Granularity::Sentence);
  EXPECT_EQ(s.features, (std::vector<std::string>{"ab cd.", "ef gh"}));
  const TextInstance t = make_qa_instance(example("who", "ab cd"), tok, qa_options(), Granularity::Token);
  EXPECT_EQ(t.features, (std::vector<std::string>{"a", "b", "c", "d"}));
  // a context needing more than one window: the first window, marked truncated
  const TextInstance cut = make_qa_instance(example("who", "ab cd ef gh ij kl mn op"), tok, qa_options(14), Granularity::Word);
  EXPECT_TRUE(cut.truncated);
  EXPECT_LT(cut.M(), 8);
  EXPECT_EQ(cut.features[0], "ab");
}

TEST(ExplainQa, ExactShapEqualsBruteForceShapley) {
  QaModel m;
  const TextInstance x = make_qa_instance(example("who went", "ab cde f gh ij"), toy_tokenizer(), qa_options(), Granularity::Word);
  const int M = x.M();
  ASSERT_EQ(M, 5);
  const QaSpan sp = m.tm.predicted_span(x);
  ASSERT_GE(sp.start_token, 0);
  EXPECT_EQ(sp.answer, x.text.substr(size_t(sp.byte_start), size_t(sp.byte_end - sp.byte_start)));
  EXPECT_EQ(x.special[size_t(sp.start_token)], 0);  // the span lies in the context
  TextTarget t;
  t.head = HeadKind::QuestionAnswering;
  t.kind = TargetKind::LogProbability;
  t.qa_start = sp.start_token;
  t.qa_end = sp.end_token;
  // one row a forward (batch 1), as the brute force below: the same float logits
  TextModel tm1(m.model, kMask, kPad, 1, MPI_COMM_SELF);
  const ValueFunction v = tm1.value_function(x, t, Removal::Mask);
  const Attribution a = exact_shapley(v, M);
  // brute force: φ_i = Σ_{S ∌ i} |S|!(M−|S|−1)!/M! (v(S ∪ i) − v(S)), every v by hand
  std::vector<double> value(size_t(1) << M);
  for (uint32_t S = 0; S < (1u << M); ++S) {
    std::vector<int32_t> row = x.ids;
    for (int f = 0; f < M; ++f)
      if (!(S >> f & 1))
        for (int tok : x.feature_tokens[size_t(f)]) row[size_t(tok)] = kMask;
    value[S] = span_log_probability(m, x, row, sp.start_token, sp.end_token);
  }
  auto fact = [](int n) { double r = 1; for (int k = 2; k <= n; ++k) r *= k; return r; };
  double max_err = 0;
  for (int i = 0; i < M; ++i) {
    double phi = 0;
    for (uint32_t S = 0; S < (1u << M); ++S) {
      if (S >> i & 1) continue;
      const int s = __builtin_popcount(S);
      phi += fact(s) * fact(M - s - 1) / fact(M) * (value[S | (1u << i)] - value[S]);
    }
    EXPECT_NEAR(a.phi[size_t(i)], phi, 1e-6) << "feature " << i;
    max_err = std::max(max_err, std::fabs(a.phi[size_t(i)] - phi));
  }
  std::printf("QA exact SHAP vs brute force: M = %d, max |error| %.3g, efficiency gap %.3g\n", M, max_err,
              a.efficiency_gap());
  EXPECT_NEAR(a.full_value, value[(1u << M) - 1], 1e-9);
  EXPECT_NEAR(a.base_value, value[0], 1e-9);
  EXPECT_LT(std::fabs(a.efficiency_gap()), 1e-9);
  double spread = 0;
  for (double p : a.phi) spread = std::max(spread, std::fabs(p));
  EXPECT_GT(spread, 1e-3) << "attributions are all ~0: the check is vacuous";
  // the logit kind: the value is start_logit[s] + end_logit[e] (the decoder's score at full input)
  t.kind = TargetKind::Logit;
  const double full = m.tm.value_function(x, t, Removal::Mask)({full_mask(M)})[0];
  EXPECT_NEAR(full, sp.start_logit + sp.end_logit, 1e-5);
}

TEST(ExplainQa, IntegratedGradientsCompleteness) {
  QaModel m;
  const TextInstance x = make_qa_instance(example("who went", "ab cde f gh ij"), toy_tokenizer(), qa_options(), Granularity::Word);
  const QaSpan sp = m.tm.predicted_span(x);
  TextTarget t;
  t.head = HeadKind::QuestionAnswering;
  t.qa_start = sp.start_token;
  t.qa_end = sp.end_token;
  const IgResult g = integrated_gradients(m.tm, x, t, 48, Quadrature::GaussLegendre);
  // F(x), F(x') are the span log-probability of the full and the all-masked rows
  std::vector<int32_t> base = x.ids;
  for (const auto& ft : x.feature_tokens)
    for (int tok : ft) base[size_t(tok)] = kMask;
  EXPECT_NEAR(g.f_input, span_log_probability(m, x, x.ids, sp.start_token, sp.end_token), 1e-9);
  EXPECT_NEAR(g.f_baseline, span_log_probability(m, x, base, sp.start_token, sp.end_token), 1e-9);
  EXPECT_GT(std::fabs(g.f_input - g.f_baseline), 1e-3);
  EXPECT_LT(g.relative_gap(), 0.01) << "gap " << g.gap();
  std::printf("QA IG (48 Gauss-Legendre points): F(x) - F(x') = %.6f, completeness gap %.3g (relative %.3g)\n",
              g.f_input - g.f_baseline, g.gap(), g.relative_gap());
  // question tokens are not features but carry no difference (same tokens in x and x')
  for (int t0 = 1; t0 < 9; ++t0) EXPECT_EQ(g.token_attr[size_t(t0)], 0.0) << t0;
}

TEST(ExplainQa, BadInput) {
  QaModel m;
  const auto tok = toy_tokenizer();
  auto message = [](auto f) {
    try {
      f();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(message([&] { make_qa_instance(example("who", "  "), tok, qa_options(), Granularity::Word); })
                .find("empty context"), std::string::npos);
  EXPECT_NE(message([&] { make_qa_instance(example("", "ab"), tok, qa_options(), Granularity::Word); })
                .find("empty question"), std::string::npos);
  const TextInstance x = make_qa_instance(example("who", "ab cd"), tok, qa_options(), Granularity::Word);
  TextTarget t;
  t.head = HeadKind::QuestionAnswering;
  t.qa_start = t.qa_end = 5;
  const std::string d = message([&] { m.tm.value_function(x, t, Removal::Delete); });
  EXPECT_NE(d.find("--removal mask"), std::string::npos) << d;
  EXPECT_NE(d.find("question answering"), std::string::npos) << d;
}

// ---------------------------------------------------------------- end to end

namespace {

const char* kQuestions =
    "{\"id\": \"a\", \"question\": \"Who created the heaven?\", \"context\": \"In the beginning God created the heaven\"}\n"
    "{\"id\": \"b\", \"question\": \"Who went?\", \"context\": \"Moses and Aaron went\"}\n";

}  // namespace

TEST(ExplainQa, CliShapLimeIgSpanJsonHtmlAndRanks) {
  const ExplainSetup s = make_qa_explain_setup("explain_qa_cli");
  const auto in = s.dir / "q.jsonl";
  write_file(in, kQuestions);
  for (const std::string method : {"--method shap --shap exact", "--method shap --shap kernel --samples 40",
                                   "--method shap --shap permutation --samples 40", "--method shap --shap partition",
                                   "--method lime --samples 40", "--method ig --steps 32",
                                   "--method shap --shap exact --output-kind logit"}) {
    std::string outs[2];
    for (int np : {1, 2}) {
      const std::string out = (s.dir / ("out" + std::to_string(np))).string();
      const std::string args = "explain " + s.config + " --input " + in.string() + " --output " + out + " " + method;
      auto r = np == 1 ? run_tessera(args) : run_mpi(2, args);
      ASSERT_EQ(r.exit_code, 0) << method << "\n" << r.output;
      outs[np - 1] = read_file(std::filesystem::path(out) / "explanations.jsonl");
    }
    EXPECT_EQ(outs[0], outs[1]) << method << ": 1 rank and 2 ranks differ";
    const auto lines = lines_of(outs[0]);
    ASSERT_EQ(lines.size(), 2u) << method;
    for (const auto& l : lines) {
      const auto j = nlohmann::json::parse(l);
      const std::string context = j["text"];
      EXPECT_EQ(j["features"][0]["text"], j["row"] == 0 ? "In" : "Moses") << l;  // context words, not the question
      EXPECT_EQ(j["features"].size(), j["row"] == 0 ? 7u : 4u) << l;
      EXPECT_TRUE(j.contains("question"));
      const auto& sp = j["span"];
      // the answer text is the context's characters [start, end) (ASCII: bytes)
      EXPECT_EQ(sp["answer"].get<std::string>(),
                context.substr(sp["start"].get<size_t>(), sp["end"].get<size_t>() - sp["start"].get<size_t>()));
      EXPECT_EQ(j["target"]["answer"], sp["answer"]);
      double sum = 0;
      for (const auto& f : j["features"]) sum += f["attribution"].get<double>();
      const double delta = j["full_value"].get<double>() - j["base_value"].get<double>();
      if (j.contains("efficiency_gap")) EXPECT_NEAR(sum, delta, 1e-9) << method;
      if (j.contains("completeness_gap")) EXPECT_LT(j["relative_completeness_gap"].get<double>(), 0.02) << l;
      if (method.find("logit") != std::string::npos) {
        EXPECT_EQ(j["target"]["kind"], "span_logit");
        EXPECT_NEAR(j["full_value"].get<double>(), sp["start_logit"].get<double>() + sp["end_logit"].get<double>(), 1e-5);
      } else {
        EXPECT_EQ(j["target"]["kind"], "span_log_probability");
        EXPECT_LT(j["full_value"].get<double>(), 0.0);
      }
    }
    const std::string html = read_file(s.dir / "out1" / "report.html");
    EXPECT_NE(html.find("Who created the heaven?"), std::string::npos);
  }
  // the span equals predict's answer on the same input (single window)
  auto r = run_tessera("predict " + s.config + " --input " + in.string() + " --output " + (s.dir / "p.jsonl").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto pred = lines_of(read_file(s.dir / "p.jsonl"));
  const auto expl = lines_of(read_file(s.dir / "out1" / "explanations.jsonl"));
  int compared = 0;
  for (size_t i = 0; i < 2; ++i) {
    const auto p = nlohmann::json::parse(pred[i]), e = nlohmann::json::parse(expl[i]);
    if (e["span"]["fallback"].get<bool>()) {  // predict's n-best had no valid span: it answers ""
      EXPECT_EQ(p["answer"], "") << i;
      continue;
    }
    EXPECT_EQ(p["answer"], e["span"]["answer"]) << i;
    EXPECT_EQ(p["start"], e["span"]["start"]) << i;
    ++compared;
  }
  EXPECT_GE(compared, 1);
}

TEST(ExplainQa, CliInputsAndBadInput) {
  const ExplainSetup s = make_qa_explain_setup("explain_qa_cli_bad");
  const std::string fx = source_dir() + "/tests/fixtures/tasks/";
  auto args = [&](const std::string& in, const std::string& extra) {
    return "explain " + s.config + " --input " + in + " --output " + (s.dir / "o").string() + " " + extra;
  };
  // SQuAD .json and CSV (question, context columns)
  auto r = run_tessera(args(fx + "squad.json", "--method shap --shap partition"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_GE(lines_of(read_file(s.dir / "o" / "explanations.jsonl")).size(), 3u);
  const auto csv = s.dir / "q.csv";
  write_file(csv, "question,context\n\"Who went?\",\"Moses and Aaron went\"\n");
  r = run_tessera(args(csv.string(), "--method lime --samples 30"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(read_file(s.dir / "o" / "explanations.jsonl"))["question"], "Who went?");
  // delete removal refused by name
  const auto in = s.dir / "q.jsonl";
  write_file(in, kQuestions);
  r = run_tessera(args(in.string(), "--removal delete"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("use --removal mask"), std::string::npos) << r.output;
  // an empty context names the row
  const auto empty = s.dir / "e.jsonl";
  write_file(empty, "{\"id\": \"x\", \"question\": \"Who?\", \"context\": \"Moses went\"}\n"
                    "{\"id\": \"y\", \"question\": \"Who?\", \"context\": \"   \"}\n");
  r = run_tessera(args(empty.string(), ""));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("row 2 (question 'y'): explain: empty context"), std::string::npos) << r.output;
  // a CSV without a context column, and pdp
  write_file(csv, "question,text\nWho?,Moses\n");
  r = run_tessera(args(csv.string(), ""));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("no column 'context'"), std::string::npos) << r.output;
  r = run_tessera(args(in.string(), "--method pdp --feature length"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("pdp needs a sequence_classification head"), std::string::npos) << r.output;
}
