// `tessera prepare --task …`: task files (CSV/TSV/JSONL classification, CoNLL NER,
// SQuAD QA) → tokenized task HDF5 dataset with train/validation/test splits. The label
// map is built from the training file and imposed on the validation and test files, so
// a label the training data lacks is an error naming file and line (or, with
// skip_bad_rows, a skipped row). The dataset also records the tokenizer files (absolute
// paths), the encoding options, the rows skipped per split and, for QA, every example's
// id, question, context and gold answers.
// Collective over comm: every rank reads the (small) files; the examples of each split
// are encoded in contiguous per-rank ranges and gathered to rank 0 in input order, so
// the file is byte for byte the one a single rank writes.
#pragma once
#include <mpi.h>
#include <cstdint>
#include <map>
#include <string>

#include "io/auxiliary_features.hpp"

namespace tessera {

struct PrepareTaskOptions {
  std::string task;            // classification | ner | qa
  std::string train;           // training file
  std::string validation;      // optional validation file
  std::string test;            // optional test file
  std::string output;          // .h5
  std::string vocab;           // WordPiece vocab.txt (BERT-family tokenizer), or
  std::string tokenizer;       // FILE.gguf | FILE.tiktoken | DIR (vocab.json + merges.txt): byte-level BPE
  int64_t max_len = 128;
  int64_t doc_stride = 64;     // qa
  std::string label_alignment = "first-subword";  // ner
  std::string text_column = "text", text_pair_column = "", label_column = "label";  // classification
  bool skip_bad_rows = false;  // malformed rows are skipped and counted instead of an error
  FeatureRequest features;     // classification: auxiliary feature columns / text features
};

// What one split of a prepared dataset holds.
struct PreparedSplit {
  int64_t examples = 0;       // source examples (rows, sentences, questions) kept
  int64_t rows = 0;           // encoded rows (QA: windows)
  int64_t skipped = 0;        // malformed rows skipped (CoNLL: sentences)
  std::string first_skipped;  // "<file>:<line>: reason" of the first
};

// Writes opt.output; returns the splits (train, validation, test) on every rank.
std::map<std::string, PreparedSplit> prepare_task_dataset(const PrepareTaskOptions& opt, MPI_Comm comm);

}  // namespace tessera
