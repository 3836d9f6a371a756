// `tessera prepare`: plain UTF-8 text files -> tokenized HDF5 token dataset.
#pragma once
#include <mpi.h>
#include <string>
#include <vector>

namespace tessera {

struct PrepareTextOptions {
  std::vector<std::string> inputs;
  std::string output;
  double validation_fraction = 0.05;
  double test_fraction = 0.0;
  std::string doc_separator = "blank-lines";  // or "file" or "line"
  std::string tokenizer = "byte";  // TextTokenizer spec: byte | FILE.gguf | FILE.tiktoken | DIR (vocab.json + merges.txt)
};

// A document split of the inputs, in input order (exposed for tests/tools).
// "blank-lines": runs of non-blank lines separated by one or more blank
// (whitespace-only) lines; "line": every non-blank line; "file": each whole
// file. Leading/trailing blank lines and trailing whitespace of each document
// are dropped; CRLF becomes LF; empty documents are skipped.
std::vector<std::string> split_documents(const std::vector<std::string>& inputs, const std::string& separator);

// Split of each document (0 = train, 1 = validation, 2 = test) for n documents:
// n_val = round(n * validation_fraction) (at least 1 if the fraction is > 0),
// likewise n_test; validation documents are spread evenly (document i is
// validation when floor((i+1)*n_val/n) > floor(i*n_val/n)), test documents the
// same way over the remaining ones; the rest is train. Error when train would
// be empty.
std::vector<int> assign_splits(size_t n, double validation_fraction, double test_fraction);

// Reads the inputs on rank 0, tokenizes every document (byte-level by default)
// followed by one end-of-text id (byte: 256; BPE: the tokenizer's eos), assigns documents with assign_splits and writes the dataset
// collectively over comm (splits with no documents are not written).
// Missing input -> Error naming it; no documents -> Error.
void prepare_text_dataset(const PrepareTextOptions& opts, MPI_Comm comm);

}  // namespace tessera
