#include "src/tasks/softmax.hpp"

#include <cmath>
#include <limits>

#include "src/runtime/error.hpp"

namespace tessera::tasks {
namespace {

template <typename T>
std::vector<double> softmax_impl(const T* z, int64_t n, const std::string& what) {
  require(n > 0, what + ": empty row of logits");
  double mx = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(z[i]);
    require(!std::isnan(v) && v != std::numeric_limits<double>::infinity(),
            what + ": logit " + std::to_string(i) + " is " + (std::isnan(v) ? "nan" : "+inf"));
    if (v > mx) mx = v;
  }
  require(std::isfinite(mx), what + ": every logit is -inf");
  std::vector<double> p(static_cast<size_t>(n));
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += p[static_cast<size_t>(i)] = std::exp(static_cast<double>(z[i]) - mx);
  for (double& v : p) v /= sum;
  return p;
}

}  // namespace

std::vector<double> softmax(const float* logits, int64_t n, const std::string& what) {
  return softmax_impl(logits, n, what);
}
std::vector<double> softmax(const double* logits, int64_t n, const std::string& what) {
  return softmax_impl(logits, n, what);
}

int64_t argmax(const double* values, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (values[i] > values[best]) best = i;
  return best;
}

}  // namespace tessera::tasks
