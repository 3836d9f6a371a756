// The tokenizer a command-line user names with --tokenizer, behind one face for
// generation and inference:
//   "byte"                       Tessera's byte-level tokenizer (byte-v1)
//   <file>.gguf                  the tokenizer embedded in a GGUF model (SmolLM2, …)
//   <file>.tiktoken              GPT-2 rank file (openai-whisper's gpt2.tiktoken)
//   <dir> with vocab.json + merges.txt   byte-level BPE (GPT-2, RoBERTa)
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace tessera {

class TextTokenizer {
 public:
  // Throws tessera::Error naming the spec when it is none of the above.
  static TextTokenizer open(const std::string& spec);

  std::vector<int32_t> encode(std::string_view text) const { return encode_(text); }
  std::string decode(const std::vector<int32_t>& ids) const { return decode_(ids); }
  int64_t vocab_size() const { return vocab_size_; }
  int32_t eos_id() const { return eos_id_; }  // -1 = none known
  const std::string& name() const { return name_; }

 private:
  std::function<std::vector<int32_t>(std::string_view)> encode_;
  std::function<std::string(const std::vector<int32_t>&)> decode_;
  int64_t vocab_size_ = 0;
  int32_t eos_id_ = -1;
  std::string name_;
};

}  // namespace tessera
