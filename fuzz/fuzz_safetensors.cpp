// libFuzzer target: safetensors header parser + tensor conversion + writer round trip.
// Any input must either be rejected with tessera::Error or parse into tensors that can
// all be read (F8 excepted) and, rewritten as F32, read back bit-identically.
#include <cstdint>
#include <cstring>
#include <string>

#include "io/safetensors.hpp"
#include "src/runtime/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessera;
  SafetensorsFile f = [&] {
    try {
      return SafetensorsFile::from_memory(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    } catch (const Error&) {
      return SafetensorsFile::from_memory(std::string("\x02\0\0\0\0\0\0\0{}", 10), "empty");
    }
  }();
  std::map<std::string, SafetensorsTensor> out;
  for (const std::string& name : f.names()) {
    const SafetensorsTensorInfo& ti = f.info(name);
    if (ti.dtype == StDtype::F8_E4M3 || ti.dtype == StDtype::F8_E5M2) {
      try {
        f.read_f32(name);
        __builtin_trap();  // must throw
      } catch (const Error&) {
      }
      continue;
    }
    SafetensorsTensor t;
    t.shape = ti.shape;
    t.data = f.read_f32(name);  // validated: must not throw
    if (int64_t(t.data.size()) != ti.numel()) __builtin_trap();
    out.emplace(name, std::move(t));
  }
  SafetensorsFile g = SafetensorsFile::from_memory(serialize_safetensors(out, f.metadata()), "roundtrip");
  if (g.names().size() != out.size() || g.metadata() != f.metadata()) __builtin_trap();
  for (const auto& [name, t] : out) {
    const std::vector<float> back = g.read_f32(name);
    if (back.size() != t.data.size() ||
        (!back.empty() && std::memcmp(back.data(), t.data.data(), back.size() * 4) != 0))
      __builtin_trap();
  }
  return 0;
}
