// Tokenised fine-tuning task datasets in HDF5 (layout in docs/formats.md, "Task
// datasets"): root attributes format="tessera-task", format_version, task, tokenizer,
// vocab_size, pad_id, max_len, label_names (variable-length string array); one group
// per split with input_ids / attention_mask / token_type_ids (int32 [n, max_len]),
// example_index (int64 [n]), labels (int32 [n] or [n, max_len]) and, for QA,
// start_positions / end_positions (int32 [n]) and offsets (int64 [n, max_len, 2]).
#pragma once
#include <mpi.h>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/task_readers.hpp"

namespace tessera {

namespace h5 {
class File;
}

inline constexpr const char* kTaskFormat = "tessera-task";
inline constexpr int64_t kTaskFormatVersion = 1;

struct TaskDatasetInfo {
  std::string task;  // "sequence-classification", "token-classification" or "question-answering"
  std::string tokenizer;
  int64_t vocab_size = 0;
  int32_t pad_id = 0;
  int64_t max_len = 0;
  std::vector<std::string> label_names;  // empty for QA
  std::vector<std::string> splits;       // on read: train, validation, test first, then by name
};

// Checks one split's features against info (shapes, ids in [0, vocab_size), mask 0/1,
// labels in [0, nlabels) (or kIgnoreIndex for token labels), QA positions in
// [0, max_len)); Error "<where>: ..." naming the dataset and row.
void validate_task_features(const std::string& where, const TaskDatasetInfo& info, const TaskFeatures& f);

// Collective over comm (MPI_COMM_NULL: POSIX, single process); rank 0 holds and
// writes the data, the others pass the same info and split names. Validates first.
void write_task_dataset(const std::string& path, const TaskDatasetInfo& info,
                        const std::map<std::string, TaskFeatures>& splits, MPI_Comm comm);

class TaskDataset {
 public:
  // Opens (collective over comm) and validates the layout; Error naming file + object.
  TaskDataset(const std::string& path, MPI_Comm comm);
  ~TaskDataset();
  TaskDataset(TaskDataset&&) noexcept;
  TaskDataset& operator=(TaskDataset&&) noexcept;

  const std::string& path() const { return path_; }
  const TaskDatasetInfo& info() const { return info_; }
  bool has_split(const std::string& split) const;
  int64_t num_rows(const std::string& split) const;  // Error if missing
  // Reads a whole split (independent I/O) and validates its contents.
  TaskFeatures read_split(const std::string& split) const;

 private:
  std::string path_;
  TaskDatasetInfo info_;
  std::map<std::string, int64_t> rows_;
  std::unique_ptr<h5::File> file_;
};

}  // namespace tessera
