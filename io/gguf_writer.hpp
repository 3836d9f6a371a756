// GGUF v3 writer (the layout io/gguf.hpp reads): header, metadata in insertion order,
// tensor infos, padding to `general.alignment` (32), then every tensor's bytes at an
// offset aligned to 32 within the data section. Tensor bytes are produced one tensor
// at a time while writing (a model is never held twice). The file is written to
// <path>.tmp and renamed. Host-only, free of MPI/Kokkos.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>
#include "io/gguf.hpp"

namespace tessera {

class GgufWriter {
 public:
  static constexpr uint64_t kAlignment = 32;

  // Metadata; a key set twice is an Error. Arrays: type ARRAY with elem and the
  // matching vector of GgufValue (ints / floats / strings).
  void set(const std::string& key, const GgufValue& v);
  void set_string(const std::string& key, const std::string& s);
  void set_u32(const std::string& key, uint32_t v);
  void set_f32(const std::string& key, float v);
  bool has(const std::string& key) const;

  // A tensor: dims in ggml order (dims[0] varies fastest), ggml type id, its byte
  // count, and a function returning exactly those bytes (called once, by write()).
  void add_tensor(const std::string& name, const std::vector<uint64_t>& dims, uint32_t type, uint64_t nbytes,
                  std::function<std::vector<uint8_t>()> bytes);

  // Writes the file; returns its size in bytes. Errors name the path (and tensor).
  uint64_t write(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    std::vector<uint64_t> dims;
    uint32_t type;
    uint64_t nbytes;
    std::function<std::vector<uint8_t>()> bytes;
  };
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<Tensor> tensors_;
};

}  // namespace tessera
