// Auxiliary features of a classification dataset: numeric and categorical columns of
// the source file and features derived from the text, turned into a fixed-width
// vector per row (docs/datasets.md, "Auxiliary features").
//   numeric column c      standardised (v - mean) / std with the TRAINING split's mean
//                         and std; a missing value (empty field, JSON null or absent
//                         key) gives 0 and sets the indicator feature "c:missing" (1)
//   categorical column c  index into the training split's sorted values; index 0 is the
//                         unknown bucket (a value train lacks, or a missing one)
//   text features         words | tokens | wordlist:FILE | punct_ratio | upper_ratio |
//                         has_number, standardised like numeric columns
// The schema (names, statistics, category values, word lists) is fitted on train only
// and stored in the task dataset (root attribute feature_schema, JSON), so validation,
// test and predict inputs are turned into vectors with the same statistics.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tessera {

// What prepare was asked for (comma-separated lists on the command line).
struct FeatureRequest {
  std::vector<std::string> numeric, categorical, text;
  bool empty() const { return numeric.empty() && categorical.empty() && text.empty(); }
  // The source columns the request reads: numeric first, then categorical.
  std::vector<std::string> columns() const;
};
// "a,b,c" → {a, b, c}; blanks dropped.
std::vector<std::string> split_feature_list(const std::string& csv);

struct StandardisedFeature {
  std::string name;  // column name, or the text feature's spec ("words", "wordlist:FILE")
  double mean = 0, std = 1;
  std::vector<std::string> words;  // wordlist: the lower-cased words counted
};
struct CategoricalFeature {
  std::string name;
  std::vector<std::string> values;  // sorted training values; index i+1 (0: unknown)
  int64_t cardinality() const { return int64_t(values.size()) + 1; }
};

struct FeatureSchema {
  std::vector<StandardisedFeature> numeric;      // dense: value, then "name:missing" indicator
  std::vector<StandardisedFeature> text;         // dense: one value each
  std::vector<CategoricalFeature> categorical;   // one index each
  bool empty() const { return numeric.empty() && text.empty() && categorical.empty(); }
  // Width of the dense vector: 2 per numeric column (value, missing indicator) + 1 per text feature.
  int64_t dense_dim() const { return int64_t(2 * numeric.size() + text.size()); }
  int64_t categorical_dim() const { return int64_t(categorical.size()); }
  std::vector<std::string> dense_names() const;  // "price", "price:missing", "text:words", ...
  std::vector<std::string> columns() const;      // source columns: numeric then categorical
  std::string to_json() const;
  static FeatureSchema from_json(const std::string& text, const std::string& where);
};

// The first difference between two schemas, "" when they are equal: same columns in the
// same order (numeric, text-derived, categorical), the same statistics (mean, std) and
// word lists, the same category index. The message names the first differing column
// ("numeric column 'amount': mean 50.1 vs 48.7", "categorical column 'city': values differ
// at index 3 ('Oslo' vs 'Paris')", "numeric columns: 'a' vs 'b'", "2 vs 1 numeric columns").
std::string feature_schema_difference(const FeatureSchema& a, const FeatureSchema& b);

// One row's raw inputs: the text (and pair) and the values of schema.columns() (or
// FeatureRequest::columns()) in that order; missing[i] marks an absent value.
struct FeatureRowInput {
  std::string text, text_pair;
  std::vector<std::string> values;
  std::vector<char> missing;
  std::string source;  // "<file>:<line>", named in errors
};

// Counts the tokens of a text (the dataset's tokenizer, without special tokens).
using TokenCounter = std::function<int64_t(const std::string&)>;

// Fits the schema on the training rows. Error naming the unknown text feature (with the
// list of known ones), an unreadable word list, or "<file>:<line>: column 'c': value
// 'x' is not a number".
FeatureSchema fit_feature_schema(const FeatureRequest& req, const std::vector<FeatureRowInput>& train,
                                 const TokenCounter& count_tokens);

struct FeatureMatrix {
  int64_t dense_dim = 0, categorical_dim = 0;
  std::vector<float> dense;          // n * dense_dim
  std::vector<int32_t> categorical;  // n * categorical_dim, in [0, cardinality)
};
// The rows' vectors under the schema (same errors for non-numeric values).
FeatureMatrix compute_features(const FeatureSchema& s, const std::vector<FeatureRowInput>& rows,
                               const TokenCounter& count_tokens);

// The raw (unstandardised) value of a text feature for one text; Error for an unknown name.
double text_feature_value(const StandardisedFeature& f, const std::string& text, const TokenCounter& count_tokens);

}  // namespace tessera
