#include "io/auxiliary_features.hpp"

#include <cstdio>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "src/runtime/error.hpp"

namespace tessera {

namespace {

const char* kKnownText = "words, tokens, wordlist:FILE, punct_ratio, upper_ratio, has_number";

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Words: maximal runs of letters, digits and apostrophes (ASCII), lower-cased; bytes
// >= 0x80 count as letters so UTF-8 words stay whole.
std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '\'' || c >= 0x80) {
      cur += static_cast<char>(std::tolower(c));
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

double parse_number(const FeatureRowInput& r, const std::string& column, const std::string& v) {
  const std::string t = trim(v);
  errno = 0;
  char* end = nullptr;
  const double x = std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size() || errno == ERANGE || !std::isfinite(x))
    throw Error(r.source + ": column '" + column + "': value '" + v + "' is not a number");
  return x;
}

bool is_missing(const FeatureRowInput& r, size_t i) {
  return (i < r.missing.size() && r.missing[i]) || trim(r.values[i]).empty();
}

void check_width(const FeatureRowInput& r, size_t n) {
  require(r.values.size() == n, r.source + ": " + std::to_string(r.values.size()) +
                                    " feature values given, the schema reads " + std::to_string(n) + " columns");
}

void fit_mean_std(StandardisedFeature& f, const std::vector<double>& xs) {
  if (xs.empty()) return;  // mean 0, std 1
  double m = 0;
  for (double x : xs) m += x;
  m /= double(xs.size());
  double v = 0;
  for (double x : xs) v += (x - m) * (x - m);
  v /= double(xs.size());  // population variance
  f.mean = m;
  f.std = v > 1e-24 ? std::sqrt(v) : 1.0;
}

std::vector<std::string> read_word_list(const std::string& path) {
  std::ifstream in(path);
  require(bool(in), "--text-features wordlist:" + path + ": cannot open the word list");
  std::vector<std::string> words;
  std::string ln;
  while (std::getline(in, ln)) {
    const std::string w = lower(trim(ln));
    if (!w.empty() && w[0] != '#') words.push_back(w);
  }
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  require(!words.empty(), "--text-features wordlist:" + path + ": the word list is empty");
  return words;
}

}  // namespace

std::vector<std::string> split_feature_list(const std::string& csv) {
  std::vector<std::string> out;
  std::stringstream ss(csv);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::vector<std::string> FeatureRequest::columns() const {
  std::vector<std::string> c = numeric;
  c.insert(c.end(), categorical.begin(), categorical.end());
  return c;
}

std::vector<std::string> FeatureSchema::columns() const {
  std::vector<std::string> c;
  for (const auto& f : numeric) c.push_back(f.name);
  for (const auto& f : categorical) c.push_back(f.name);
  return c;
}

std::vector<std::string> FeatureSchema::dense_names() const {
  std::vector<std::string> n;
  for (const auto& f : numeric) {
    n.push_back(f.name);
    n.push_back(f.name + ":missing");
  }
  for (const auto& f : text) n.push_back("text:" + f.name);
  return n;
}

double text_feature_value(const StandardisedFeature& f, const std::string& text, const TokenCounter& count_tokens) {
  const std::string& k = f.name;
  if (k == "words") return double(words_of(text).size());
  if (k == "tokens") {
    require(bool(count_tokens), "text feature 'tokens' needs the dataset's tokenizer");
    return double(count_tokens(text));
  }
  if (k.rfind("wordlist:", 0) == 0) {
    int64_t n = 0;
    for (const auto& w : words_of(text)) n += std::binary_search(f.words.begin(), f.words.end(), w) ? 1 : 0;
    return double(n);
  }
  if (k == "punct_ratio" || k == "upper_ratio") {
    int64_t visible = 0, hit = 0;
    for (unsigned char c : text) {
      if (std::isspace(c)) continue;
      ++visible;
      if (k == "punct_ratio" ? std::ispunct(c) != 0 : std::isupper(c) != 0) ++hit;
    }
    return visible > 0 ? double(hit) / double(visible) : 0.0;
  }
  if (k == "has_number") {
    for (unsigned char c : text)
      if (std::isdigit(c)) return 1.0;
    return 0.0;
  }
  throw Error("--text-features: unknown text feature '" + k + "' (known: " + kKnownText + ")");
}

FeatureSchema fit_feature_schema(const FeatureRequest& req, const std::vector<FeatureRowInput>& train,
                                 const TokenCounter& count_tokens) {
  FeatureSchema s;
  std::set<std::string> seen;
  for (const auto& c : req.columns())
    require(seen.insert(c).second, "feature column '" + c + "' is named twice");
  const size_t ncol = req.columns().size();
  for (const auto& r : train) check_width(r, ncol);
  for (size_t j = 0; j < req.numeric.size(); ++j) {
    StandardisedFeature f;
    f.name = req.numeric[j];
    std::vector<double> xs;
    for (const auto& r : train)
      if (!is_missing(r, j)) xs.push_back(parse_number(r, f.name, r.values[j]));
    fit_mean_std(f, xs);
    s.numeric.push_back(std::move(f));
  }
  for (size_t j = 0; j < req.categorical.size(); ++j) {
    const size_t col = req.numeric.size() + j;
    CategoricalFeature f;
    f.name = req.categorical[j];
    std::set<std::string> vals;
    for (const auto& r : train)
      if (!is_missing(r, col)) vals.insert(trim(r.values[col]));
    f.values.assign(vals.begin(), vals.end());
    s.categorical.push_back(std::move(f));
  }
  std::set<std::string> seen_text;
  for (const auto& spec : req.text) {
    require(seen_text.insert(spec).second, "--text-features: '" + spec + "' is named twice");
    StandardisedFeature f;
    f.name = spec;
    if (spec.rfind("wordlist:", 0) == 0) f.words = read_word_list(spec.substr(9));
    std::vector<double> xs;
    xs.reserve(train.size());
    text_feature_value(f, "", count_tokens);  // rejects an unknown name even without rows
    for (const auto& r : train) xs.push_back(text_feature_value(f, r.text + (r.text_pair.empty() ? "" : " " + r.text_pair), count_tokens));
    fit_mean_std(f, xs);
    s.text.push_back(std::move(f));
  }
  return s;
}

FeatureMatrix compute_features(const FeatureSchema& s, const std::vector<FeatureRowInput>& rows,
                               const TokenCounter& count_tokens) {
  FeatureMatrix m;
  m.dense_dim = s.dense_dim();
  m.categorical_dim = s.categorical_dim();
  m.dense.reserve(rows.size() * size_t(m.dense_dim));
  m.categorical.reserve(rows.size() * size_t(m.categorical_dim));
  const size_t ncol = s.columns().size();
  for (const auto& r : rows) {
    check_width(r, ncol);
    for (size_t j = 0; j < s.numeric.size(); ++j) {
      const auto& f = s.numeric[j];
      if (is_missing(r, j)) {
        m.dense.push_back(0.0f);
        m.dense.push_back(1.0f);
      } else {
        m.dense.push_back(float((parse_number(r, f.name, r.values[j]) - f.mean) / f.std));
        m.dense.push_back(0.0f);
      }
    }
    const std::string text = r.text + (r.text_pair.empty() ? "" : " " + r.text_pair);
    for (const auto& f : s.text) m.dense.push_back(float((text_feature_value(f, text, count_tokens) - f.mean) / f.std));
    for (size_t j = 0; j < s.categorical.size(); ++j) {
      const size_t col = s.numeric.size() + j;
      const auto& vals = s.categorical[j].values;
      int32_t idx = 0;
      if (!is_missing(r, col)) {
        auto it = std::lower_bound(vals.begin(), vals.end(), trim(r.values[col]));
        if (it != vals.end() && *it == trim(r.values[col])) idx = int32_t(it - vals.begin()) + 1;
      }
      m.categorical.push_back(idx);
    }
  }
  return m;
}

namespace {

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string standardised_difference(const char* kind, const std::vector<StandardisedFeature>& a,
                                    const std::vector<StandardisedFeature>& b) {
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    const std::string col = std::string(kind) + " column '" + a[i].name + "'";
    if (a[i].name != b[i].name) return std::string(kind) + " column " + std::to_string(i + 1) + ": '" + a[i].name + "' vs '" + b[i].name + "'";
    if (a[i].mean != b[i].mean) return col + ": mean " + number(a[i].mean) + " vs " + number(b[i].mean);
    if (a[i].std != b[i].std) return col + ": std " + number(a[i].std) + " vs " + number(b[i].std);
    if (a[i].words != b[i].words) return col + ": the word lists differ";
  }
  if (a.size() != b.size())
    return std::to_string(a.size()) + " vs " + std::to_string(b.size()) + " " + kind + " columns (first unmatched: '" +
           (a.size() > b.size() ? a[b.size()].name : b[a.size()].name) + "')";
  return "";
}

}  // namespace

std::string feature_schema_difference(const FeatureSchema& a, const FeatureSchema& b) {
  std::string d = standardised_difference("numeric", a.numeric, b.numeric);
  if (d.empty()) d = standardised_difference("text-derived", a.text, b.text);
  if (!d.empty()) return d;
  for (size_t i = 0; i < std::min(a.categorical.size(), b.categorical.size()); ++i) {
    const CategoricalFeature &x = a.categorical[i], &y = b.categorical[i];
    if (x.name != y.name) return "categorical column " + std::to_string(i + 1) + ": '" + x.name + "' vs '" + y.name + "'";
    for (size_t k = 0; k < std::min(x.values.size(), y.values.size()); ++k)
      if (x.values[k] != y.values[k])
        return "categorical column '" + x.name + "': values differ at index " + std::to_string(k + 1) + " ('" +
               x.values[k] + "' vs '" + y.values[k] + "')";
    if (x.values.size() != y.values.size())
      return "categorical column '" + x.name + "': " + std::to_string(x.values.size()) + " vs " +
             std::to_string(y.values.size()) + " categories";
  }
  if (a.categorical.size() != b.categorical.size())
    return std::to_string(a.categorical.size()) + " vs " + std::to_string(b.categorical.size()) +
           " categorical columns (first unmatched: '" +
           (a.categorical.size() > b.categorical.size() ? a.categorical[b.categorical.size()].name
                                                        : b.categorical[a.categorical.size()].name) + "')";
  return "";
}

std::string FeatureSchema::to_json() const {
  nlohmann::json j;
  j["numeric"] = nlohmann::json::array();
  for (const auto& f : numeric) j["numeric"].push_back({{"name", f.name}, {"mean", f.mean}, {"std", f.std}});
  j["text"] = nlohmann::json::array();
  for (const auto& f : text)
    j["text"].push_back({{"name", f.name}, {"mean", f.mean}, {"std", f.std}, {"words", f.words}});
  j["categorical"] = nlohmann::json::array();
  for (const auto& f : categorical) j["categorical"].push_back({{"name", f.name}, {"values", f.values}});
  return j.dump(-1, ' ', /*ensure_ascii=*/true);
}

FeatureSchema FeatureSchema::from_json(const std::string& text, const std::string& where) {
  FeatureSchema s;
  try {
    const auto j = nlohmann::json::parse(text);
    for (const auto& e : j.at("numeric"))
      s.numeric.push_back({e.at("name").get<std::string>(), e.at("mean").get<double>(), e.at("std").get<double>(), {}});
    for (const auto& e : j.at("text"))
      s.text.push_back({e.at("name").get<std::string>(), e.at("mean").get<double>(), e.at("std").get<double>(),
                        e.at("words").get<std::vector<std::string>>()});
    for (const auto& e : j.at("categorical"))
      s.categorical.push_back({e.at("name").get<std::string>(), e.at("values").get<std::vector<std::string>>()});
  } catch (const std::exception& e) {
    throw Error(where + ": malformed feature schema: " + e.what());
  }
  for (const auto& f : s.numeric) require(f.std > 0, where + ": feature '" + f.name + "' has std <= 0");
  for (const auto& f : s.text) require(f.std > 0, where + ": feature '" + f.name + "' has std <= 0");
  return s;
}

}  // namespace tessera
