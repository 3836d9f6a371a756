#include "src/train/class_balance.hpp"
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include "src/runtime/error.hpp"

namespace tessera {

std::vector<double> class_weights_balanced(const std::vector<int64_t>& counts) {
  require(!counts.empty(), "class_weights_balanced: no classes");
  int64_t n_samples = 0;
  for (size_t c = 0; c < counts.size(); ++c) {
    require(counts[c] > 0, "class_weights_balanced: class " + std::to_string(c) + " has " +
                               std::to_string(counts[c]) +
                               " training samples; 'balanced' weights need every class present");
    n_samples += counts[c];
  }
  std::vector<double> w(counts.size());
  for (size_t c = 0; c < counts.size(); ++c)
    w[c] = double(n_samples) / (double(counts.size()) * double(counts[c]));
  return w;
}

namespace {

// Whole-string decimal number (strtod syntax), finite and >= 0.
double parse_weight(const std::string& text, const std::string& key, const std::string& item) {
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(begin, &end);
  require(!text.empty() && end == begin + text.size() && errno == 0,
          key + ": '" + item + "' is not a number (class weights are numbers or label=number)");
  require(std::isfinite(v) && v >= 0.0, key + ": weight in '" + item + "' must be finite and >= 0");
  return v;
}

}  // namespace

std::vector<double> parse_class_weights(const std::vector<std::string>& items,
                                        const std::vector<std::string>& label_names, const std::string& key) {
  const size_t K = label_names.size();
  require(K > 0, key + ": no class labels to weight");
  size_t named = 0;
  for (const auto& it : items) named += it.find('=') != std::string::npos ? 1 : 0;
  require(named == 0 || named == items.size(),
          key + ": mix of positional weights and label=weight items; use one form");
  std::vector<double> w(K, 0.0);
  if (named == 0) {
    require(items.size() == K, key + ": " + std::to_string(items.size()) + " weights given for " +
                                   std::to_string(K) + " classes");
    for (size_t c = 0; c < K; ++c) w[c] = parse_weight(items[c], key, items[c]);
  } else {
    std::vector<bool> seen(K, false);
    for (const auto& it : items) {
      const size_t eq = it.find('=');
      const std::string name = it.substr(0, eq);
      size_t c = 0;
      while (c < K && label_names[c] != name) ++c;
      require(c < K, key + ": unknown label '" + name + "' in '" + it + "'");
      require(!seen[c], key + ": label '" + name + "' given twice");
      seen[c] = true;
      w[c] = parse_weight(it.substr(eq + 1), key, it);
    }
    for (size_t c = 0; c < K; ++c) require(seen[c], key + ": no weight for label '" + label_names[c] + "'");
  }
  bool any_positive = false;
  for (double x : w) any_positive = any_positive || x > 0.0;
  require(any_positive, key + ": all class weights are 0");
  return w;
}

std::vector<int64_t> class_counts(const std::vector<int32_t>& labels, int n_classes, int32_t ignore_index) {
  require(n_classes > 0, "class_counts: n_classes must be positive");
  std::vector<int64_t> counts(size_t(n_classes), 0);
  for (size_t i = 0; i < labels.size(); ++i) {
    const int32_t y = labels[i];
    if (y == ignore_index) continue;
    require(y >= 0 && y < n_classes, "class_counts: label " + std::to_string(y) + " at position " +
                                         std::to_string(i) + " is outside [0, " + std::to_string(n_classes) + ")");
    ++counts[size_t(y)];
  }
  return counts;
}

}  // namespace tessera
