// Tokenized datasets in HDF5 (layout in docs/formats.md): root attributes
// format="tessera-tokens", format_version, tokenizer, vocab_size, eot_id; one
// group per split with datasets `tokens` (int32, 1-D) and `doc_offsets`
// (int64, 1-D, ndocs+1 entries, first 0, last = number of tokens).
#pragma once
#include <mpi.h>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tessera {

namespace h5 {
class File;
}

inline constexpr const char* kTokenFormat = "tessera-tokens";
inline constexpr int64_t kTokenFormatVersion = 1;

struct TokenDatasetInfo {
  std::string tokenizer;
  int64_t vocab_size = 0;
  int32_t eot_id = -1;
  std::vector<std::string> splits;  // on read: train, validation, test first, then the rest by name
};

// Writes a dataset through the MPI-IO driver (collective over comm; rank 0 holds
// and writes the data, the others must pass the same info and split names —
// their token/offset vectors are ignored). Validates ids in [0, vocab_size)
// and offsets (first 0, non-decreasing, last = token count) before writing.
// info.splits is ignored: the splits are the keys of `tokens`.
void write_token_dataset(const std::string& path, const TokenDatasetInfo& info,
                         const std::map<std::string, std::vector<int32_t>>& tokens,
                         const std::map<std::string, std::vector<int64_t>>& doc_offsets, MPI_Comm comm);

class TokenDataset {
 public:
  // Opens (collective over comm) and validates the layout; throws Error naming file + object.
  TokenDataset(const std::string& path, MPI_Comm comm);
  ~TokenDataset();
  TokenDataset(TokenDataset&&) noexcept;
  TokenDataset& operator=(TokenDataset&&) noexcept;

  const std::string& path() const { return path_; }
  const TokenDatasetInfo& info() const { return info_; }
  bool has_split(const std::string& split) const;
  int64_t num_tokens(const std::string& split) const;      // Error if the split is missing
  int64_t num_documents(const std::string& split) const;   // Error if the split is missing
  // Document boundaries of a split (ndocs+1 entries).
  const std::vector<int64_t>& doc_offsets(const std::string& split) const;
  // Reads tokens [start, start+count) of a split with independent I/O (each
  // rank its own window). Bounds-checked; ids outside [0, vocab_size) throw an
  // Error naming the file, split and position.
  void read_tokens(const std::string& split, int64_t start, int64_t count, int32_t* out) const;

 private:
  struct Split {
    int64_t num_tokens = 0;
    std::vector<int64_t> doc_offsets;
  };
  const Split& split(const std::string& name) const;
  std::string path_;
  TokenDatasetInfo info_;
  std::map<std::string, Split> splits_;
  std::unique_ptr<h5::File> file_;
};

}  // namespace tessera
