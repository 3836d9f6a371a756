// Scalar features of an input for partial dependence and ICE curves: a feature reads
// its value off an input and rewrites the input to take another value. Text-derived:
//   length         number of words: the first n words (repeated cyclically past the end);
//   count:WORD     occurrences of WORD (whole word, case-insensitive): all removed, then
//                  n copies appended at the end;
//   presence:WORD  count:WORD on the grid {0, 1}.
// Dataset numeric columns (feature engineering, #16) plug in as further ScalarFeature
// implementations that set the column of the row instead of rewriting the text.
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace tessera::explain {

class ScalarFeature {
 public:
  virtual ~ScalarFeature() = default;
  virtual std::string name() const = 0;
  virtual double value(const std::string& text) const = 0;
  virtual std::string with_value(const std::string& text, double v) const = 0;
  // Grid of up to `points` values spanning the inputs' values.
  virtual std::vector<double> grid(const std::vector<std::string>& texts, int points) const;
};

// "length", "count:WORD", "presence:WORD"; error naming the spec otherwise.
std::unique_ptr<ScalarFeature> make_scalar_feature(const std::string& spec);

struct PartialDependence {
  std::string feature;
  std::vector<double> grid;
  std::vector<std::vector<double>> ice;  // [input][grid point]
  std::vector<double> pdp;               // mean over inputs
  std::vector<double> observed;          // each input's own value
};

}  // namespace tessera::explain
