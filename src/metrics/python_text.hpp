// Internal helpers for src/metrics: Python string semantics on code points.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/metrics/metrics.hpp"

namespace tessera::metrics::detail {

// Decodes UTF-8; invalid bytes throw tessera::Error("<what>: invalid UTF-8 at byte N").
std::vector<int32_t> decode_checked(std::string_view s, const char* what);
std::string encode(const std::vector<int32_t>& cps);
bool py_isspace(int32_t cp);  // str.isspace()
bool py_isword(int32_t cp);   // re's \w for str patterns (alphanumeric or '_')
std::vector<int32_t> py_lower(const std::vector<int32_t>& cps);  // str.lower()

// numpy's float64 np.sum (pairwise summation, identity-initialised), so averages
// round like the references'.
inline double pairwise_sum(const double* a, size_t n) {
  if (n < 8) {
    double r = 0.;
    for (size_t i = 0; i < n; ++i) r += a[i];
    return r;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}
inline double numpy_sum(const std::vector<double>& v) { return pairwise_sum(v.data(), v.size()); }

}  // namespace tessera::metrics::detail
