// Reader and comparison for tessera_kernel_dump files (format in tests/kernels-openmp/kernel_dump.cpp).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <regex>
#include <set>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace tessera_test {

struct DumpRecord {
  bool exact = true;  // fixed operation order: every backend must give the same bits
  std::vector<double> values;
};

struct KernelDump {
  std::string backend;  // "<execution space> <concurrency>", e.g. "OpenMP 2"
  std::map<std::string, DumpRecord> records;
};

inline KernelDump read_kernel_dump(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("kernel dump " + path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string d = ss.str();
  if (d.compare(0, 8, "TKDUMP1\n") != 0) throw std::runtime_error("kernel dump " + path + ": bad magic");
  KernelDump out;
  size_t i = 8;
  auto need = [&](size_t n) {
    if (i + n > d.size()) throw std::runtime_error("kernel dump " + path + ": truncated at byte " + std::to_string(i));
  };
  while (i < d.size()) {
    uint32_t len = 0;
    uint64_t n = 0;
    need(4);
    std::memcpy(&len, d.data() + i, 4);
    i += 4;
    need(len + 9);
    std::string name = d.substr(i, len);
    i += len;
    const bool exact = d[i] != 0;
    i += 1;
    std::memcpy(&n, d.data() + i, 8);
    i += 8;
    if (name == "backend") {
      need(n);
      out.backend = d.substr(i, n);
      i += n;
      continue;
    }
    need(n * 8);
    DumpRecord r;
    r.exact = exact;
    r.values.resize(n);
    std::memcpy(r.values.data(), d.data() + i, n * 8);
    i += n * 8;
    out.records[name] = std::move(r);
  }
  return out;
}

inline bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0 || (a != a && b != b); }

// Largest |a - b| / (|b| + floor) over the record (0 when bitwise equal); infinity on a NaN mismatch.
inline double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b, double floor = 1e-6) {
  double m = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    if (same_bits(a[k], b[k])) continue;
    if (a[k] != a[k] || b[k] != b[k]) return INFINITY;
    m = std::max(m, std::abs(a[k] - b[k]) / (std::abs(b[k]) + floor));
  }
  return m;
}

// max_k |a_k − b_k| / max_k |b_k|: error against the record's scale. For a sum with cancellation
// (layernorm's dweight: Σ_n dy·x̂ over rows) one element can be near 0, so a last-bit difference in
// its terms is a large per-element relative error but a tiny one against the record's values.
inline double max_scaled_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0, scale = 0;
  for (size_t k = 0; k < b.size(); ++k) scale = std::max(scale, std::abs(b[k]));
  for (size_t k = 0; k < a.size(); ++k) {
    if (same_bits(a[k], b[k])) continue;
    if (a[k] != a[k] || b[k] != b[k]) return INFINITY;
    m = std::max(m, std::abs(a[k] - b[k]));
  }
  return scale > 0 ? m / scale : m;
}

inline size_t bit_differences(const std::vector<double>& a, const std::vector<double>& b) {
  size_t n = 0;
  for (size_t k = 0; k < a.size(); ++k) n += same_bits(a[k], b[k]) ? 0 : 1;
  return n;
}

// Function templates declared in <source>/kernels/*.hpp: the Kokkos kernels (the BLAS GEMM dispatch and
// helper headers aside).
// Maps each to the stem of the header declaring it ("rope" for kernels/rope.hpp).
inline std::map<std::string, std::string> declared_kernel_headers(const std::string& source) {
  const std::set<std::string> not_kernels = {"gemm.hpp", "kernel_math.hpp", "views.hpp", "counter_rng.hpp",
                                             "half_bits.hpp", "device_runtime.hpp"};
  const std::regex decl(R"(^template <class S>\s*\n\s*[A-Za-z_][\w:<>]*\s+([a-z_][a-z0-9_]*)\()",
                        std::regex::multiline);
  std::map<std::string, std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(source) / "kernels")) {
    if (e.path().extension() != ".hpp" || not_kernels.count(e.path().filename().string())) continue;
    std::ifstream f(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string text = ss.str();
    for (auto it = std::sregex_iterator(text.begin(), text.end(), decl); it != std::sregex_iterator(); ++it)
      names[(*it)[1]] = e.path().stem().string();
  }
  return names;
}
inline std::set<std::string> declared_kernels(const std::string& source) {
  std::set<std::string> names;
  for (const auto& [k, h] : declared_kernel_headers(source)) names.insert(k);
  return names;
}

}  // namespace tessera_test
