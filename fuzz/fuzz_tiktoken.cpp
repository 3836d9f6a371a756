// libFuzzer target: tiktoken rank file loading ("base64 rank" per line), then
// encode/decode of a probe text.
#include "fuzz/fuzz_tokenizer_common.hpp"
#include "src/runtime/error.hpp"
#include "src/tokenizer/bpe_tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tessera_fuzz::put("ranks.tiktoken", reinterpret_cast<const char*>(data), size);
  try {
    auto tok = tessera::BpeTokenizer::from_tiktoken(path, {});
    try {
      auto ids = tok.encode(tessera_fuzz::probe_text());
      (void)tok.decode(ids);
    } catch (const tessera::Error&) {
    }
  } catch (const tessera::Error&) {
  }
  return 0;
}
