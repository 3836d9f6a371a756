// Tokenised fine-tuning task datasets in HDF5 (layout in docs/formats.md, "Task
// datasets"): root attributes format="tessera-task", format_version, task, tokenizer,
// vocab_size, pad_id, max_len, label_names (variable-length string array) and, when
// written by a newer prepare, tokenizer_files (absolute paths), doc_stride /
// max_question_len (QA), label_alignment (NER), text_column / text_pair_column
// (classification); one group per split (attribute skipped_rows: malformed rows that
// prepare skipped, when it recorded them) with input_ids / attention_mask /
// token_type_ids (int32 [n, max_len]), example_index (int64 [n]), labels (int32 [n]
// or [n, max_len]) and, for QA, start_positions / end_positions (int32 [n]), offsets
// (int64 [n, max_len, 2]) and examples (ids, questions, contexts and gold answers,
// one JSON object per line in a scalar string). Older files without the optional
// parts stay readable.
#pragma once
#include <mpi.h>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/task_readers.hpp"
#include "src/model/transformer.hpp"

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
  // Optional (absent in files from older prepares: empty / 0 on read).
  std::vector<std::string> tokenizer_files;  // absolute paths of the tokenizer's files (WordPiece: vocab.txt)
  int64_t doc_stride = 0, max_question_len = 0;  // QA windows
  std::string label_alignment;                  // NER: first-subword | all-subwords
  std::string text_column, text_pair_column;     // classification columns of the source files
  std::map<std::string, int64_t> skipped_rows;   // per split: malformed rows prepare skipped (/<split>@skipped_rows)
  // Auxiliary features (io/auxiliary_features.hpp): FeatureSchema::to_json(), fitted on
  // train (root attribute feature_schema); empty: none. With a schema every split holds
  // dense_features (float32 [n, dense_dim]) and categorical_features (int32 [n, categorical_dim])
  // when those widths are > 0.
  std::string feature_schema;
};

// Source examples of one split that the features do not hold (QA only): example i is
// the one features rows with example_index i come from.
struct TaskExamples {
  std::vector<std::string> ids, questions, contexts;
  std::vector<std::vector<std::string>> answers;  // every gold answer text (may be empty)
  size_t size() const { return ids.size(); }
  bool empty() const { return ids.empty(); }
};

// The head a task trains: sequence-classification, token-classification, question-answering.
HeadKind task_head_kind(const std::string& task);

// True when `path` is an HDF5 file whose root attribute format is "tessera-task"
// (false for anything else, including a missing or unreadable file). Not collective.
bool is_task_dataset(const std::string& path);

// Checks one split's features against info (shapes, ids in [0, vocab_size), mask 0/1,
// labels in [0, nlabels) (or kIgnoreIndex for token labels), QA positions in
// [0, max_len)); Error "<where>: ..." naming the dataset and row.
void validate_task_features(const std::string& where, const TaskDatasetInfo& info, const TaskFeatures& f);

// Collective over comm (MPI_COMM_NULL: POSIX, single process); rank 0 holds and
// writes the data, the others pass the same info and split names. Validates first.
// examples: per split (QA), stored as /<split>/examples; rank 0's are written.
void write_task_dataset(const std::string& path, const TaskDatasetInfo& info,
                        const std::map<std::string, TaskFeatures>& splits, MPI_Comm comm,
                        const std::map<std::string, TaskExamples>& examples = {});

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
  // QA source examples of a split (/<split>/examples); Error when absent (a file from an
  // older prepare) or malformed, naming the file, object and line.
  bool has_examples(const std::string& split) const;
  TaskExamples read_examples(const std::string& split) const;

 private:
  std::string path_;
  TaskDatasetInfo info_;
  std::map<std::string, int64_t> rows_;
  std::unique_ptr<h5::File> file_;
};

}  // namespace tessera
