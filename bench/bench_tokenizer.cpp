// bench_tokenizer: single-thread encode throughput of Tessera's C++ tokenizers over the
// parity corpus (tests/fixtures/tokenizer/corpus.txt) repeated to >= --mb MB, one
// encode call per line (like HF `encode`, no batching). A warm-up pass fills the BPE
// cache first (HF's BPE keeps the same kind of cache).
//   bench_tokenizer [--assets DIR] [--corpus FILE] [--mb 5] [--reps 3]
// Prints one JSON object per line: {"bench":"tokenizer","config":...,"mb_per_s":...,
// "tokens_per_s":...,"mb":...,"tokens":...}. Compare with
// scripts/tools/bench_hf_tokenizers.py (same corpus, same JSON).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "src/runtime/error.hpp"
#include "src/tokenizer/bpe_tokenizer.hpp"
#include "src/tokenizer/gguf_tokenizer.hpp"
#include "src/tokenizer/wordpiece_tokenizer.hpp"

using namespace tessera;
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

int main(int argc, char** argv) {
  fs::path repo = fs::path(__FILE__).parent_path().parent_path();
  const char* env = std::getenv("TESSERA_ASSETS");
  fs::path assets = env && *env ? fs::path(env) : repo / ".cache" / "assets";
  fs::path corpus_path = repo / "tests" / "fixtures" / "tokenizer" / "corpus.txt";
  double min_mb = 5.0;
  int reps = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) { std::fprintf(stderr, "missing value for %s\n", a.c_str()); std::exit(2); }
      return argv[++i];
    };
    if (a == "--assets") assets = next();
    else if (a == "--corpus") corpus_path = next();
    else if (a == "--mb") min_mb = std::stod(next());
    else if (a == "--reps") reps = std::stoi(next());
    else { std::fprintf(stderr, "usage: bench_tokenizer [--assets DIR] [--corpus FILE] [--mb 5] [--reps 3]\n"); return 2; }
  }
  try {
    std::ifstream f(corpus_path, std::ios::binary);
    if (!f) throw Error("cannot open corpus '" + corpus_path.string() + "'");
    std::vector<std::string> base;
    for (std::string l; std::getline(f, l);) base.push_back(l);
    std::vector<std::string> lines;
    size_t bytes = 0;
    while (bytes < min_mb * 1e6)
      for (auto& l : base) { lines.push_back(l); bytes += l.size() + 1; }  // +1: the newline, as in HF's bench
    double mb = bytes / 1e6;

    auto gpt2 = BpeTokenizer::from_vocab_merges((assets / "gpt2/vocab.json").string(), (assets / "gpt2/merges.txt").string());
    auto tt = BpeTokenizer::from_tiktoken((assets / "gpt2/gpt2.tiktoken").string());
    auto bert = WordPieceTokenizer::from_vocab_txt((assets / "minilm/vocab.txt").string());
    std::string gguf;
    for (const auto& e : std::filesystem::directory_iterator(assets / "smollm2"))
      if (e.path().extension() == ".gguf") gguf = e.path().string();
    auto smol = bpe_tokenizer_from_gguf(gguf);

    struct Case { const char* config; std::function<size_t(const std::string&)> run; };
    std::vector<Case> cases = {
        {"gpt2-bpe(vocab.json+merges.txt) ids", [&](const std::string& s) { return gpt2.encode(s).size(); }},
        {"gpt2-bpe(vocab.json+merges.txt) ids+offsets", [&](const std::string& s) { return gpt2.encode_with_offsets(s).ids.size(); }},
        {"gpt2-bpe(gpt2.tiktoken) ids", [&](const std::string& s) { return tt.encode(s).size(); }},
        {"bert-uncased-wordpiece ids+offsets", [&](const std::string& s) { return bert.encode_with_offsets(s).ids.size(); }},
        {"smollm2-bpe(gguf) ids+offsets", [&](const std::string& s) { return smol.encode_with_offsets(s).ids.size(); }},
    };
    for (auto& c : cases) {
      for (auto& l : base) c.run(l);  // warm-up (fills the BPE cache)
      double best = 1e30;
      size_t tokens = 0;
      for (int r = 0; r < reps; ++r) {
        tokens = 0;
        auto t0 = clock_type::now();
        for (auto& l : lines) tokens += c.run(l);
        best = std::min(best, std::chrono::duration<double>(clock_type::now() - t0).count());
      }
      nlohmann::json j = {{"bench", "tokenizer"}, {"impl", "tessera-c++"}, {"config", c.config},
                          {"mb_per_s", mb / best}, {"tokens_per_s", tokens / best}, {"mb", mb},
                          {"tokens", tokens}, {"threads", 1}};
      std::cout << j.dump() << std::endl;
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_tokenizer: %s (run scripts/fetch_assets.sh)\n", e.what());
    return 1;
  }
  return 0;
}
