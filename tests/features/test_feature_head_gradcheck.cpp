// The auxiliary-feature head of sequence classification (TransformerConfig::features):
// Transformer<double>::backward against 4th-order central finite differences of the
// loss, for every family's head path (BERT pooler, RoBERTa dense + dropout, GPT-2 and
// Llama last token), with dense and categorical features, hidden layers with each
// activation and feature dropout, padding masks, class weights and label smoothing.
//   numeric  n = [8(L(θ+h) − L(θ−h)) − (L(θ+2h) − L(θ−2h))] / 12h,  h = 3e-4
//   error    rel = |a − n| / max(|a| + |n|, 1e-5),   required ≤ 1e-6
// Every feature-head tensor: all elements when ≤ 40 (the used embedding rows always),
// other tensors 4 random elements. Plus: the features change the logits, the parameter
// shapes, and bad feature inputs are refused with the sample and column named.
#include <gtest/gtest.h>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "src/model/transformer.hpp"
#include "src/runtime/error.hpp"
#include "tiny_transformer_config.hpp"

using namespace tessera;

namespace {

constexpr int kB = 4, kT = 8;

TransformerConfig with_features(Family f, std::vector<int64_t> hidden, const std::string& act) {
  TransformerConfig c = tessera_test::tiny_transformer_config(f, HeadKind::SequenceClassification);
  if (f == Family::RoBERTa) c.type_vocab_size = 1;
  c.features.dense_dim = 3;
  c.features.categorical_cardinalities = {3, 4};
  c.features.embedding_dim = 2;
  c.features.hidden = std::move(hidden);
  c.features.activation = act;
  return c;
}

struct Batch {
  std::vector<int32_t> tokens, types, mask, labels, cat;
  std::vector<float> dense;
  ModelInputs inputs() const {
    ModelInputs in;
    in.tokens = tokens.data();
    in.token_types = types.data();
    in.attention_mask = mask.data();
    in.labels = labels.data();
    in.dense_features = dense.data();
    in.categorical_features = cat.data();
    return in;
  }
};

Batch make_batch(const TransformerConfig& c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> tok(2, c.vocab_size - 1), lab(0, c.num_labels - 1);
  std::normal_distribution<float> x(0.f, 1.f);
  Batch b;
  for (int s = 0; s < kB; ++s) {
    for (int t = 0; t < kT; ++t) {
      const bool real = t < kT - s;
      b.tokens.push_back(real ? tok(rng) : 1);
      b.types.push_back(c.type_vocab_size > 1 && t >= 3 ? 1 : 0);
      b.mask.push_back(real ? 1 : 0);
    }
    b.labels.push_back(lab(rng));
    for (int j = 0; j < 3; ++j) b.dense.push_back(x(rng));
    b.cat.push_back(s % 3);        // column 0: every category, 0 (unknown) included
    b.cat.push_back((s * 3) % 4);  // column 1: 0, 3, 2, 1
  }
  return b;
}

std::vector<double> host_copy(const View1<double>& v) {
  auto h = Kokkos::create_mirror_view(v);
  Kokkos::deep_copy(h, v);
  return std::vector<double>(h.data(), h.data() + h.extent(0));
}

int gradcheck(const TransformerConfig& cfg, const ForwardOptions& opt, bool weights_and_smoothing, int min_head = 40) {
  Transformer<double> model(cfg);
  model.init_weights(2024);
  {
    auto h = Kokkos::create_mirror_view(model.params().values());
    Kokkos::deep_copy(h, model.params().values());
    std::mt19937_64 rng(3);
    std::normal_distribution<double> noise(0.0, 0.1);
    for (size_t i = 0; i < h.extent(0); ++i) h(i) += noise(rng);
    Kokkos::deep_copy(model.params().values(), h);
  }
  if (weights_and_smoothing) model.set_loss_options({0.5, 2.0, 1.0}, 0.1);
  const Batch batch = make_batch(cfg, 77);
  const ModelInputs in = batch.inputs();
  auto loss_at = [&]() { return model.forward(in, kB, kT, opt); };
  model.params().zero_grads();
  loss_at();
  model.backward(1.0);
  const std::vector<double> grads = host_copy(model.params().grads());
  const View1<double> values = model.params().values();
  const std::vector<double> theta = host_copy(values);
  const double h = 3e-4;
  std::mt19937_64 rng(5);
  int checked = 0, head_checked = 0;
  double max_rel = 0;
  for (const ParamInfo& info : model.params().infos()) {
    const bool head = info.name.rfind("feature_head.", 0) == 0 || info.name.rfind("classifier", 0) == 0 ||
                      info.name.rfind("score", 0) == 0;
    std::vector<size_t> elems;
    if (head && info.numel <= 40) {
      for (size_t e = 0; e < info.numel; ++e) elems.push_back(e);
    } else {
      std::uniform_int_distribution<size_t> d(0, info.numel - 1);
      for (int k = 0; k < (head ? 12 : 4); ++k) elems.push_back(d(rng));
    }
    if (info.name == "feature_head.categorical_embedding.weight")  // the rows the batch uses: 0..2, 3+{0..3}
      for (size_t e = 0; e < info.numel; ++e) elems.push_back(e);
    if (head && cfg.features.hidden.empty() && info.full_shape.size() == 2 && info.name.rfind("feature_head.", 0) != 0)
      for (int64_t k = 0; k < info.full_shape[0]; ++k)  // the classifier's feature columns
        for (int64_t j = cfg.n_embd; j < info.full_shape[1]; ++j) elems.push_back(size_t(k * info.full_shape[1] + j));
    for (size_t e : elems) {
      const size_t i = info.offset + e;
      auto loss_with = [&](double delta) {
        Kokkos::deep_copy(Kokkos::subview(values, i), theta[i] + delta);
        return loss_at();
      };
      const double l1 = loss_with(h) - loss_with(-h), l2 = loss_with(2 * h) - loss_with(-2 * h);
      Kokkos::deep_copy(Kokkos::subview(values, i), theta[i]);
      const double n = (8 * l1 - l2) / (12 * h), a = grads[i];
      const double rel = std::abs(a - n) / std::max(std::abs(a) + std::abs(n), 1e-5);
      EXPECT_LE(rel, 1e-6) << family_name(cfg.family) << " " << info.name << "[" << e << "]: backward " << a
                           << ", finite difference " << n;
      max_rel = std::max(max_rel, rel);
      ++checked;
      head_checked += head ? 1 : 0;
    }
  }
  std::printf("%s feature head (%s, %zu hidden, training=%d): %d elements (%d head), max rel err %.3e\n",
              family_name(cfg.family), cfg.features.activation.c_str(), cfg.features.hidden.size(), int(opt.training),
              checked, head_checked, max_rel);
  EXPECT_GE(head_checked, min_head);
  return checked;
}

ForwardOptions training() {
  ForwardOptions o;
  o.training = true;
  o.seed = 9;
  o.step = 2;
  return o;
}

}  // namespace

TEST(FeatureHeadGradcheck, BertPoolerTwoHiddenRelu) {
  EXPECT_GT(gradcheck(with_features(Family::BERT, {5, 4}, "relu"), ForwardOptions{}, false), 80);
}

TEST(FeatureHeadGradcheck, RobertaDenseGeluWithDropoutWeightsAndSmoothing) {
  TransformerConfig c = with_features(Family::RoBERTa, {6}, "gelu");
  c.pad_token_id = 1;
  apply_family_defaults(c);
  c.resid_pdrop = 0.1;
  c.features.dropout = 0.2;
  EXPECT_GT(gradcheck(c, training(), true), 80);
}

TEST(FeatureHeadGradcheck, Gpt2LastTokenTanhWithFeatureDropout) {
  TransformerConfig c = with_features(Family::GPT2, {5}, "tanh");
  c.features.dropout = 0.25;
  EXPECT_GT(gradcheck(c, training(), false), 80);
}

TEST(FeatureHeadGradcheck, LlamaLinearOnConcatenationDenseOnly) {
  TransformerConfig c = with_features(Family::Llama, {}, "relu");
  c.features.categorical_cardinalities.clear();
  EXPECT_GT(gradcheck(c, ForwardOptions{}, true, 21), 40);  // score [3, C + 3]: 12 random + the 9 feature columns
}

TEST(FeatureHeadGradcheck, CategoricalOnlyBert) {
  TransformerConfig c = with_features(Family::BERT, {4}, "relu");
  c.features.dense_dim = 0;
  EXPECT_GT(gradcheck(c, ForwardOptions{}, false), 40);
}

// Parameter shapes: [Σ cardinality, E] table, hidden i [H_i, in_i], classifier [K, H_last].
TEST(FeatureHead, ParameterShapes) {
  const TransformerConfig c = with_features(Family::BERT, {5, 4}, "relu");
  Transformer<double> m(c);
  const int64_t C = c.n_embd;
  EXPECT_EQ(m.params().info(m.params().index_of("feature_head.categorical_embedding.weight")).full_shape,
            (std::vector<int64_t>{7, 2}));
  EXPECT_EQ(m.params().info(m.params().index_of("feature_head.mlp.0.weight")).full_shape,
            (std::vector<int64_t>{5, C + 3 + 2 * 2}));
  EXPECT_EQ(m.params().info(m.params().index_of("feature_head.mlp.1.weight")).full_shape, (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(m.params().info(m.params().index_of("classifier.weight")).full_shape, (std::vector<int64_t>{3, 4}));
  EXPECT_TRUE(is_task_head_parameter("feature_head.mlp.0.weight"));
}

// The logits depend on the features (a changed dense value or category changes them),
// and the same inputs give the same logits.
TEST(FeatureHead, LogitsDependOnFeatures) {
  const TransformerConfig c = with_features(Family::GPT2, {6}, "relu");
  Transformer<double> m(c);
  m.init_weights(5);
  Batch b = make_batch(c, 3);
  b.labels.clear();
  auto logits = [&](const Batch& x) {
    ModelInputs in = x.inputs();
    in.labels = nullptr;
    m.forward(in, kB, kT, ForwardOptions{});
    return host_copy(m.logits());
  };
  const std::vector<double> base = logits(b);
  EXPECT_EQ(logits(b), base);
  Batch d = b;
  d.dense[0] += 2.0f;  // sample 0 only
  std::vector<double> changed = logits(d);
  EXPECT_NE(std::vector<double>(changed.begin(), changed.begin() + 3), std::vector<double>(base.begin(), base.begin() + 3));
  EXPECT_EQ(std::vector<double>(changed.begin() + 3, changed.begin() + 12),
            std::vector<double>(base.begin() + 3, base.begin() + 12));
  Batch k = b;
  k.cat[2] = (k.cat[2] + 1) % 3;  // sample 1, column 0
  changed = logits(k);
  EXPECT_NE(std::vector<double>(changed.begin() + 3, changed.begin() + 6),
            std::vector<double>(base.begin() + 3, base.begin() + 6));
}

TEST(FeatureHead, BadFeatureInputsNameSampleAndColumn) {
  const TransformerConfig c = with_features(Family::BERT, {}, "relu");
  Transformer<double> m(c);
  m.init_weights(1);
  Batch b = make_batch(c, 4);
  auto message = [&](const Batch& x, bool drop_dense) {
    ModelInputs in = x.inputs();
    if (drop_dense) in.dense_features = nullptr;
    try {
      m.forward(in, kB, kT, ForwardOptions{});
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  Batch bad = b;
  bad.cat[2 * 2 + 1] = 4;  // sample 2, column 1 has cardinality 4
  EXPECT_NE(message(bad, false).find("categorical feature 1 of sample 2 is 4, outside [0, 4)"), std::string::npos)
      << message(bad, false);
  EXPECT_NE(message(b, true).find("needs 3 dense features"), std::string::npos) << message(b, true);
  bad = b;
  bad.dense[4] = std::nanf("");
  EXPECT_NE(message(bad, false).find("dense feature 1 of sample 1 is not finite"), std::string::npos);
}
