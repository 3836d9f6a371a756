// libFuzzer target: GGUF parser (header, metadata, tensor infos), dequantisation and
// tokenizer metadata. Any input must either be rejected with tessera::Error or give
// tensors whose supported types all dequantise without error.
#include <cstdint>
#include <string>

#include "io/dequantize.hpp"
#include "io/gguf.hpp"
#include "src/runtime/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessera;
  try {
    GgufFile f = GgufFile::from_memory(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    volatile float sink = 0;
    for (const GgufTensorInfo& t : f.tensors()) {
      if (ggml_type_traits(t.type).dequantizable) {
        const std::vector<float> v = f.read_f32(t.name);  // validated: must not throw
        if (v.size() != t.numel()) __builtin_trap();
        if (!v.empty()) sink = sink + v[0] + v[v.size() - 1];
      } else {
        try {
          f.read_f32(t.name);
          __builtin_trap();  // must throw
        } catch (const Error&) {
        }
      }
    }
    for (const auto& kv : f.metadata()) (void)kv.second.array_size();
    try {
      (void)f.arch_int("block_count");
    } catch (const Error&) {
    }
    try {
      GgufTokenizer tk = f.tokenizer();
      (void)tk;
    } catch (const Error&) {
    }
  } catch (const Error&) {
  }
  return 0;
}
