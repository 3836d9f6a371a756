// The CLI's subcommands: options parsed by CLI11 into CommandLine, then run.
#pragma once
#include <mpi.h>
#include <string>
#include <vector>

namespace CLI { class App; }

namespace tessera {

struct CommandLine {
  std::string command;  // train | eval | generate | prepare | inspect | score
  std::string config;
  bool resume = false;
  bool verify = false;  // inspect --verify: read every chunk, check its checksum
  int64_t stop_at_step = 0;
  std::string checkpoint;
  std::string split = "validation";
  std::string prompt;
  int max_new_tokens = 100;
  double temperature = 0.8;
  int top_k = 40;
  double top_p = 1.0;
  double repetition_penalty = 1.0;
  std::vector<std::string> stop;  // generate --stop TEXT (repeatable)
  std::string tokenizer;          // generate --tokenizer byte|FILE.gguf|FILE.tiktoken|DIR
  bool no_kv_cache = false;
  bool timings = false;     // generate --timings: prefill/decode tokens/s as JSON on stderr
  bool ignore_eos = false;  // generate --ignore-eos: the end-of-text token does not stop generation
  uint64_t seed = 1;
  std::vector<std::string> inputs;
  std::string output;
  double validation_fraction = 0.05;
  double test_fraction = 0.0;
  std::string doc_separator = "blank-lines";
  std::string task;              // prepare --task classification|ner|qa
  std::string task_validation;   // prepare --validation-input
  std::string task_test;         // prepare --test-input
  bool skip_bad_rows = false;    // prepare --skip-bad-rows
  std::string numeric_features, categorical_features, text_features;  // prepare --task classification
  std::string vocab;             // prepare --vocab (WordPiece vocab.txt)
  int64_t max_len = 128;
  int64_t doc_stride = 64;
  std::string label_alignment = "first-subword";
  std::string file;
  std::string metric;                   // score bleu
  std::string hypotheses;               // score --hypotheses
  std::vector<std::string> references;  // score --references (repeatable: one file per reference stream)
  bool lowercase = false;               // score --lowercase
};

void register_commands(CLI::App& app, CommandLine& cl);
int run_command(const CommandLine& cl, MPI_Comm comm);

}  // namespace tessera
