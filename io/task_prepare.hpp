// `tessera prepare --task …`: task files (CSV/TSV/JSONL classification, CoNLL NER,
// SQuAD QA) → tokenized task HDF5 dataset with train/validation splits. The label
// map is built from the training file and imposed on the validation file, so a
// validation label the training data lacks is an error naming file and line. The
// dataset also records the tokenizer files (absolute paths), the encoding options
// and, for QA, every example's id, question, context and gold answers.
#pragma once
#include <mpi.h>
#include <string>

namespace tessera {

struct PrepareTaskOptions {
  std::string task;            // classification | ner | qa
  std::string train;           // training file
  std::string validation;      // optional validation file
  std::string output;          // .h5
  std::string vocab;           // WordPiece vocab.txt (BERT-family tokenizer)
  int64_t max_len = 128;
  int64_t doc_stride = 64;     // qa
  std::string label_alignment = "first-subword";  // ner
  std::string text_column = "text", text_pair_column = "", label_column = "label";  // classification
};

void prepare_task_dataset(const PrepareTaskOptions& opt, MPI_Comm comm);

}  // namespace tessera
