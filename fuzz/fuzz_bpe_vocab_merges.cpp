// libFuzzer target: BPE vocab.json + merges.txt loading (input split at the first NUL
// byte: vocab.json before, merges.txt after), then encode/decode of a probe text.
#include <cstring>

#include "fuzz/fuzz_tokenizer_common.hpp"
#include "src/runtime/error.hpp"
#include "src/tokenizer/bpe_tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* p = reinterpret_cast<const char*>(data);
  const void* nul = std::memchr(p, 0, size);
  const size_t cut = nul ? size_t(static_cast<const char*>(nul) - p) : size;
  const std::string vocab = tessera_fuzz::put("vocab.json", p, cut);
  const std::string merges = tessera_fuzz::put("merges.txt", p + std::min(size, cut + 1), size - std::min(size, cut + 1));
  try {
    auto tok = tessera::BpeTokenizer::from_vocab_merges(vocab, merges);
    try {
      auto ids = tok.encode(tessera_fuzz::probe_text());
      (void)tok.decode(ids);
    } catch (const tessera::Error&) {
    }
  } catch (const tessera::Error&) {
  }
  return 0;
}
