// SMOTE's gradients in the model (Transformer<double>, tiny BERT sequence classifier):
// the head's parameters (pooler + classifier) against 4th-order central finite
// differences of the loss over real + synthetic rows (the synthetic rows depend on the
// encoder only, so they are fixed while a head parameter moves), and the encoder's
// gradient equal to the no-SMOTE gradient × B / (B + S): synthetic rows send nothing
// into the encoder, they only enlarge the mean's denominator.
#include <gtest/gtest.h>
#include <cmath>
#include <memory>
#include <random>
#include <vector>
#include "src/model/smote_rows.hpp"
#include "src/model/transformer.hpp"
#include "tiny_transformer_config.hpp"

using namespace tessera;

namespace {

std::vector<double> host_copy(const View1<double>& v) {
  auto h = Kokkos::create_mirror_view(v);
  Kokkos::deep_copy(h, v);
  return std::vector<double>(h.data(), h.data() + h.extent(0));
}

bool is_head(const std::string& name) {
  return name.rfind("classifier", 0) == 0 || name.rfind("pooler", 0) == 0;
}

}  // namespace

TEST(SmoteGradients, HeadMatchesFiniteDifferencesEncoderGetsRealRowsOnly) {
  const int B = 4, T = 6;
  const TransformerConfig cfg = tessera_test::tiny_transformer_config(Family::BERT, HeadKind::SequenceClassification);
  Transformer<double> model(cfg);
  model.init_weights(31);
  {
    auto h = Kokkos::create_mirror_view(model.params().values());
    Kokkos::deep_copy(h, model.params().values());
    std::mt19937_64 rng(3);
    std::normal_distribution<double> noise(0.0, 0.1);
    for (size_t i = 0; i < h.extent(0); ++i) h(i) += noise(rng);
    Kokkos::deep_copy(model.params().values(), h);
  }
  std::vector<int32_t> tokens, mask, labels = {1, 1, 0, 2};
  std::mt19937_64 rng(8);
  std::uniform_int_distribution<int32_t> tok(2, cfg.vocab_size - 1);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) tokens.push_back(tok(rng)), mask.push_back(t < T - b ? 1 : 0);
  ModelInputs in;
  in.tokens = tokens.data();
  in.attention_mask = mask.data();
  in.labels = labels.data();
  ForwardOptions opt;
  opt.training = true;
  opt.seed = 5;
  opt.step = 3;
  SmoteOptions so;
  so.ratio = 2;  // rows 0 and 1 (class 1) each see the other: S = 4 synthetic rows
  so.k = 1;
  so.minority = {0, 1, 0};
  so.seed = 11;
  auto loss_at = [&](bool smote) {
    model.set_smote(smote ? std::make_shared<SmoteRows>(so, cfg.n_embd) : nullptr);  // fresh bank: same rows
    return model.forward(in, B, T, opt);
  };
  model.params().zero_grads();
  const double l_plain = loss_at(false);
  model.backward(1.0);
  const std::vector<double> g_plain = host_copy(model.params().grads());
  model.params().zero_grads();
  const double l_smote = loss_at(true);
  model.backward(1.0);
  const std::vector<double> g = host_copy(model.params().grads());
  EXPECT_NE(l_plain, l_smote);
  const double ratio = double(B) / double(B + 4);
  const View1<double> values = model.params().values();
  const std::vector<double> theta = host_copy(values);
  const double h = 3e-4;
  int head_checked = 0, enc_checked = 0;
  double enc_nonzero = 0;
  for (const ParamInfo& info : model.params().infos()) {
    if (is_head(info.name)) {
      for (size_t e = 0; e < info.numel; e += std::max<size_t>(1, info.numel / 12)) {
        const size_t i = info.offset + e;
        auto loss_with = [&](double d) {
          Kokkos::deep_copy(Kokkos::subview(values, i), theta[i] + d);
          return loss_at(true);
        };
        const double l1 = loss_with(h) - loss_with(-h), l2 = loss_with(2 * h) - loss_with(-2 * h);
        Kokkos::deep_copy(Kokkos::subview(values, i), theta[i]);
        const double n = (8 * l1 - l2) / (12 * h);
        EXPECT_LE(std::abs(g[i] - n) / std::max(std::abs(g[i]) + std::abs(n), 1e-5), 1e-6)
            << info.name << "[" << e << "]: backward " << g[i] << ", finite difference " << n;
        ++head_checked;
      }
    } else {
      for (size_t e = 0; e < info.numel; ++e) {
        const size_t i = info.offset + e;
        EXPECT_NEAR(g[i], ratio * g_plain[i], 1e-12 * (1 + std::abs(g_plain[i]))) << info.name << "[" << e << "]";
        enc_nonzero = std::max(enc_nonzero, std::abs(g[i]));
        ++enc_checked;
      }
    }
  }
  EXPECT_GT(head_checked, 20);
  EXPECT_GT(enc_checked, 1000);
  EXPECT_GT(enc_nonzero, 1e-6);
  // The head gradient is not the plain one rescaled: the synthetic rows contribute.
  double diff = 0;
  for (const ParamInfo& info : model.params().infos())
    if (is_head(info.name))
      for (size_t e = 0; e < info.numel; ++e)
        diff = std::max(diff, std::abs(g[info.offset + e] - ratio * g_plain[info.offset + e]));
  EXPECT_GT(diff, 1e-6);
}
