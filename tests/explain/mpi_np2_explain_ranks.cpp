// 1 rank = 2 ranks for every explainer at the same seed: the coalitions (and the IG
// interpolation points) of a tiny classifier are evaluated on MPI_COMM_SELF and on the
// 2-rank world, and the attributions must agree bitwise (classification and question
// answering).
#include <gtest/gtest.h>
#include <mpi.h>

#include "explain_fixture.hpp"
#include "src/explain/integrated_gradients.hpp"
#include "src/explain/lime.hpp"
#include "src/explain/shapley.hpp"

using namespace tessera;
using namespace tessera::explain;
using namespace explain_test;

TEST(ExplainRanks, OneRankEqualsTwoRanks) {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ASSERT_EQ(size, 2);
  Transformer<float> model(tiny_config(Family::BERT, HeadKind::SequenceClassification));
  model.init_weights(11);
  TextModel one(model, kMask, kPad, 5, MPI_COMM_SELF), two(model, kMask, kPad, 5, MPI_COMM_WORLD);
  const TextInstance x = make_text_instance("ab cde f gh ij kl mn", toy_tokenizer(), 40, Granularity::Word);
  TextTarget t;
  t.label = 0;
  const int M = x.M();
  const auto v1 = one.value_function(x, t, Removal::Mask), v2 = two.value_function(x, t, Removal::Mask);
  auto same = [](const std::vector<double>& a, const std::vector<double>& b, const char* what) {
    ASSERT_EQ(a.size(), b.size()) << what;
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << what << " feature " << i;  // bitwise
  };
  same(exact_shapley(v1, M).phi, exact_shapley(v2, M).phi, "exact");
  same(kernel_shap(v1, M, 60, 4).phi, kernel_shap(v2, M, 60, 4).phi, "kernel");
  same(permutation_shap(v1, M, 70, 4).phi, permutation_shap(v2, M, 70, 4).phi, "permutation");
  same(partition_shap(v1, M).phi, partition_shap(v2, M).phi, "partition");
  same(lime_explain(v1, M, 50, M, 4).all_weights, lime_explain(v2, M, 50, M, 4).all_weights, "lime");
  same(integrated_gradients(one, x, 1, 13, Quadrature::GaussLegendre).feature_attr,
       integrated_gradients(two, x, 1, 13, Quadrature::GaussLegendre).feature_attr, "ig");
  // The explanation differs from a different seed (the check is not vacuous).
  EXPECT_NE(kernel_shap(v2, M, 60, 4).phi, kernel_shap(v2, M, 60, 5).phi);
}

TEST(ExplainRanks, QuestionAnsweringOneRankEqualsTwoRanks) {
  TransformerConfig c = tiny_config(Family::BERT, HeadKind::QuestionAnswering);
  c.num_labels = 0;
  Transformer<float> model(c);
  model.init_weights(13);
  TextModel one(model, kMask, kPad, 5, MPI_COMM_SELF), two(model, kMask, kPad, 5, MPI_COMM_WORLD);
  QaExample q;
  q.question = "who went";
  q.context = "ab cde f gh ij kl mn";
  QaEncodeOptions qo;
  qo.max_len = 40;
  qo.doc_stride = 4;
  const TextInstance x = make_qa_instance(q, toy_tokenizer(), qo, Granularity::Word);
  const QaSpan sp = one.predicted_span(x);
  EXPECT_EQ(sp.start_token, two.predicted_span(x).start_token);
  TextTarget t;
  t.head = HeadKind::QuestionAnswering;
  t.kind = TargetKind::LogProbability;
  t.qa_start = sp.start_token;
  t.qa_end = sp.end_token;
  const int M = x.M();
  const auto v1 = one.value_function(x, t, Removal::Mask), v2 = two.value_function(x, t, Removal::Mask);
  auto same = [](const std::vector<double>& a, const std::vector<double>& b, const char* what) {
    ASSERT_EQ(a.size(), b.size()) << what;
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << what << " feature " << i;  // bitwise
  };
  same(exact_shapley(v1, M).phi, exact_shapley(v2, M).phi, "qa exact");
  same(kernel_shap(v1, M, 60, 4).phi, kernel_shap(v2, M, 60, 4).phi, "qa kernel");
  same(permutation_shap(v1, M, 70, 4).phi, permutation_shap(v2, M, 70, 4).phi, "qa permutation");
  same(partition_shap(v1, M).phi, partition_shap(v2, M).phi, "qa partition");
  same(lime_explain(v1, M, 50, M, 4).all_weights, lime_explain(v2, M, 50, M, 4).all_weights, "qa lime");
  same(integrated_gradients(one, x, t, 13, Quadrature::GaussLegendre).feature_attr,
       integrated_gradients(two, x, t, 13, Quadrature::GaussLegendre).feature_attr, "qa ig");
}
