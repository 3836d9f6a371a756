// GGUF v3 writer (see gguf_writer.hpp).
#include "io/gguf_writer.hpp"

#include <cstdio>
#include <filesystem>
#include <set>

#include "io/dequantize.hpp"
#include "src/runtime/error.hpp"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "GGUF I/O assumes a little-endian host");

namespace tessera {

namespace {

struct Buf {
  std::string b;
  template <class T>
  void put(T v) {
    b.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void str(const std::string& s) {
    put<uint64_t>(s.size());
    b += s;
  }
};

void put_scalar(Buf& o, GgufType t, int64_t i, uint64_t u, double f, const std::string& s, const std::string& what) {
  switch (t) {
    case GgufType::U8: o.put<uint8_t>(uint8_t(i)); break;
    case GgufType::I8: o.put<int8_t>(int8_t(i)); break;
    case GgufType::U16: o.put<uint16_t>(uint16_t(i)); break;
    case GgufType::I16: o.put<int16_t>(int16_t(i)); break;
    case GgufType::U32: o.put<uint32_t>(uint32_t(i)); break;
    case GgufType::I32: o.put<int32_t>(int32_t(i)); break;
    case GgufType::F32: o.put<float>(float(f)); break;
    case GgufType::BOOL: o.put<uint8_t>(i ? 1 : 0); break;
    case GgufType::STRING: o.str(s); break;
    case GgufType::U64: o.put<uint64_t>(i < 0 ? u : uint64_t(i)); break;
    case GgufType::I64: o.put<int64_t>(i); break;
    case GgufType::F64: o.put<double>(f); break;
    default: throw Error(what + ": value type " + gguf_type_name(t) + " cannot be written as a scalar");
  }
}

bool is_float(GgufType t) { return t == GgufType::F32 || t == GgufType::F64; }

}  // namespace

void GgufWriter::set(const std::string& key, const GgufValue& v) {
  require(!has(key), "GGUF writer: metadata key '" + key + "' set twice");
  kv_.emplace_back(key, v);
}

bool GgufWriter::has(const std::string& key) const {
  for (const auto& [k, v] : kv_)
    if (k == key) return true;
  return false;
}

void GgufWriter::set_string(const std::string& key, const std::string& s) {
  GgufValue v;
  v.type = GgufType::STRING;
  v.s = s;
  set(key, v);
}

void GgufWriter::set_u32(const std::string& key, uint32_t x) {
  GgufValue v;
  v.type = GgufType::U32;
  v.i = x;
  set(key, v);
}

void GgufWriter::set_f32(const std::string& key, float x) {
  GgufValue v;
  v.type = GgufType::F32;
  v.f = x;
  set(key, v);
}

void GgufWriter::add_tensor(const std::string& name, const std::vector<uint64_t>& dims, uint32_t type, uint64_t nbytes,
                            std::function<std::vector<uint8_t>()> bytes) {
  for (const Tensor& t : tensors_) require(t.name != name, "GGUF writer: tensor '" + name + "' added twice");
  const GgmlTypeTraits tr = ggml_type_traits(type);
  require(tr.name != nullptr, "GGUF writer: tensor '" + name + "': unknown ggml type " + std::to_string(type));
  require(!dims.empty() && dims.size() <= 4, "GGUF writer: tensor '" + name + "': 1 to 4 dimensions");
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  require(dims[0] % tr.block_size == 0 && n / tr.block_size * tr.type_size == nbytes,
          "GGUF writer: tensor '" + name + "': " + std::to_string(nbytes) + " bytes do not hold " + std::to_string(n) +
              " " + tr.name + " elements");
  tensors_.push_back({name, dims, type, nbytes, std::move(bytes)});
}

uint64_t GgufWriter::write(const std::string& path) const {
  Buf h;
  h.b = "GGUF";
  h.put<uint32_t>(3);
  h.put<uint64_t>(tensors_.size());
  h.put<uint64_t>(kv_.size());
  for (const auto& [key, v] : kv_) {
    const std::string what = path + ": metadata " + key;
    h.str(key);
    h.put<uint32_t>(uint32_t(v.type));
    if (v.type != GgufType::ARRAY) {
      put_scalar(h, v.type, v.i, v.u, v.f, v.s, what);
      continue;
    }
    require(v.elem != GgufType::ARRAY, what + ": nested arrays are not supported");
    h.put<uint32_t>(uint32_t(v.elem));
    if (v.elem == GgufType::STRING) {
      h.put<uint64_t>(v.strings.size());
      for (const std::string& s : v.strings) h.str(s);
    } else if (is_float(v.elem)) {
      h.put<uint64_t>(v.floats.size());
      for (double f : v.floats) put_scalar(h, v.elem, 0, 0, f, "", what);
    } else {
      h.put<uint64_t>(v.ints.size());
      for (int64_t i : v.ints) put_scalar(h, v.elem, i, uint64_t(i), 0, "", what);
    }
  }
  uint64_t off = 0;
  std::vector<uint64_t> offsets;
  for (const Tensor& t : tensors_) {
    h.str(t.name);
    h.put<uint32_t>(uint32_t(t.dims.size()));
    for (uint64_t d : t.dims) h.put<uint64_t>(d);
    h.put<uint32_t>(t.type);
    h.put<uint64_t>(off);
    offsets.push_back(off);
    off += (t.nbytes + kAlignment - 1) / kAlignment * kAlignment;
  }
  while (h.b.size() % kAlignment) h.b.push_back('\0');

  const std::string tmp = path + ".tmp";
  std::FILE* fp = std::fopen(tmp.c_str(), "wb");
  require(fp != nullptr, tmp + ": cannot open for writing");
  auto fail = [&](const std::string& msg) {
    std::fclose(fp);
    std::remove(tmp.c_str());
    throw Error(msg);
  };
  if (std::fwrite(h.b.data(), 1, h.b.size(), fp) != h.b.size()) fail(tmp + ": write failed (header)");
  uint64_t total = h.b.size();
  static const char zeros[kAlignment] = {};
  for (const Tensor& t : tensors_) {
    std::vector<uint8_t> bytes;
    try {
      bytes = t.bytes();
    } catch (const std::exception& e) {
      fail(e.what());
    }
    if (bytes.size() != t.nbytes)
      fail(path + ": tensor '" + t.name + "' produced " + std::to_string(bytes.size()) + " bytes, expected " +
           std::to_string(t.nbytes));
    const uint64_t pad = (kAlignment - t.nbytes % kAlignment) % kAlignment;
    if (std::fwrite(bytes.data(), 1, bytes.size(), fp) != bytes.size() || std::fwrite(zeros, 1, pad, fp) != pad)
      fail(tmp + ": write failed (tensor '" + t.name + "')");
    total += t.nbytes + pad;
  }
  if (std::fflush(fp) != 0) fail(tmp + ": write failed (flush)");
  std::fclose(fp);
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  require(!ec, tmp + ": cannot rename to " + path + ": " + ec.message());
  return total;
}

}  // namespace tessera
