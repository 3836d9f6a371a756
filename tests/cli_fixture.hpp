// Shared fixture for tests that drive the tessera CLI end to end: a small byte-level
// dataset prepared from the bundled Book of Ruth, and a tiny-model config writer.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include "test_support.hpp"

namespace tessera_test {

// Prepares <dir>/ruth.h5 from data/kjv/08_ruth.txt (once per directory).
inline std::string prepare_ruth(const std::filesystem::path& dir) {
  const std::string out = (dir / "ruth.h5").string();
  if (!std::filesystem::exists(out)) {
    auto r = run_tessera("prepare --input " + source_dir() + "/data/kjv/08_ruth.txt --output " + out +
                         " --validation-fraction 0.2 --doc-separator line");
    if (r.exit_code != 0) throw std::runtime_error("prepare failed: " + r.output);
  }
  return out;
}

// A tiny GPT-2 config (2 layers, 2 heads, width 32, byte vocab) with every
// "section.key" in overrides replacing the default text value.
inline std::string tiny_config(const std::string& data_path, const std::string& run_dir,
                               std::map<std::string, std::string> overrides = {}) {
  std::map<std::string, std::map<std::string, std::string>> sections = {
      {"model",
       {{"n_layer", "2"}, {"n_head", "2"}, {"n_embd", "32"}, {"n_positions", "32"}, {"vocab_size", "257"},
        {"embd_pdrop", "0.1"}, {"attn_pdrop", "0.1"}, {"resid_pdrop", "0.1"}}},
      {"data", {{"path", "\"" + data_path + "\""}, {"seq_len", "32"}}},
      {"train",
       {{"max_steps", "8"}, {"micro_batch_size", "4"}, {"grad_accum_steps", "2"}, {"seed", "7"},
        {"eval_interval", "4"}, {"eval_batches", "2"}}},
      {"optim", {{"lr", "3e-3"}, {"warmup_steps", "2"}, {"weight_decay", "0.1"}}},
      {"checkpoint", {{"interval", "4"}, {"keep_last", "0"}}},
      {"run", {{"dir", "\"" + run_dir + "\""}}},
  };
  for (auto& [k, v] : overrides) {
    auto dot = k.find('.');
    sections[k.substr(0, dot)][k.substr(dot + 1)] = v;
  }
  std::string text;
  for (auto& [sec, kv] : sections) {
    text += "[" + sec + "]\n";
    for (auto& [k, v] : kv) text += k + " = " + v + "\n";
  }
  return text;
}

}  // namespace tessera_test
