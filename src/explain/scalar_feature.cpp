#include "src/explain/scalar_feature.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include "src/runtime/error.hpp"

namespace tessera::explain {

namespace {

std::vector<std::string> words_of(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> w;
  std::string s;
  while (in >> s) w.push_back(s);
  return w;
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string join(const std::vector<std::string>& w) {
  std::string s;
  for (const auto& x : w) s += (s.empty() ? "" : " ") + x;
  return s;
}

class LengthFeature : public ScalarFeature {
 public:
  std::string name() const override { return "length"; }
  double value(const std::string& t) const override { return double(words_of(t).size()); }
  std::string with_value(const std::string& t, double v) const override {
    const auto w = words_of(t);
    std::vector<std::string> out;
    for (int64_t i = 0; i < std::max<int64_t>(1, std::llround(v)) && !w.empty(); ++i) out.push_back(w[size_t(i) % w.size()]);
    return join(out);
  }
};

class CountFeature : public ScalarFeature {
 public:
  CountFeature(std::string word, bool presence) : word_(std::move(word)), presence_(presence) {}
  std::string name() const override { return (presence_ ? "presence:" : "count:") + word_; }
  double value(const std::string& t) const override {
    double n = 0;
    for (const auto& w : words_of(t)) n += lower(w) == lower(word_);
    return presence_ ? double(n > 0) : n;
  }
  std::string with_value(const std::string& t, double v) const override {
    std::vector<std::string> out;
    for (const auto& w : words_of(t))
      if (lower(w) != lower(word_)) out.push_back(w);
    for (int64_t i = 0; i < std::llround(v); ++i) out.push_back(word_);
    return join(out);
  }
  std::vector<double> grid(const std::vector<std::string>& texts, int points) const override {
    if (presence_) return {0.0, 1.0};
    return ScalarFeature::grid(texts, points);
  }

 private:
  std::string word_;
  bool presence_;
};

}  // namespace

std::vector<double> ScalarFeature::grid(const std::vector<std::string>& texts, int points) const {
  require(points >= 2, "explain pdp: --grid must be >= 2");
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& t : texts) lo = std::min(lo, value(t)), hi = std::max(hi, value(t));
  lo = std::max(0.0, lo);
  if (name().rfind("count:", 0) == 0) lo = 0, hi = std::max(hi, 3.0);
  if (name() == "length") lo = std::max(1.0, lo);
  std::vector<double> g;
  for (int k = 0; k < points; ++k) {
    const double v = std::round(lo + (hi - lo) * k / (points - 1));  // integer-valued features
    if (g.empty() || v != g.back()) g.push_back(v);
  }
  return g;
}

std::unique_ptr<ScalarFeature> make_scalar_feature(const std::string& spec) {
  if (spec == "length") return std::make_unique<LengthFeature>();
  for (const char* p : {"count:", "presence:"}) {
    const std::string prefix = p;
    if (spec.rfind(prefix, 0) == 0) {
      const std::string w = spec.substr(prefix.size());
      require(!w.empty() && w.find_first_of(" \t") == std::string::npos,
              "explain pdp: --feature " + spec + ": the word must be one non-empty word");
      return std::make_unique<CountFeature>(w, prefix == "presence:");
    }
  }
  throw Error("explain pdp: unknown --feature '" + spec + "' (length, count:WORD, presence:WORD)");
}

}  // namespace tessera::explain
