#include "src/tokenizer/gguf_tokenizer.hpp"

#include <vector>

#include "src/runtime/error.hpp"
#include "src/tokenizer/unicode_util.hpp"

namespace tessera {

bool gguf_pre_splits_digits(const std::string& pre, const std::string& origin) {
  for (const char* p : {"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b"})
    if (pre == p) return true;
  for (const char* p : {"", "gpt-2", "gpt2", "mpt", "olmo", "jais"})
    if (pre == p) return false;
  throw Error(origin + ": tokenizer.ggml.pre = '" + pre +
              "' is not supported (byte-level BPE pre-tokenizers: GPT-2 regex, or individual digits + GPT-2 "
              "regex for smollm/starcoder/refact/command-r/codeshell/exaone/minerva-7b)");
}

BpeTokenizer bpe_tokenizer_from_gguf(const GgufFile& file, GgufPreTokenizer pre) {
  const std::string& origin = file.path();
  if (!file.has("tokenizer.ggml.model") || !file.has("tokenizer.ggml.tokens"))
    throw Error(origin + ": no tokenizer metadata (tokenizer.ggml.model / tokenizer.ggml.tokens missing); "
                         "this GGUF holds weights only, give the tokenizer separately");
  const GgufTokenizer tk = file.tokenizer();
  if (tk.model != "gpt2")
    throw Error(origin + ": tokenizer.ggml.model = '" + tk.model +
                "' is not supported; only byte-level BPE ('gpt2') GGUF tokenizers are");
  require(!tk.merges.empty(), origin + ": tokenizer.ggml.merges is missing or empty (byte-level BPE needs it)");
  bool digits = pre == GgufPreTokenizer::Gpt2IndividualDigits;
  if (pre == GgufPreTokenizer::Auto) digits = gguf_pre_splits_digits(tk.pre, origin);

  // Added tokens as HF's GGUF loader picks them: control (3) and user-defined (4) tokens
  // spelled only in the byte alphabet (others are llama.cpp mislabels there).
  const auto& b2u = gpt2_bytes_to_unicode();
  std::vector<bool> in_alphabet(512, false);
  for (int b = 0; b < 256; ++b) in_alphabet[b2u[b]] = true;
  auto spelled = [&](const std::string& t) {
    for (size_t p = 0; p < t.size();) {
      int32_t cp;
      p += uni::decode_utf8(t, p, cp);
      if (cp < 0 || cp >= 512 || !in_alphabet[cp]) return false;
    }
    return true;
  };
  std::vector<int32_t> specials;
  for (size_t id = 0; id < tk.token_type.size(); ++id)
    if ((tk.token_type[id] == 3 || tk.token_type[id] == 4) && spelled(tk.tokens[id]))
      specials.push_back(static_cast<int32_t>(id));

  const std::string name = "gguf-bpe(" + (tk.pre.empty() ? std::string("gpt2") : tk.pre) +
                           (digits ? ", individual digits)" : ", gpt2 regex)");
  return BpeTokenizer::from_tokens_merges(tk.tokens, tk.merges, specials, digits, origin, name);
}

BpeTokenizer bpe_tokenizer_from_gguf(const std::string& path, GgufPreTokenizer pre) {
  return bpe_tokenizer_from_gguf(GgufFile::open(path), pre);
}

}  // namespace tessera
