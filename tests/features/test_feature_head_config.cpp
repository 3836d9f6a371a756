// The feature head's config keys (docs/config.md): parsed into TransformerConfig::features,
// written back by to_toml, and bad values refused with the key named.
#include <gtest/gtest.h>
#include <string>
#include "src/config/run_config.hpp"
#include "src/runtime/error.hpp"

using namespace tessera;

namespace {

std::string toml(const std::string& model_extra) {
  return "[model]\nfamily = \"bert\"\nhead = \"sequence_classification\"\nnum_labels = 2\nn_layer = 1\nn_head = 2\n"
         "n_embd = 16\nn_positions = 12\nvocab_size = 69\n" + model_extra + "[data]\npath = \"d.h5\"\nseq_len = 12\n";
}

std::string error_of(const std::string& extra) {
  try {
    parse_run_config(toml(extra), "run.toml");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(FeatureHeadConfig, KeysParseAndRoundTrip) {
  const RunConfig c = parse_run_config(toml("feature_hidden = \" 64, 32 \"\nfeature_activation = \"gelu\"\n"
                                            "feature_dropout = 0.25\ncategorical_embedding_dim = 5\n"),
                                       "run.toml");
  const FeatureHeadConfig& f = c.model.transformer.features;
  EXPECT_EQ(f.hidden, (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(f.activation, "gelu");
  EXPECT_EQ(f.dropout, 0.25);
  EXPECT_EQ(f.embedding_dim, 5);
  EXPECT_FALSE(f.enabled());  // the widths come from the dataset (resolve_feature_head)
  const RunConfig again = parse_run_config(to_toml(c), "again.toml");
  EXPECT_EQ(again.model.transformer.features.hidden, f.hidden);
  EXPECT_EQ(again.model.transformer.features.activation, "gelu");
  const RunConfig d = parse_run_config(toml(""), "run.toml");
  EXPECT_TRUE(d.model.transformer.features.hidden.empty());
  EXPECT_EQ(d.model.transformer.features.activation, "relu");
  EXPECT_EQ(d.model.transformer.features.embedding_dim, 8);
}

TEST(FeatureHeadConfig, BadValuesNameTheKey) {
  for (const auto& [extra, key] : std::vector<std::pair<std::string, std::string>>{
           {"feature_hidden = \"64,x\"\n", "model.feature_hidden"},
           {"feature_hidden = \"0\"\n", "model.feature_hidden"},
           {"feature_hidden = \"64,,32\"\n", "model.feature_hidden"},
           {"feature_activation = \"relux\"\n", "model.feature_activation"},
           {"feature_dropout = 1.0\n", "model.feature_dropout"},
           {"categorical_embedding_dim = 0\n", "model.categorical_embedding_dim"}}) {
    const std::string e = error_of(extra);
    EXPECT_NE(e.find(key), std::string::npos) << extra << " → " << e;
    EXPECT_NE(e.find("run.toml"), std::string::npos) << e;
  }
}
