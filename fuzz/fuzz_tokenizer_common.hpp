// Helpers for the tokenizer fuzz targets: the tokenizers load from files, so each
// input is written to a per-process temporary directory first.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

namespace tessera_fuzz {

inline const std::string& tmp_dir() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/tessera_fuzz_XXXXXX";
    const char* d = mkdtemp(tmpl);
    if (!d) abort();
    return std::string(d);
  }();
  return dir;
}

inline std::string put(const std::string& name, const char* data, size_t size) {
  const std::string p = tmp_dir() + "/" + name;
  std::ofstream o(p, std::ios::binary | std::ios::trunc);
  o.write(data, std::streamsize(size));
  return p;
}

// Text the loaded tokenizers encode: ASCII, contractions, digits, multi-byte UTF-8 and
// an invalid byte.
inline const std::string& probe_text() {
  static const std::string t = "Hello world! It's 2024 - caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 <|endoftext|> \xff end";
  return t;
}

}  // namespace tessera_fuzz
