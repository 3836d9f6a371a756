// safetensors reader/writer (see safetensors.hpp for the format and the checks).
#include "io/safetensors.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "io/dequantize.hpp"
#include "io/byte_source.hpp"
#include "src/runtime/error.hpp"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");

namespace tessera {

namespace {

constexpr int kMaxJsonDepth = 64;
constexpr size_t kMaxRank = 16;

// Bytes of a file (read with pread on demand) or of an in-memory image.

// Maximum nesting of JSON arrays/objects, scanning outside strings (no recursion).
int json_depth(const char* p, size_t n) {
  int depth = 0, max_depth = 0;
  bool in_str = false, esc = false;
  for (size_t i = 0; i < n; ++i) {
    const char c = p[i];
    if (in_str) {
      if (esc) esc = false;
      else if (c == '\\') esc = true;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') in_str = true;
    else if (c == '{' || c == '[') max_depth = std::max(max_depth, ++depth);
    else if (c == '}' || c == ']') --depth;
    if (max_depth > kMaxJsonDepth) return max_depth;
  }
  return max_depth;
}

}  // namespace

const char* st_dtype_name(StDtype d) {
  switch (d) {
    case StDtype::BOOL: return "BOOL";
    case StDtype::U8: return "U8";
    case StDtype::I8: return "I8";
    case StDtype::F8_E5M2: return "F8_E5M2";
    case StDtype::F8_E4M3: return "F8_E4M3";
    case StDtype::I16: return "I16";
    case StDtype::U16: return "U16";
    case StDtype::F16: return "F16";
    case StDtype::BF16: return "BF16";
    case StDtype::I32: return "I32";
    case StDtype::U32: return "U32";
    case StDtype::F32: return "F32";
    case StDtype::F64: return "F64";
    case StDtype::I64: return "I64";
    case StDtype::U64: return "U64";
  }
  return "?";
}

uint64_t st_dtype_size(StDtype d) {
  switch (d) {
    case StDtype::BOOL: case StDtype::U8: case StDtype::I8: case StDtype::F8_E5M2: case StDtype::F8_E4M3:
      return 1;
    case StDtype::I16: case StDtype::U16: case StDtype::F16: case StDtype::BF16:
      return 2;
    case StDtype::I32: case StDtype::U32: case StDtype::F32:
      return 4;
    case StDtype::F64: case StDtype::I64: case StDtype::U64:
      return 8;
  }
  return 0;
}

bool st_dtype_from_name(const std::string& name, StDtype* out) {
  static const StDtype all[] = {StDtype::BOOL, StDtype::U8,   StDtype::I8,  StDtype::F8_E5M2, StDtype::F8_E4M3,
                                StDtype::I16,  StDtype::U16,  StDtype::F16, StDtype::BF16,    StDtype::I32,
                                StDtype::U32,  StDtype::F32,  StDtype::F64, StDtype::I64,     StDtype::U64};
  for (StDtype d : all)
    if (name == st_dtype_name(d)) {
      *out = d;
      return true;
    }
  return false;
}

int64_t SafetensorsTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // validated not to overflow at open
  return n;
}

struct SafetensorsFile::Impl {
  std::shared_ptr<ByteSource> src;
  uint64_t header_len = 0;
  std::map<std::string, SafetensorsTensorInfo> tensors;
  std::map<std::string, std::string> metadata;
};

namespace {

std::shared_ptr<const SafetensorsFile::Impl> parse(std::shared_ptr<ByteSource> src) {
  using nlohmann::json;
  const std::string& f = src->origin();
  auto impl = std::make_shared<SafetensorsFile::Impl>();
  impl->src = src;
  const uint64_t fsize = src->size();
  if (fsize < 8) throw Error(f + ": not a safetensors file (" + std::to_string(fsize) + " bytes, need ≥ 8)");
  uint8_t lenb[8];
  src->read(0, 8, lenb);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | lenb[i];
  if (n > fsize - 8)
    throw Error(f + ": header length " + std::to_string(n) + " exceeds the file size " + std::to_string(fsize));
  if (n > kSafetensorsMaxHeader)
    throw Error(f + ": header length " + std::to_string(n) + " exceeds the limit of " +
                std::to_string(kSafetensorsMaxHeader) + " bytes");
  if (n < 2) throw Error(f + ": header of " + std::to_string(n) + " bytes is too short");
  impl->header_len = n;
  std::string header(size_t(n), '\0');
  src->read(8, n, header.data());
  if (json_depth(header.data(), header.size()) > kMaxJsonDepth)
    throw Error(f + ": header JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");

  // Parse, rejecting duplicate keys in any object.
  std::vector<std::set<std::string>> keys;
  std::string dup;
  json::parser_callback_t cb = [&](int, json::parse_event_t ev, json& parsed) {
    if (ev == json::parse_event_t::object_start) keys.emplace_back();
    else if (ev == json::parse_event_t::object_end) {
      if (!keys.empty()) keys.pop_back();
    } else if (ev == json::parse_event_t::key && !keys.empty() && dup.empty()) {
      const std::string& k = parsed.get_ref<const std::string&>();
      if (!keys.back().insert(k).second) dup = k;
    }
    return true;
  };
  json h;
  try {
    h = json::parse(header.begin(), header.end(), cb, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::exception& e) {
    throw Error(f + ": header is not valid JSON: " + e.what());
  }
  if (!dup.empty()) throw Error(f + ": header has a duplicate key \"" + dup + "\"");
  if (!h.is_object()) throw Error(f + ": header JSON is not an object");

  const uint64_t data_size = fsize - 8 - n;
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw Error(f + ": __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) throw Error(f + ": __metadata__[\"" + m.key() + "\"] is not a string");
        impl->metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string t = f + ": tensor \"" + name + "\"";
    if (!v.is_object()) throw Error(t + ": entry is not an object");
    auto dt = v.find("dtype");
    auto sh = v.find("shape");
    auto off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) throw Error(t + ": missing or non-string \"dtype\"");
    if (sh == v.end() || !sh->is_array()) throw Error(t + ": missing or non-array \"shape\"");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      throw Error(t + ": \"data_offsets\" must be [begin, end] of non-negative integers");
    SafetensorsTensorInfo info;
    info.name = name;
    const std::string& dts = dt->get_ref<const std::string&>();
    if (!st_dtype_from_name(dts, &info.dtype)) throw Error(t + ": unknown dtype \"" + dts + "\"");
    if (sh->size() > kMaxRank) throw Error(t + ": rank " + std::to_string(sh->size()) + " exceeds " +
                                           std::to_string(kMaxRank));
    uint64_t numel = 1;
    for (const json& d : *sh) {
      if (!d.is_number_unsigned()) throw Error(t + ": shape entries must be non-negative integers");
      const uint64_t dim = d.get<uint64_t>();
      if (dim > uint64_t(INT64_MAX) || __builtin_mul_overflow(numel, dim, &numel) || numel > uint64_t(INT64_MAX))
        throw Error(t + ": element count overflows");
      info.shape.push_back(int64_t(dim));
    }
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(numel, st_dtype_size(info.dtype), &bytes))
      throw Error(t + ": byte size overflows");
    info.begin = (*off)[0].get<uint64_t>();
    info.end = (*off)[1].get<uint64_t>();
    if (info.begin > info.end)
      throw Error(t + ": data_offsets begin " + std::to_string(info.begin) + " > end " + std::to_string(info.end));
    if (info.end > data_size)
      throw Error(t + ": data_offsets end " + std::to_string(info.end) + " is past the data section (" +
                  std::to_string(data_size) + " bytes)");
    if (info.end - info.begin != bytes)
      throw Error(t + ": data_offsets span " + std::to_string(info.end - info.begin) + " bytes but " + dts +
                  " shape needs " + std::to_string(bytes));
    impl->tensors.emplace(name, std::move(info));
  }
  // No two (non-empty) byte ranges may overlap.
  std::vector<const SafetensorsTensorInfo*> by_off;
  for (const auto& [k, ti] : impl->tensors)
    if (ti.end > ti.begin) by_off.push_back(&ti);
  std::sort(by_off.begin(), by_off.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_off.size(); ++i)
    if (by_off[i]->begin < by_off[i - 1]->end)
      throw Error(f + ": tensors \"" + by_off[i - 1]->name + "\" and \"" + by_off[i]->name +
                  "\" overlap in the data section");
  return impl;
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::string& path) { return SafetensorsFile(parse(ByteSource::file(path))); }

SafetensorsFile SafetensorsFile::from_memory(std::string bytes, const std::string& origin) {
  return SafetensorsFile(parse(ByteSource::memory(std::move(bytes), origin)));
}

const std::string& SafetensorsFile::path() const { return impl_->src->origin(); }

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(impl_->tensors.size());
  for (const auto& kv : impl_->tensors) out.push_back(kv.first);
  return out;
}

bool SafetensorsFile::contains(const std::string& name) const { return impl_->tensors.count(name) != 0; }

const SafetensorsTensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = impl_->tensors.find(name);
  if (it == impl_->tensors.end()) throw Error(path() + ": no tensor \"" + name + "\"");
  return it->second;
}

const std::map<std::string, std::string>& SafetensorsFile::metadata() const { return impl_->metadata; }
uint64_t SafetensorsFile::header_size() const { return impl_->header_len; }
uint64_t SafetensorsFile::data_offset() const { return 8 + impl_->header_len; }

std::vector<uint8_t> SafetensorsFile::read_raw(const std::string& name) const {
  const SafetensorsTensorInfo& ti = info(name);
  std::vector<uint8_t> out(size_t(ti.end - ti.begin));
  impl_->src->read(data_offset() + ti.begin, ti.end - ti.begin, out.data());
  return out;
}

std::vector<float> SafetensorsFile::read_f32(const std::string& name) const {
  const SafetensorsTensorInfo& ti = info(name);
  const size_t n = size_t(ti.numel());
  const uint64_t off = data_offset() + ti.begin;
  std::vector<float> out(n);
  if (ti.dtype == StDtype::F32) {
    impl_->src->read(off, uint64_t(n) * 4, out.data());
    return out;
  }
  if (ti.dtype == StDtype::F8_E4M3 || ti.dtype == StDtype::F8_E5M2)
    throw Error(path() + ": tensor \"" + name + "\": dtype " + st_dtype_name(ti.dtype) +
                " cannot be read as float32");
  const std::vector<uint8_t> raw = read_raw(name);
  const uint8_t* p = raw.data();
  auto ld = [p](size_t i, auto tag) {
    decltype(tag) v;
    std::memcpy(&v, p + i * sizeof v, sizeof v);
    return v;
  };
  for (size_t i = 0; i < n; ++i) {
    switch (ti.dtype) {
      case StDtype::F16: out[i] = fp16_to_fp32(ld(i, uint16_t{})); break;
      case StDtype::BF16: out[i] = bf16_to_fp32(ld(i, uint16_t{})); break;
      case StDtype::F64: out[i] = float(ld(i, double{})); break;
      case StDtype::I64: out[i] = float(ld(i, int64_t{})); break;
      case StDtype::U64: out[i] = float(ld(i, uint64_t{})); break;
      case StDtype::I32: out[i] = float(ld(i, int32_t{})); break;
      case StDtype::U32: out[i] = float(ld(i, uint32_t{})); break;
      case StDtype::I16: out[i] = float(ld(i, int16_t{})); break;
      case StDtype::U16: out[i] = float(ld(i, uint16_t{})); break;
      case StDtype::I8: out[i] = float(ld(i, int8_t{})); break;
      case StDtype::U8: out[i] = float(p[i]); break;
      case StDtype::BOOL: out[i] = p[i] ? 1.0f : 0.0f; break;
      default: break;
    }
  }
  return out;
}

std::string serialize_safetensors(const std::map<std::string, SafetensorsTensor>& tensors,
                                  const std::map<std::string, std::string>& metadata) {
  using nlohmann::json;
  std::vector<const std::pair<const std::string, SafetensorsTensor>*> order;
  for (const auto& kv : tensors) {
    const SafetensorsTensor& t = kv.second;
    if (t.dtype != StDtype::F32 && t.dtype != StDtype::F16 && t.dtype != StDtype::BF16)
      throw Error("write_safetensors: tensor \"" + kv.first + "\": dtype " + st_dtype_name(t.dtype) +
                  " not writable (F32, F16, BF16)");
    if (kv.first == "__metadata__") throw Error("write_safetensors: \"__metadata__\" is not a tensor name");
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0 || __builtin_mul_overflow(numel, uint64_t(d), &numel))
        throw Error("write_safetensors: tensor \"" + kv.first + "\": bad shape");
    }
    if (numel != t.data.size())
      throw Error("write_safetensors: tensor \"" + kv.first + "\": " + std::to_string(t.data.size()) +
                  " values for a shape of " + std::to_string(numel) + " elements");
    order.push_back(&kv);
  }
  // HF order: dtype descending in its enum (F32 > BF16 > F16), then name (map order).
  auto rank = [](StDtype d) { return d == StDtype::F32 ? 2 : d == StDtype::BF16 ? 1 : 0; };
  std::stable_sort(order.begin(), order.end(),
                   [&](auto* a, auto* b) { return rank(a->second.dtype) > rank(b->second.dtype); });
  // Byte-identical to HF safetensors' serializer: {"__metadata__":{..},"<name>":{"dtype":..,
  // "shape":[..],"data_offsets":[b,e]},...} with tensors in layout order, no spaces.
  std::string header = "{";
  if (!metadata.empty()) header += "\"__metadata__\":" + json(metadata).dump();
  uint64_t off = 0;
  for (auto* kv : order) {
    const uint64_t bytes = kv->second.data.size() * st_dtype_size(kv->second.dtype);
    if (header.size() > 1) header += ",";
    header += json(kv->first).dump() + ":{\"dtype\":\"" + st_dtype_name(kv->second.dtype) +
              "\",\"shape\":" + json(kv->second.shape).dump() + ",\"data_offsets\":[" + std::to_string(off) +
              "," + std::to_string(off + bytes) + "]}";
    off += bytes;
  }
  header += "}";
  while ((8 + header.size()) % 8 != 0) header.push_back(' ');
  std::string out;
  out.reserve(8 + header.size() + off);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(char((n >> (8 * i)) & 0xff));
  out += header;
  for (auto* kv : order) {
    const SafetensorsTensor& t = kv->second;
    for (float v : t.data) {
      if (t.dtype == StDtype::F32) {
        char b[4];
        std::memcpy(b, &v, 4);
        out.append(b, 4);
      } else {
        const uint16_t u = t.dtype == StDtype::F16 ? fp32_to_fp16(v) : fp32_to_bf16(v);
        out.push_back(char(u & 0xff));
        out.push_back(char(u >> 8));
      }
    }
  }
  return out;
}

void write_safetensors(const std::string& path, const std::map<std::string, SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string bytes = serialize_safetensors(tensors, metadata);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
    if (!o) throw Error(path + ": cannot open " + tmp + " for writing");
    o.write(bytes.data(), std::streamsize(bytes.size()));
    o.flush();
    if (!o) throw Error(path + ": write to " + tmp + " failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw Error(path + ": cannot rename " + tmp + ": " + ec.message());
}

}  // namespace tessera
