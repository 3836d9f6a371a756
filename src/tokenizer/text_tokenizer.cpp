#include "src/tokenizer/text_tokenizer.hpp"

#include <filesystem>
#include <memory>
#include "io/gguf.hpp"
#include "src/runtime/error.hpp"
#include "src/tokenizer/bpe_tokenizer.hpp"
#include "src/tokenizer/byte_tokenizer.hpp"
#include "src/tokenizer/gguf_tokenizer.hpp"

namespace tessera {

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

TextTokenizer TextTokenizer::open(const std::string& spec) {
  namespace fs = std::filesystem;
  TextTokenizer t;
  auto from_bpe = [&](BpeTokenizer bpe) {
    auto p = std::make_shared<BpeTokenizer>(std::move(bpe));
    t.encode_ = [p](std::string_view s) { return p->encode(s); };
    t.decode_ = [p](const std::vector<int32_t>& ids) { return p->decode(ids); };
    t.vocab_size_ = p->vocab_size();
    t.name_ = p->name();
    t.eos_id_ = p->token_to_id(BpeTokenizer::kEndOfText);
  };
  if (spec.empty() || spec == "byte") {
    auto p = std::make_shared<ByteTokenizer>();
    t.encode_ = [p](std::string_view s) { return p->encode(s); };
    t.decode_ = [p](const std::vector<int32_t>& ids) { return p->decode(ids); };
    t.vocab_size_ = p->vocab_size();
    t.name_ = p->name();
    return t;
  }
  std::error_code ec;
  if (fs::is_directory(spec, ec)) {
    const fs::path d(spec);
    require(fs::exists(d / "vocab.json") && fs::exists(d / "merges.txt"),
            "--tokenizer " + spec + ": a directory must hold vocab.json and merges.txt");
    from_bpe(BpeTokenizer::from_vocab_merges((d / "vocab.json").string(), (d / "merges.txt").string()));
    return t;
  }
  require(fs::exists(spec, ec), "--tokenizer " + spec + ": no such file or directory");
  if (ends_with(spec, ".gguf")) {
    const GgufFile g = GgufFile::open(spec);
    from_bpe(bpe_tokenizer_from_gguf(g));
    if (g.has("tokenizer.ggml.eos_token_id")) t.eos_id_ = int32_t(g.get_int("tokenizer.ggml.eos_token_id"));
    return t;
  }
  if (ends_with(spec, ".tiktoken")) {
    from_bpe(BpeTokenizer::from_tiktoken(spec));
    return t;
  }
  throw Error("--tokenizer " + spec + ": not a tokenizer (byte, a .gguf, a .tiktoken, or a directory with "
              "vocab.json + merges.txt)");
}

}  // namespace tessera
