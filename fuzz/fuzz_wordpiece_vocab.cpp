// libFuzzer target: BERT vocab.txt loading, then encode/decode of a probe text.
#include "fuzz/fuzz_tokenizer_common.hpp"
#include "src/runtime/error.hpp"
#include "src/tokenizer/wordpiece_tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tessera_fuzz::put("vocab.txt", reinterpret_cast<const char*>(data), size);
  try {
    auto tok = tessera::WordPieceTokenizer::from_vocab_txt(path);
    try {
      auto ids = tok.encode(tessera_fuzz::probe_text(), true);
      (void)tok.decode(ids);
    } catch (const tessera::Error&) {
    }
  } catch (const tessera::Error&) {
  }
  return 0;
}
