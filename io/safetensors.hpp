// Hugging Face safetensors: reader (validating, for untrusted files) and writer.
//
// Layout: u64 little-endian N, then N bytes of JSON header, then the data section.
// Header: {"__metadata__": {str: str}?, "<name>": {"dtype": "F32", "shape": [..],
// "data_offsets": [begin, end]}, ...}, offsets relative to the data section.
//
// Validation, all before any allocation that depends on file contents:
//   file ≥ 8 bytes; N ≤ file size − 8 and N ≤ kSafetensorsMaxHeader (100 MB);
//   JSON nesting ≤ 64 levels (checked by a scan before parsing, so deep input
//   cannot exhaust the stack), well-formed JSON/UTF-8, top level an object,
//   no duplicate keys; every tensor: known dtype, shape of ≤ 16 non-negative ints,
//   numel and numel × dtype size without overflow, begin ≤ end ≤ data size,
//   end − begin == numel × dtype size, no two tensors' byte ranges overlap;
//   __metadata__ an object of strings.
// Every failure throws tessera::Error naming the file (and the tensor).
//
// Parsers here are free of MPI/Kokkos (fuzz/ compiles them alone).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tessera {

inline constexpr uint64_t kSafetensorsMaxHeader = 100ull << 20;

enum class StDtype { BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };

const char* st_dtype_name(StDtype d);
uint64_t st_dtype_size(StDtype d);
// Parses "F32" etc.; returns false for an unknown name.
bool st_dtype_from_name(const std::string& name, StDtype* out);

struct SafetensorsTensorInfo {
  std::string name;
  StDtype dtype = StDtype::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets relative to the data section
  uint64_t end = 0;
  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Opens and validates `path` (reads the header only; tensor bytes are read on demand
  // with pread, so a huge file costs no memory until a tensor is read).
  static SafetensorsFile open(const std::string& path);
  // Validates an in-memory file image (`origin` names it in errors); fuzzing and tests.
  static SafetensorsFile from_memory(std::string bytes, const std::string& origin = "<memory>");

  const std::string& path() const;
  // Tensor names, sorted.
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const;
  // Throws Error naming the file when `name` is absent.
  const SafetensorsTensorInfo& info(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const;
  uint64_t header_size() const;  // N
  uint64_t data_offset() const;  // 8 + N

  // Tensor as float32, row-major. F32/F16/BF16 convert exactly; F64 rounds; integer
  // and BOOL types convert by value; F8 types throw Error.
  std::vector<float> read_f32(const std::string& name) const;
  // Raw little-endian bytes of the tensor.
  std::vector<uint8_t> read_raw(const std::string& name) const;

  struct Impl;

 private:
  explicit SafetensorsFile(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// One tensor to write: row-major float data and the dtype to store it as (F32, F16 or
// BF16; narrowing rounds to nearest even).
struct SafetensorsTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
  StDtype dtype = StDtype::F32;
};

// Writes a safetensors file byte-identical to HF `safetensors` save_file: compact JSON,
// __metadata__ first, then the tensors in data order (F32, then BF16, then F16; by name
// within a dtype), spaces padding the header so the data starts at a multiple of 8.
// Written to <path>.tmp and renamed. Throws Error when data.size() != numel(shape), a
// dtype is not F32/F16/BF16, or the write fails.
void write_safetensors(const std::string& path, const std::map<std::string, SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});
// Same, into memory.
std::string serialize_safetensors(const std::map<std::string, SafetensorsTensor>& tensors,
                                  const std::map<std::string, std::string>& metadata = {});

}  // namespace tessera
