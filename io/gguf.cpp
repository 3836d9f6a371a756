// GGUF reader (see gguf.hpp for the format and the checks).
#include "io/gguf.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/dequantize.hpp"
#include "io/byte_source.hpp"
#include "src/runtime/error.hpp"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "GGUF I/O assumes a little-endian host");

namespace tessera {

namespace {

constexpr uint64_t kMaxAlignment = 1ull << 20;
constexpr uint64_t kMaxTensorName = 1024;
constexpr uint32_t kMaxDims = 4;
// In-memory size allowed for all metadata values together (strings and arrays expand
// up to 8x over their file bytes: a u8 array element becomes an int64_t). Real files
// need a few MB (SmolLM2: ~5 MB; 256k-token vocabularies ~20 MB).
constexpr uint64_t kMaxMetadataMemory = 1ull << 30;


// Sequential reader with a 1 MiB window over a ByteSource; every read is checked
// against the file size first.
class Cursor {
 public:
  explicit Cursor(const ByteSource& src) : src_(src) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return src_.size() - pos_; }
  const std::string& origin() const { return src_.origin(); }

  void bytes(void* dst, uint64_t n, const char* what) {
    if (n > left())
      throw Error(origin() + ": truncated: " + what + " needs " + std::to_string(n) + " bytes at offset " +
                  std::to_string(pos_) + ", " + std::to_string(left()) + " left");
    if (n == 0) return;
    if (src_.in_memory()) {
      std::memcpy(dst, src_.memory_data() + pos_, n);
    } else if (pos_ >= win_off_ && pos_ + n <= win_off_ + win_.size()) {
      std::memcpy(dst, win_.data() + (pos_ - win_off_), n);
    } else if (n > kWindow) {
      src_.read(pos_, n, dst);
    } else {
      win_off_ = pos_;
      win_.resize(size_t(std::min<uint64_t>(kWindow, left())));
      src_.read(win_off_, win_.size(), win_.data());
      std::memcpy(dst, win_.data(), n);
    }
    pos_ += n;
  }
  // Counts `n` bytes of metadata memory against kMaxMetadataMemory.
  void charge(uint64_t n, const std::string& what) {
    if (n > kMaxMetadataMemory - charged_)
      throw Error(origin() + ": " + what + ": metadata would need more than " +
                  std::to_string(kMaxMetadataMemory >> 20) + " MiB of memory");
    charged_ += n;
  }
  template <class T>
  T scalar(const char* what) {
    T v;
    bytes(&v, sizeof v, what);
    return v;
  }
  std::string string(const std::string& what) {
    const uint64_t n = scalar<uint64_t>("string length");
    if (n > left())
      throw Error(origin() + ": " + what + ": string length " + std::to_string(n) + " at offset " +
                  std::to_string(pos_ - 8) + " exceeds the " + std::to_string(left()) + " bytes left");
    charge(n, what);
    std::string s(size_t(n), '\0');
    bytes(s.data(), n, "string");
    return s;
  }

 private:
  static constexpr uint64_t kWindow = 1ull << 20;
  const ByteSource& src_;
  uint64_t pos_ = 0;
  uint64_t charged_ = 0;
  uint64_t win_off_ = 0;
  std::string win_;
};

bool valid_type(uint32_t t) { return t <= 12; }

// Bytes of a scalar value of type t (strings: minimum, their length prefix).
uint64_t min_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: case GgufType::STRING: return 8;
    case GgufType::ARRAY: return 12;
  }
  return 1;
}

bool is_int(GgufType t) { return t != GgufType::F32 && t != GgufType::F64 && t != GgufType::STRING && t != GgufType::ARRAY; }

// Reads one scalar integer/bool of type t into (i, u).
void read_int(Cursor& c, GgufType t, int64_t* i, uint64_t* u, const std::string& what) {
  switch (t) {
    case GgufType::U8: *u = c.scalar<uint8_t>("u8"); *i = int64_t(*u); return;
    case GgufType::I8: *i = c.scalar<int8_t>("i8"); *u = uint64_t(*i); return;
    case GgufType::U16: *u = c.scalar<uint16_t>("u16"); *i = int64_t(*u); return;
    case GgufType::I16: *i = c.scalar<int16_t>("i16"); *u = uint64_t(*i); return;
    case GgufType::U32: *u = c.scalar<uint32_t>("u32"); *i = int64_t(*u); return;
    case GgufType::I32: *i = c.scalar<int32_t>("i32"); *u = uint64_t(*i); return;
    case GgufType::U64: *u = c.scalar<uint64_t>("u64"); *i = int64_t(*u); return;
    case GgufType::I64: *i = c.scalar<int64_t>("i64"); *u = uint64_t(*i); return;
    case GgufType::BOOL: {
      const uint8_t b = c.scalar<uint8_t>("bool");
      if (b > 1) throw Error(c.origin() + ": " + what + ": bool value " + std::to_string(b) + " is not 0 or 1");
      *i = b;
      *u = b;
      return;
    }
    default: throw Error(c.origin() + ": " + what + ": not an integer type");
  }
}

double read_float(Cursor& c, GgufType t) {
  if (t == GgufType::F32) return double(c.scalar<float>("f32"));
  return c.scalar<double>("f64");
}

GgufValue read_value(Cursor& c, uint32_t raw_type, const std::string& what) {
  if (!valid_type(raw_type)) throw Error(c.origin() + ": " + what + ": unknown value type " + std::to_string(raw_type));
  GgufValue v;
  v.type = static_cast<GgufType>(raw_type);
  if (v.type == GgufType::STRING) {
    v.s = c.string(what);
  } else if (v.type == GgufType::F32 || v.type == GgufType::F64) {
    v.f = read_float(c, v.type);
  } else if (v.type != GgufType::ARRAY) {
    read_int(c, v.type, &v.i, &v.u, what);
    v.f = v.type == GgufType::U64 ? double(v.u) : double(v.i);
  } else {
    const uint32_t et = c.scalar<uint32_t>("array element type");
    if (et == uint32_t(GgufType::ARRAY)) throw Error(c.origin() + ": " + what + ": nested arrays are not supported");
    if (!valid_type(et)) throw Error(c.origin() + ": " + what + ": unknown array element type " + std::to_string(et));
    v.elem = static_cast<GgufType>(et);
    const uint64_t n = c.scalar<uint64_t>("array length");
    if (n > c.left() / min_size(v.elem))
      throw Error(c.origin() + ": " + what + ": array of " + std::to_string(n) + " " + gguf_type_name(v.elem) +
                  " elements exceeds the " + std::to_string(c.left()) + " bytes left");
    c.charge(n * (v.elem == GgufType::STRING ? sizeof(std::string) : 8), what);
    if (v.elem == GgufType::STRING) {
      v.strings.reserve(size_t(n));
      for (uint64_t k = 0; k < n; ++k) v.strings.push_back(c.string(what));
    } else if (v.elem == GgufType::F32 || v.elem == GgufType::F64) {
      v.floats.resize(size_t(n));
      for (uint64_t k = 0; k < n; ++k) v.floats[k] = read_float(c, v.elem);
    } else {
      v.ints.resize(size_t(n));
      uint64_t u;
      for (uint64_t k = 0; k < n; ++k) read_int(c, v.elem, &v.ints[k], &u, what);
    }
  }
  return v;
}

}  // namespace

const char* gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::U8: return "u8";
    case GgufType::I8: return "i8";
    case GgufType::U16: return "u16";
    case GgufType::I16: return "i16";
    case GgufType::U32: return "u32";
    case GgufType::I32: return "i32";
    case GgufType::F32: return "f32";
    case GgufType::BOOL: return "bool";
    case GgufType::STRING: return "string";
    case GgufType::ARRAY: return "array";
    case GgufType::U64: return "u64";
    case GgufType::I64: return "i64";
    case GgufType::F64: return "f64";
  }
  return "?";
}

uint64_t GgufValue::array_size() const {
  if (type != GgufType::ARRAY) return 0;
  if (elem == GgufType::STRING) return strings.size();
  if (elem == GgufType::F32 || elem == GgufType::F64) return floats.size();
  return ints.size();
}

uint64_t GgufTensorInfo::numel() const {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;  // validated at open
  return n;
}

std::vector<int64_t> GgufTensorInfo::shape() const {
  return std::vector<int64_t>(dims.rbegin(), dims.rend());
}

struct GgufFile::Impl {
  std::shared_ptr<ByteSource> src;
  uint32_t version = 0;
  uint64_t alignment = 32;
  uint64_t data_offset = 0;
  std::map<std::string, GgufValue> kv;
  std::vector<GgufTensorInfo> tensors;
  std::map<std::string, size_t> index;
};

namespace {

std::shared_ptr<const GgufFile::Impl> parse(std::shared_ptr<ByteSource> src) {
  auto impl = std::make_shared<GgufFile::Impl>();
  impl->src = src;
  const std::string& f = src->origin();
  Cursor c(*src);
  char magic[4];
  if (src->size() < 24) throw Error(f + ": not a GGUF file (" + std::to_string(src->size()) + " bytes)");
  c.bytes(magic, 4, "magic");
  if (std::memcmp(magic, "GGUF", 4) != 0) throw Error(f + ": not a GGUF file (bad magic)");
  impl->version = c.scalar<uint32_t>("version");
  if (impl->version != 2 && impl->version != 3)
    throw Error(f + ": GGUF version " + std::to_string(impl->version) + " is not supported (2 or 3)");
  const uint64_t n_tensors = c.scalar<uint64_t>("tensor count");
  const uint64_t n_kv = c.scalar<uint64_t>("metadata count");
  if (n_kv > c.left() / 13)
    throw Error(f + ": metadata count " + std::to_string(n_kv) + " cannot fit in the " + std::to_string(c.left()) +
                " bytes left");
  if (n_tensors > c.left() / 24)
    throw Error(f + ": tensor count " + std::to_string(n_tensors) + " cannot fit in the " +
                std::to_string(c.left()) + " bytes left");

  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = c.string("metadata key " + std::to_string(k));
    const uint32_t type = c.scalar<uint32_t>("value type");
    GgufValue v = read_value(c, type, "metadata \"" + key + "\"");
    if (impl->kv.count(key)) throw Error(f + ": duplicate metadata key \"" + key + "\"");
    impl->kv.emplace(std::move(key), std::move(v));
  }
  auto al = impl->kv.find("general.alignment");
  if (al != impl->kv.end()) {
    const GgufValue& v = al->second;
    if (v.type != GgufType::U32) throw Error(f + ": general.alignment must be a u32");
    if (v.u == 0 || (v.u & (v.u - 1)) != 0 || v.u > kMaxAlignment)
      throw Error(f + ": general.alignment " + std::to_string(v.u) + " is not a power of two ≤ " +
                  std::to_string(kMaxAlignment));
    impl->alignment = v.u;
  }

  impl->tensors.reserve(size_t(n_tensors));
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensorInfo t;
    t.name = c.string("tensor name " + std::to_string(k));
    const std::string w = f + ": tensor \"" + t.name + "\"";
    if (t.name.size() > kMaxTensorName) throw Error(w + ": name longer than " + std::to_string(kMaxTensorName));
    const uint32_t nd = c.scalar<uint32_t>("n_dims");
    if (nd < 1 || nd > kMaxDims) throw Error(w + ": n_dims " + std::to_string(nd) + " is not in 1..4");
    uint64_t numel = 1;
    for (uint32_t d = 0; d < nd; ++d) {
      const uint64_t dim = c.scalar<uint64_t>("dim");
      if (dim == 0 || dim > uint64_t(INT64_MAX) || __builtin_mul_overflow(numel, dim, &numel) ||
          numel > uint64_t(INT64_MAX))
        throw Error(w + ": dimension " + std::to_string(dim) + " is zero or overflows the element count");
      t.dims.push_back(dim);
    }
    t.type = c.scalar<uint32_t>("tensor type");
    const GgmlTypeTraits tr = ggml_type_traits(t.type);
    if (!tr.name) throw Error(w + ": unknown ggml type " + std::to_string(t.type));
    if (t.dims[0] % tr.block_size != 0)
      throw Error(w + ": first dimension " + std::to_string(t.dims[0]) + " is not a multiple of the " + tr.name +
                  " block size " + std::to_string(tr.block_size));
    if (__builtin_mul_overflow(numel / tr.block_size, tr.type_size, &t.nbytes))
      throw Error(w + ": byte size overflows");
    t.offset = c.scalar<uint64_t>("tensor offset");
    if (impl->index.count(t.name)) throw Error(f + ": duplicate tensor name \"" + t.name + "\"");
    impl->index.emplace(t.name, impl->tensors.size());
    impl->tensors.push_back(std::move(t));
  }
  // Data section: after the tensor infos, aligned.
  const uint64_t a = impl->alignment;
  const uint64_t end_infos = c.pos();
  uint64_t data = end_infos % a ? end_infos + (a - end_infos % a) : end_infos;
  if (!impl->tensors.empty() && data > src->size())
    throw Error(f + ": data section offset " + std::to_string(data) + " is past the end of the file (" +
                std::to_string(src->size()) + " bytes)");
  impl->data_offset = data;
  const uint64_t data_size = data <= src->size() ? src->size() - data : 0;
  std::vector<const GgufTensorInfo*> by_off;
  for (const GgufTensorInfo& t : impl->tensors) {
    const std::string w = f + ": tensor \"" + t.name + "\"";
    if (t.offset % a != 0)
      throw Error(w + ": offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                  std::to_string(a));
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      throw Error(w + ": data [" + std::to_string(t.offset) + ", +" + std::to_string(t.nbytes) +
                  ") lies past the end of the data section (" + std::to_string(data_size) + " bytes)");
    by_off.push_back(&t);
  }
  std::sort(by_off.begin(), by_off.end(), [](auto* x, auto* y) { return x->offset < y->offset; });
  for (size_t i = 1; i < by_off.size(); ++i)
    if (by_off[i]->offset < by_off[i - 1]->offset + by_off[i - 1]->nbytes)
      throw Error(f + ": tensors \"" + by_off[i - 1]->name + "\" and \"" + by_off[i]->name + "\" overlap");
  return impl;
}

}  // namespace

GgufFile GgufFile::open(const std::string& path) { return GgufFile(parse(ByteSource::file(path))); }
GgufFile GgufFile::from_memory(std::string bytes, const std::string& origin) {
  return GgufFile(parse(ByteSource::memory(std::move(bytes), origin)));
}

const std::string& GgufFile::path() const { return impl_->src->origin(); }
uint32_t GgufFile::version() const { return impl_->version; }
uint64_t GgufFile::alignment() const { return impl_->alignment; }
uint64_t GgufFile::data_offset() const { return impl_->data_offset; }
const std::map<std::string, GgufValue>& GgufFile::metadata() const { return impl_->kv; }
bool GgufFile::has(const std::string& key) const { return impl_->kv.count(key) != 0; }

const GgufValue& GgufFile::value(const std::string& key) const {
  auto it = impl_->kv.find(key);
  if (it == impl_->kv.end()) throw Error(path() + ": metadata key \"" + key + "\" is missing");
  return it->second;
}

std::string GgufFile::get_string(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufType::STRING)
    throw Error(path() + ": metadata \"" + key + "\" is a " + gguf_type_name(v.type) + ", not a string");
  return v.s;
}

int64_t GgufFile::get_int(const std::string& key) const {
  const GgufValue& v = value(key);
  if (!is_int(v.type))
    throw Error(path() + ": metadata \"" + key + "\" is a " + gguf_type_name(v.type) + ", not an integer");
  if (v.type == GgufType::U64 && v.u > uint64_t(INT64_MAX))
    throw Error(path() + ": metadata \"" + key + "\" = " + std::to_string(v.u) + " is out of range");
  return v.i;
}

double GgufFile::get_float(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type == GgufType::STRING || v.type == GgufType::ARRAY)
    throw Error(path() + ": metadata \"" + key + "\" is a " + gguf_type_name(v.type) + ", not a number");
  return v.f;
}

const std::vector<std::string>& GgufFile::get_string_array(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufType::ARRAY || v.elem != GgufType::STRING)
    throw Error(path() + ": metadata \"" + key + "\" is not an array of strings");
  return v.strings;
}

const std::vector<int64_t>& GgufFile::get_int_array(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufType::ARRAY || !is_int(v.elem))
    throw Error(path() + ": metadata \"" + key + "\" is not an array of integers");
  return v.ints;
}

int64_t GgufFile::arch_int(const std::string& suffix) const {
  return get_int(get_string("general.architecture") + "." + suffix);
}

const std::vector<GgufTensorInfo>& GgufFile::tensors() const { return impl_->tensors; }
bool GgufFile::contains(const std::string& name) const { return impl_->index.count(name) != 0; }

const GgufTensorInfo& GgufFile::tensor(const std::string& name) const {
  auto it = impl_->index.find(name);
  if (it == impl_->index.end()) throw Error(path() + ": no tensor \"" + name + "\"");
  return impl_->tensors[it->second];
}

std::vector<uint8_t> GgufFile::read_raw(const std::string& name) const {
  const GgufTensorInfo& t = tensor(name);
  std::vector<uint8_t> out(size_t(t.nbytes));
  impl_->src->read(impl_->data_offset + t.offset, t.nbytes, out.data());
  return out;
}

std::vector<float> GgufFile::read_f32(const std::string& name) const {
  const GgufTensorInfo& t = tensor(name);
  const std::string what = path() + ": tensor \"" + name + "\"";
  const GgmlTypeTraits tr = ggml_type_traits(t.type);
  if (!tr.dequantizable)
    throw Error(what + ": ggml type " + ggml_type_name(t.type) +
                " is not supported (supported: F32, F16, BF16, F64, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0)");
  const std::vector<uint8_t> raw = read_raw(name);
  std::vector<float> out(size_t(t.numel()));
  dequantize_ggml(t.type, raw.data(), raw.size(), out.data(), t.numel(), what);
  return out;
}

GgufTokenizer GgufFile::tokenizer() const {
  GgufTokenizer tk;
  tk.model = get_string("tokenizer.ggml.model");
  tk.tokens = get_string_array("tokenizer.ggml.tokens");
  const size_t n = tk.tokens.size();
  if (has("tokenizer.ggml.pre")) tk.pre = get_string("tokenizer.ggml.pre");
  if (has("tokenizer.ggml.merges")) tk.merges = get_string_array("tokenizer.ggml.merges");
  if (has("tokenizer.ggml.token_type")) {
    const auto& tt = get_int_array("tokenizer.ggml.token_type");
    if (tt.size() != n)
      throw Error(path() + ": tokenizer.ggml.token_type has " + std::to_string(tt.size()) + " entries for " +
                  std::to_string(n) + " tokens");
    tk.token_type.reserve(n);
    for (int64_t x : tt) {
      if (x < INT32_MIN || x > INT32_MAX) throw Error(path() + ": tokenizer.ggml.token_type value out of range");
      tk.token_type.push_back(int32_t(x));
    }
  }
  if (has("tokenizer.ggml.scores")) {
    const GgufValue& v = value("tokenizer.ggml.scores");
    if (v.type != GgufType::ARRAY || (v.elem != GgufType::F32 && v.elem != GgufType::F64) || v.floats.size() != n)
      throw Error(path() + ": tokenizer.ggml.scores must be a float array with one entry per token");
    tk.scores.assign(v.floats.begin(), v.floats.end());
  }
  auto id = [&](const char* key, int64_t* out) {
    if (!has(key)) return;
    const int64_t x = get_int(key);
    if (x < 0 || uint64_t(x) >= n)
      throw Error(path() + ": " + key + " = " + std::to_string(x) + " is not a token id (vocab " +
                  std::to_string(n) + ")");
    *out = x;
  };
  id("tokenizer.ggml.bos_token_id", &tk.bos_id);
  id("tokenizer.ggml.eos_token_id", &tk.eos_id);
  id("tokenizer.ggml.unknown_token_id", &tk.unk_id);
  id("tokenizer.ggml.padding_token_id", &tk.pad_id);
  if (has("tokenizer.ggml.add_bos_token")) tk.add_bos = get_int("tokenizer.ggml.add_bos_token") != 0;
  if (has("tokenizer.ggml.add_eos_token")) tk.add_eos = get_int("tokenizer.ggml.add_eos_token") != 0;
  if (has("tokenizer.chat_template")) tk.chat_template = get_string("tokenizer.chat_template");
  return tk;
}

}  // namespace tessera
