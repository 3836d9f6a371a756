// libFuzzer target: the tokenizer embedded in a GGUF file (tokenizer.ggml.* metadata →
// byte-level BPE, src/tokenizer/gguf_tokenizer.cpp). Any input must either be rejected
// with tessera::Error or give a tokenizer that encodes a fixed text with offsets inside
// the text and decodes its ids without error. Seeds: scripts/tools/make_fuzz_gguf_tokenizer_seeds.py.
#include <cstdint>
#include <string>

#include "io/gguf.hpp"
#include "src/runtime/error.hpp"
#include "src/tokenizer/gguf_tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessera;
  static const std::string text = "abc ab 12 \xc3\xa9t\xc3\xa9 <|endoftext|> a\n\tb";
  try {
    const GgufFile f = GgufFile::from_memory(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    const BpeTokenizer tok = bpe_tokenizer_from_gguf(f);
    const Encoding e = tok.encode_with_offsets(text);
    for (size_t i = 0; i < e.ids.size(); ++i) {
      if (e.ids[i] < 0 || e.ids[i] >= tok.vocab_size()) __builtin_trap();
      if (e.offsets[i].second > text.size() || e.offsets[i].first > e.offsets[i].second) __builtin_trap();
    }
    (void)tok.decode(e.ids);
  } catch (const Error&) {
  }
  return 0;
}
