// libFuzzer target: Hugging Face config.json → TransformerConfig (io/hf_config.cpp).
// Any input must either be rejected with tessera::Error or give a config whose exported
// config.json parses back to the same config (same exported text).
#include <cstdint>
#include <string>

#include "io/hf_config.hpp"
#include "src/runtime/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessera;
  TransformerConfig c;
  try {
    c = parse_hf_config(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const Error&) {
    return 0;
  }
  const std::string a = hf_config_json(c);
  const TransformerConfig b = parse_hf_config(a, "exported");  // must not throw
  if (hf_config_json(b) != a || hf_architecture(b) != hf_architecture(c) || b.family != c.family ||
      b.head != c.head || b.num_labels != c.num_labels || b.pooler != c.pooler)
    __builtin_trap();
  return 0;
}
