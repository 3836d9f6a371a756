// A task model explained over the features of one text: the text is split into
// features (words at whitespace, sub-word tokens, or sentences), encoded once, and a
// coalition mask becomes a token row in which the tokens of removed features are
// replaced by the mask token (Removal::Mask: [MASK] for WordPiece, else the pad id;
// positions stay put) or deleted (Removal::Delete). Special tokens ([CLS], [SEP])
// always stay. The value of a row is a scalar target of the head:
//   sequence_classification  probability (or logit) of one class;
//   token_classification     mean log-probability of the predicted tags over one entity span;
//   causal_lm                log-probability of a given continuation after the text;
//   question_answering       the score of the answer span (s, e) predicted on the full
//                            input: log p(start = s) + log p(end = e) (default), the
//                            logit sum start_logit[s] + end_logit[e], or p(s)·p(e); the
//                            softmaxes run over every position of the window, as the QA
//                            head's training loss (HF's CrossEntropy over the sequence).
//                            Features are the context's words (the question is kept
//                            whole); Removal::Mask only (positions, hence the span, stay).
// A classifier with a feature head (docs/datasets.md, "The feature head") also reads the
// input's auxiliary feature columns: each column is one more player after the text
// features (mask positions M() … players() − 1). A removed column takes its baseline:
// a numeric column standardised 0 (the training mean) with its missing indicator off, a
// text-derived feature 0 (its training mean), a categorical column the unknown bucket (0).
// Rows are evaluated in batches through Transformer::forward, sharded over the ranks
// (coalition.hpp), so 1 rank and N ranks agree bitwise.
#pragma once
#include <mpi.h>
#include <string>
#include <vector>

#include "io/auxiliary_features.hpp"
#include "io/task_readers.hpp"
#include "src/explain/coalition.hpp"
#include "src/model/transformer.hpp"

namespace tessera::explain {

enum class Granularity { Word, Token, Sentence };
enum class Removal { Mask, Delete };
enum class TargetKind { Probability, Logit, LogProbability };

Granularity parse_granularity(const std::string& s);
Removal parse_removal(const std::string& s);

// One auxiliary feature column of a feature-head classifier, as a player.
struct ColumnPlayer {
  std::string name;        // the source column, or "text:<spec>" for a text-derived feature
  std::string kind;        // "numeric", "text" or "categorical"
  std::string value;       // the input's raw value ("" when missing; text features: the computed value)
  bool missing = false;
  std::vector<int> dense;  // its slots in the dense vector (numeric: value and missing indicator)
  int categorical = -1;    // its slot in the categorical vector
};

struct TextInstance {
  std::string text;
  std::vector<int32_t> ids;                     // encoded text ([CLS] … [SEP]), truncated to max_len
  std::vector<uint8_t> special;                 // per token: 1 = special (never removed)
  std::vector<std::string> features;            // feature texts
  std::vector<std::vector<int>> feature_tokens; // token positions of each feature
  std::vector<int32_t> continuation;            // causal LM: the scored continuation's ids
  std::vector<int32_t> types;                   // segment ids per token (empty = all 0; QA: question 0, context 1)
  std::vector<int64_t> offsets;                 // QA: per token byte [begin, end) into the context, -1 outside
  std::string question;                         // QA: the question (kept whole); text = the context
  bool truncated = false;                       // the text had more tokens than max_len (QA: more than one window)
  // Feature head: the input's vectors (standardised dense, category indices) and the columns as players.
  std::vector<float> dense;
  std::vector<int32_t> categorical;
  std::vector<ColumnPlayer> columns;
  int M() const { return int(features.size()); }                    // text features
  int players() const { return M() + int(columns.size()); }         // text features, then columns
};

// Feature head: attaches x's feature vectors (one row of compute_features under s) and
// its columns as players (numeric columns, text-derived features, categorical columns, in
// the schema's order); values / missing: the row's raw column values (s.columns() order).
void attach_feature_columns(TextInstance& x, const FeatureSchema& s, const float* dense, const int32_t* categorical,
                            const std::vector<std::string>& values, const std::vector<char>& missing);

// Feature vectors of rows: dense [rows, D], categorical [rows, Mc].
struct FeatureRows {
  std::vector<float> dense;
  std::vector<int32_t> categorical;
};

// Splits and encodes text (tagging-style word encoding: each word on its own, as
// training encodes CoNLL words). max_len counts the continuation too.
TextInstance make_text_instance(const std::string& text, const TaskTokenizer& tok, int64_t max_len,
                                Granularity g, const std::string& continuation = "");

// Question answering: the first window of encode_qa (the context's first max_len −
// question − specials tokens; truncated when the context needs more windows).
// Features: the context's words (a token opens one at a gap or whitespace after the
// previous token), its tokens, or its sentences; question and special tokens are
// never removed. An empty context or question is an error.
TextInstance make_qa_instance(const QaExample& q, const TaskTokenizer& tok, const QaEncodeOptions& opt, Granularity g);

struct TextTarget {
  HeadKind head = HeadKind::SequenceClassification;
  TargetKind kind = TargetKind::Probability;
  int label = 0;  // sequence classification: the class
  // token classification: one entity span, its token positions and their tags; the
  // value is the mean over the span of log p(tag at that token) (Removal::Mask only).
  std::vector<int> span_tokens, span_tags;
  // question answering: the explained span's start and end token (inclusive)
  int qa_start = -1, qa_end = -1;
};

// Question answering: the best span of x's window on the full input (span decoding as
// predict: n-best 20, at most 30 tokens, no null answer); when that n-best has no valid
// span (predict answers ""), the best valid span over every position (fallback = true).
struct QaSpan {
  int start_token = -1, end_token = -1;
  double start_logit = 0, end_logit = 0;
  int64_t byte_start = 0, byte_end = 0, char_start = 0, char_end = 0;
  std::string answer;
  bool fallback = false;  // predict's n-best (20 starts x 20 ends) had no valid span: best over all positions
};

// Token classification: the predicted entity spans of x (B-X starts a span, I-X of the
// same type continues it, anything else ends it; BIO tags from the label names, the tag
// of each word's first token) as token positions + tags, with the span's type.
struct EntitySpan {
  std::string type, text;
  std::vector<int> tokens, tags;
};
std::vector<EntitySpan> entity_spans(const TextInstance& x, const std::vector<float>& logits,
                                     const std::vector<std::string>& labels);

class TextModel {
 public:
  TextModel(Transformer<float>& model, int32_t mask_id, int32_t pad_id, int batch, MPI_Comm comm)
      : model_(model), mask_id_(mask_id), pad_id_(pad_id), batch_(batch), comm_(comm) {}

  // Token rows of masks (the ids of the kept tokens; masked ones replaced or dropped).
  std::vector<std::vector<int32_t>> rows(const TextInstance& x, const std::vector<Mask>& masks, Removal r) const;
  // Feature head: the feature vectors of masks (players() long; a shorter mask keeps every
  // column): x's vectors with each removed column at its baseline.
  FeatureRows feature_rows(const TextInstance& x, const std::vector<Mask>& masks) const;
  // The target over explicit token rows (this rank only, one batch at a time). Feature
  // head: f holds the rows' feature vectors (null: x's own, every column present).
  std::vector<double> score_rows(const std::vector<std::vector<int32_t>>& rows, const TextInstance& x,
                                 const TextTarget& t, const FeatureRows* f = nullptr);
  // Head logits of token rows (this rank only); T = the longest row.
  // types: segment ids of rows as long as it (every row, positions kept), else all 0.
  // f: the rows' feature vectors (required by a feature head, else ignored).
  std::vector<float> forward_logits(const std::vector<std::vector<int32_t>>& rows, int& T,
                                    const std::vector<int32_t>* types = nullptr, const FeatureRows* f = nullptr);
  // Question answering: the span predicted on the full input x, its row padded to
  // padded_len (the dataset's max_len) as predict runs it, so the span is predict's answer.
  QaSpan predicted_span(const TextInstance& x, int64_t padded_len = 0);
  // Class probabilities of token rows [rows, K] (this rank only).
  std::vector<double> class_probabilities(const std::vector<std::vector<int32_t>>& rows,
                                          const FeatureRows* f = nullptr);
  // The value function of x (sharded over the ranks).
  ValueFunction value_function(const TextInstance& x, const TextTarget& t, Removal r);

  Transformer<float>& model() { return model_; }
  int32_t mask_id() const { return mask_id_; }
  int batch() const { return batch_; }
  MPI_Comm comm() const { return comm_; }

 private:
  Transformer<float>& model_;
  int32_t mask_id_, pad_id_;
  int batch_;
  MPI_Comm comm_;
};

}  // namespace tessera::explain
