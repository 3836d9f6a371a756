// Shared helpers for the import/export tests: fixture paths, copying and editing HF
// directories, a minimal GGUF writer, error matching.
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "io/safetensors.hpp"
#include "src/runtime/error.hpp"
#include "test_support.hpp"

namespace hf_test {

inline std::string hf_fixture(const std::string& name) {
  return tessera_test::source_dir() + "/tests/fixtures/hf/" + name;
}

// Real model files fetched by scripts/fetch_assets.sh / scripts/fetch_gguf.sh.
inline std::string asset(const std::string& rel) {
  const char* env = std::getenv("TESSERA_ASSETS");
  const std::string root = env && *env ? env : tessera_test::source_dir() + "/.cache/assets";
  return root + "/" + rel;
}

// Copies a fixture directory into a fresh test directory.
inline std::filesystem::path copy_fixture(const std::string& fixture, const std::string& test_name) {
  const std::filesystem::path dst = tessera_test::fresh_dir(test_name);
  for (const auto& e : std::filesystem::directory_iterator(hf_fixture(fixture)))
    std::filesystem::copy_file(e.path(), dst / e.path().filename());
  return dst;
}

// All tensors of a safetensors file as float32 (shape + data).
inline std::map<std::string, tessera::SafetensorsTensor> read_all(const std::string& path) {
  const tessera::SafetensorsFile f = tessera::SafetensorsFile::open(path);
  std::map<std::string, tessera::SafetensorsTensor> out;
  for (const std::string& n : f.names()) {
    tessera::SafetensorsTensor t;
    t.shape = f.info(n).shape;
    t.data = f.read_f32(n);
    out.emplace(n, std::move(t));
  }
  return out;
}

inline bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// Expects fn to throw tessera::Error whose message contains every needle.
inline void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> needles) {
  try {
    fn();
    ADD_FAILURE() << "no error";
  } catch (const tessera::Error& e) {
    for (const std::string& n : needles)
      EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << "'" << n << "' not in: " << e.what();
  }
}

// Minimal GGUF v3 writer: metadata (u32 / f32 / string), F32 or raw tensors.
struct GgufWriter {
  struct Tensor {
    std::string name;
    std::vector<uint64_t> dims;  // ggml order
    uint32_t type;
    std::string bytes;
  };
  std::vector<std::string> kv;  // encoded entries
  std::vector<Tensor> tensors;

  template <class T>
  static void put(std::string& b, T v) {
    b.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  static void str(std::string& b, const std::string& s) {
    put<uint64_t>(b, s.size());
    b += s;
  }
  void u32(const std::string& key, uint32_t v) {
    std::string e;
    str(e, key);
    put<uint32_t>(e, 4);
    put<uint32_t>(e, v);
    kv.push_back(e);
  }
  void f32(const std::string& key, float v) {
    std::string e;
    str(e, key);
    put<uint32_t>(e, 6);
    put<float>(e, v);
    kv.push_back(e);
  }
  void string(const std::string& key, const std::string& v) {
    std::string e;
    str(e, key);
    put<uint32_t>(e, 8);
    str(e, v);
    kv.push_back(e);
  }
  // Row-major [rows, cols] (or 1-D) float tensor stored as F32.
  void tensor_f32(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& data) {
    Tensor t{name, {}, 0, std::string(reinterpret_cast<const char*>(data.data()), data.size() * 4)};
    for (auto it = shape.rbegin(); it != shape.rend(); ++it) t.dims.push_back(uint64_t(*it));
    tensors.push_back(std::move(t));
  }
  void tensor_raw(const std::string& name, const std::vector<int64_t>& shape, uint32_t type, std::string bytes) {
    Tensor t{name, {}, type, std::move(bytes)};
    for (auto it = shape.rbegin(); it != shape.rend(); ++it) t.dims.push_back(uint64_t(*it));
    tensors.push_back(std::move(t));
  }
  std::string bytes() const {
    std::string b = "GGUF";
    put<uint32_t>(b, 3);
    put<uint64_t>(b, tensors.size());
    put<uint64_t>(b, kv.size());
    for (const std::string& e : kv) b += e;
    uint64_t offset = 0;
    for (const Tensor& t : tensors) {
      str(b, t.name);
      put<uint32_t>(b, uint32_t(t.dims.size()));
      for (uint64_t d : t.dims) put<uint64_t>(b, d);
      put<uint32_t>(b, t.type);
      put<uint64_t>(b, offset);
      offset += (t.bytes.size() + 31) / 32 * 32;
    }
    while (b.size() % 32) b.push_back('\0');
    for (const Tensor& t : tensors) {
      b += t.bytes;
      while (b.size() % 32) b.push_back('\0');
    }
    return b;
  }
};

// Deterministic pseudo-random values in [-1, 1).
inline std::vector<float> values(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  uint32_t s = seed * 2654435761u + 1;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = float(int32_t(s >> 8) % 4096) / 2048.0f - 1.0f;
  }
  return v;
}

}  // namespace hf_test
