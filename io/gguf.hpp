// GGUF (llama.cpp / ggml) reader for untrusted files, versions 2 and 3.
//
// Layout (little-endian): "GGUF", u32 version, u64 n_tensors, u64 n_kv, then n_kv
// metadata entries {string key, u32 type, value}, then n_tensors tensor infos
// {string name, u32 n_dims, u64 dims[n_dims], u32 ggml type, u64 offset}, then
// padding to `general.alignment` (default 32), then the data section; a tensor's
// offset is relative to the data section. A string is {u64 length, bytes}.
// Value types: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool, 8 string,
// 9 array {u32 element type, u64 count, elements}, 10 u64, 11 i64, 12 f64.
//
// Validation, before any allocation that depends on file contents: every read is
// bounds-checked against the file size; counts are checked against the bytes left
// (n_kv ≤ left / 13, n_tensors ≤ left / 24, array count × minimum element size ≤
// left; strings ≤ left); nested arrays, unknown value types, duplicate keys and
// duplicate tensor names are rejected; general.alignment must be a u32 power of two
// (≤ 1 MiB); metadata may expand to at most 1 GiB in memory; tensors: 1 ≤ n_dims ≤ 4, dims ≥ 1, element count overflow-checked,
// known ggml type, dims[0] a multiple of the block size, offset aligned, data inside
// the file, byte ranges non-overlapping. Errors are tessera::Error naming the file
// (and the key or tensor).
//
// Free of MPI/Kokkos (fuzz/ compiles it alone with io/dequantize.cpp).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tessera {

enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9,
  U64 = 10, I64 = 11, F64 = 12,
};
const char* gguf_type_name(GgufType t);

// A metadata value. Scalars: integers/bools in `i` (u64 values above INT64_MAX are
// stored as their bit pattern in `u`), floats in `f`, strings in `s`. Arrays: type ==
// ARRAY, element type in `elem`, elements in `ints` / `floats` / `strings` by kind.
struct GgufValue {
  GgufType type = GgufType::U8;
  GgufType elem = GgufType::U8;
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;
  uint64_t array_size() const;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // ggml order: dims[0] varies fastest
  uint32_t type = 0;           // ggml type id (see io/dequantize.hpp GgmlType)
  uint64_t offset = 0;         // relative to the data section
  uint64_t nbytes = 0;
  uint64_t numel() const;
  // Row-major (PyTorch/numpy) shape: dims reversed.
  std::vector<int64_t> shape() const;
};

// The tokenizer as stored by llama.cpp's convert scripts (tokenizer.ggml.*).
struct GgufTokenizer {
  std::string model;                // "gpt2" (byte-level BPE), "llama" (SentencePiece), ...
  std::string pre;                  // pre-tokenizer name, e.g. "smollm"
  std::vector<std::string> tokens;  // id -> token text (byte-level BPE: GPT-2 unicode alphabet)
  std::vector<std::string> merges;  // "a b", by rank (BPE only)
  std::vector<int32_t> token_type;  // 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
  std::vector<float> scores;        // SentencePiece scores (may be empty)
  int64_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;
  bool add_bos = false, add_eos = false;
  std::string chat_template;
};

class GgufFile {
 public:
  // Opens and validates `path` (header, metadata and tensor infos; tensor data is read
  // on demand with pread).
  static GgufFile open(const std::string& path);
  // Validates an in-memory image (`origin` names it in errors); fuzzing and tests.
  static GgufFile from_memory(std::string bytes, const std::string& origin = "<memory>");

  const std::string& path() const;
  uint32_t version() const;
  uint64_t alignment() const;
  uint64_t data_offset() const;

  const std::map<std::string, GgufValue>& metadata() const;
  bool has(const std::string& key) const;
  // Typed access; Error naming the file and key when absent or of another kind.
  const GgufValue& value(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  int64_t get_int(const std::string& key) const;  // any integer type or bool
  double get_float(const std::string& key) const;  // f32/f64 (or integer)
  const std::vector<std::string>& get_string_array(const std::string& key) const;
  const std::vector<int64_t>& get_int_array(const std::string& key) const;
  // "<general.architecture>.<suffix>" as an integer, e.g. arch_int("block_count").
  int64_t arch_int(const std::string& suffix) const;

  // Tensor infos in file order.
  const std::vector<GgufTensorInfo>& tensors() const;
  bool contains(const std::string& name) const;
  const GgufTensorInfo& tensor(const std::string& name) const;
  // Dequantised to float32 (ggml element order). Unsupported types → Error naming the
  // tensor and the type.
  std::vector<float> read_f32(const std::string& name) const;
  std::vector<uint8_t> read_raw(const std::string& name) const;

  // tokenizer.ggml.*; Error when tokenizer.ggml.model or .tokens is missing, or the
  // optional arrays' lengths differ from the token count.
  GgufTokenizer tokenizer() const;

  struct Impl;

 private:
  explicit GgufFile(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace tessera
