// GPT-2 vocab.json + merges.txt → tokenizer.ggml.* (see gguf_bpe_metadata.hpp).
#include "io/gguf_bpe_metadata.hpp"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "src/runtime/error.hpp"

namespace tessera {

namespace {

GgufValue string_value(const std::string& s) {
  GgufValue v;
  v.type = GgufType::STRING;
  v.s = s;
  return v;
}

GgufValue u32_value(uint64_t x) {
  GgufValue v;
  v.type = GgufType::U32;
  v.i = int64_t(x);
  return v;
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  require(bool(f), p.string() + ": cannot open (a GPT-2 tokenizer directory needs vocab.json and merges.txt)");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

std::vector<std::pair<std::string, GgufValue>> gguf_bpe_metadata(const std::string& dir) {
  const std::filesystem::path vocab_path = std::filesystem::path(dir) / "vocab.json";
  const std::filesystem::path merges_path = std::filesystem::path(dir) / "merges.txt";
  nlohmann::json vocab;
  try {
    vocab = nlohmann::json::parse(read_text(vocab_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(vocab_path.string() + ": not valid JSON (" + e.what() + ")");
  }
  require(vocab.is_object() && !vocab.empty(), vocab_path.string() + ": not a {token: id} object");
  GgufValue tokens;
  tokens.type = GgufType::ARRAY;
  tokens.elem = GgufType::STRING;
  tokens.strings.assign(vocab.size(), std::string());
  std::vector<bool> seen(vocab.size(), false);
  for (const auto& [tok, id] : vocab.items()) {
    require(id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() < int64_t(vocab.size()) &&
                !seen[size_t(id.get<int64_t>())],
            vocab_path.string() + ": token '" + tok + "' has id " + id.dump() + "; ids must be 0.." +
                std::to_string(vocab.size() - 1) + ", each once");
    seen[size_t(id.get<int64_t>())] = true;
    tokens.strings[size_t(id.get<int64_t>())] = tok;
  }
  GgufValue types;
  types.type = GgufType::ARRAY;
  types.elem = GgufType::I32;
  int64_t eot = -1;
  for (size_t i = 0; i < tokens.strings.size(); ++i) {
    const bool control = tokens.strings[i] == "<|endoftext|>";
    if (control) eot = int64_t(i);
    types.ints.push_back(control ? 3 : 1);
  }
  GgufValue merges;
  merges.type = GgufType::ARRAY;
  merges.elem = GgufType::STRING;
  std::istringstream in(read_text(merges_path));
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (n == 1 && line.rfind("#version", 0) == 0)) continue;
    const size_t sp = line.find(' ');
    require(sp != std::string::npos && sp > 0 && sp + 1 < line.size() && line.find(' ', sp + 1) == std::string::npos,
            merges_path.string() + ": line " + std::to_string(n) + " is not two symbols separated by one space");
    merges.strings.push_back(line);
  }
  require(!merges.strings.empty(), merges_path.string() + ": no merges");
  std::vector<std::pair<std::string, GgufValue>> out = {
      {"tokenizer.ggml.model", string_value("gpt2")},
      {"tokenizer.ggml.pre", string_value("gpt-2")},
      {"tokenizer.ggml.tokens", tokens},
      {"tokenizer.ggml.token_type", types},
      {"tokenizer.ggml.merges", merges},
  };
  if (eot >= 0) {
    out.emplace_back("tokenizer.ggml.bos_token_id", u32_value(uint64_t(eot)));
    out.emplace_back("tokenizer.ggml.eos_token_id", u32_value(uint64_t(eot)));
  }
  return out;
}

}  // namespace tessera
