// End-to-end verification of Tessera HDF5 files (docs/formats.md "Checksums"):
// every array dataset is read chunk by chunk so HDF5 checks each chunk's
// Fletcher-32 checksum, and checkpoints are checked for what `--resume` needs.
#pragma once
#include <mpi.h>
#include <ostream>
#include <string>
#include <vector>

namespace tessera {

struct FileVerification {
  int64_t datasets = 0;            // array datasets read
  int64_t unverified = 0;          // of them without a checksum (files from before checksums)
  std::vector<std::string> problems;  // "<file>: <dataset>: chunk K of N (...): <why>"
};

// Reads every array dataset of `path` (POSIX driver; any one rank may call it).
// Throws Error only when the file cannot be opened at all.
FileVerification verify_file_data(const std::string& path);

// The root attributes, groups and early-stopping scalars a run resumed with
// --resume reads (docs/formats.md); init_from reads /params only.
std::vector<std::string> missing_resume_state(const std::string& path);

// "" when `path` can be resumed from: it opens, its training state is valid
// (read_checkpoint_state), nothing in missing_resume_state is missing and every
// chunk verifies; else the first reason it cannot.
std::string resume_problem(const std::string& path);

// `tessera inspect --verify FILE`: prints one line per problem and a summary;
// returns 0 when every dataset verified, 1 otherwise.
int print_verification(const std::string& path, std::ostream& out);

}  // namespace tessera
