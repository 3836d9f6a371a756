// Inputs of the task commands (predict, explain): readers of raw inputs (CSV/TSV/JSONL
// texts, CoNLL words, SQuAD / JSONL questions) and the checkpoint lookup. Errors name
// file:line (and the key or column).
#pragma once
#include <string>
#include <vector>

#include <mpi.h>

#include "io/auxiliary_features.hpp"
#include "io/task_dataset.hpp"
#include "src/config/run_config.hpp"

namespace tessera {

// One input to predict on: a text (and pair) for classification / NER, or a question.
struct InputRow {
  std::string text, pair;  // classification / NER
  QaExample qa;            // QA
  bool from_conll = false; // NER: text built from CoNLL words (echoed in the output)
  // Auxiliary feature columns (classification with a feature schema), in the order asked for.
  std::vector<std::string> feature_values;
  std::vector<char> feature_missing;  // 1: empty field / JSON null
  std::string source;                 // "<file>:<line>"
};

// The input format: `format` unless "auto", else from path's extension.
std::string input_format(const std::string& format, const std::string& path, HeadKind head);
std::string read_all(const std::string& path);
// Text (and pair) columns of CSV / TSV / JSONL records, and the feature columns: a CSV
// header or a JSONL record that lacks one is an Error naming the column and the file
// (file:line); an empty field or a JSON null is a missing value.
std::vector<InputRow> read_text_records(const std::string& path, const std::string& format, const std::string& col,
                                        const std::string& pair_col,
                                        const std::vector<std::string>& feature_columns = {});
// CoNLL: the first column of each line is a word; blank lines end sentences.
std::vector<InputRow> read_conll_words(const std::string& path);
// QA: SQuAD JSON (answers optional), JSONL {"id", "question", "context"} or CSV / TSV
// with question and context columns (id = the row index).
std::vector<InputRow> read_questions(const std::string& path, const std::string& format);
// A feature-head model's schema (predict, explain): the one `checkpoint` was trained with
// (/run/feature_schema), else the training dataset's (info of data_path). Error naming the
// checkpoint when its widths differ from the model's (mc.features).
FeatureSchema checkpoint_feature_schema(const TransformerConfig& mc, const std::string& checkpoint,
                                        const TaskDatasetInfo& info, const std::string& data_path, MPI_Comm comm);
// The feature vectors stored in data (prepare, with data's schema) must be those of the
// schema the feature-head checkpoint was trained with (/run/feature_schema; a checkpoint
// without one passes): else an Error naming `what`, both files and the first differing column.
void require_dataset_feature_schema(const TaskDataset& data, const std::string& checkpoint, MPI_Comm comm,
                                    const std::string& what);
// The rows' feature vectors under schema, as prepare writes them (rows read by
// read_text_records with schema.columns(); text features counted with tok). Errors
// name "<file>:<line>: column 'c'".
FeatureMatrix input_feature_matrix(const FeatureSchema& schema, const std::vector<InputRow>& rows,
                                   const TaskTokenizer& tok);

// `checkpoint` when given (must exist), else the newest in the run's checkpoint directory.
std::string checkpoint_for(const std::string& checkpoint, const RunConfig& cfg);

}  // namespace tessera
