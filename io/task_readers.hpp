// Readers and tokenised encoders for fine-tuning task datasets:
//   sequence classification  CSV / TSV (RFC 4180) and JSONL
//   token classification     CoNLL column files (BIO / IOB2 tags)
//   extractive QA            SQuAD v1.1 JSON
// Readers throw tessera::Error naming "<file>:<line>" (or, for SQuAD, the file and
// the question id) on malformed input (a CSV/TSV row with the wrong field count, a
// JSONL row without its text or label, an empty text, a CoNLL line with the wrong
// column count or a non-BIO tag, a label outside a given label map, a SQuAD question
// without text or whose answer does not match its context), unless skip_malformed is
// set, in which case the row (CoNLL: the sentence) is dropped, counted in `skipped`
// and the first one described in `first_skipped` ("<file>:<line>: reason"). An empty
// file, and one whose every row is malformed, is always an Error naming the file.
// Encoders are pure functions over a TaskTokenizer (see below); the results are
// columnar TaskFeatures, which io/task_dataset.hpp writes to HDF5.
#pragma once
#include "src/tensor/ignore_index.hpp"
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/tokenizer/encoding.hpp"

namespace tessera {

class WordPieceTokenizer;
class BpeTokenizer;


// ---------------------------------------------------------------- CSV / TSV
struct DelimitedRecord {
  int64_t line = 0;  // 1-based line on which the record starts
  std::vector<std::string> fields;
};
// RFC 4180: fields separated by `delim`, records by LF or CRLF; a field that starts
// with '"' is quoted: it may hold delimiters, newlines and doubled quotes ("").
// Blank lines are skipped. Unterminated quote / text after a closing quote ->
// Error "<file>:<line>: ...".
std::vector<DelimitedRecord> parse_delimited(std::string_view text, char delim, const std::string& file);

// ---------------------------------------------------------------- classification
struct ClassificationReadOptions {
  std::string format = "auto";       // "csv", "tsv", "jsonl", or "auto" (from the extension)
  std::string text_column = "text";
  std::string text_pair_column;      // empty: single-sentence task
  std::string label_column = "label";
  // Given label map (label id = index). Empty: built from the data, sorted (numerically
  // when every label is an integer, else by bytes). A label outside a given map ->
  // Error "<file>:<line>: label 'x' is not in the label map".
  std::vector<std::string> label_names;
  bool skip_malformed = false;
  // Auxiliary feature columns (io/auxiliary_features.hpp) read as strings into each
  // example's feature_values. CSV/TSV: a column the header lacks is an Error naming it
  // and the file; an empty field is a missing value. JSONL: an absent key or null is a
  // missing value; numbers and booleans are written in decimal / true|false.
  std::vector<std::string> feature_columns;
};

struct ClassificationExample {
  std::string text, text_pair;
  int32_t label = -1;
  std::string source;  // "<file>:<line>"
  std::vector<std::string> feature_values;  // one per ClassificationReadOptions::feature_columns
  std::vector<char> feature_missing;        // 1: the value is absent
};

struct ClassificationData {
  std::vector<ClassificationExample> examples;
  std::vector<std::string> label_names;
  int64_t skipped = 0;
  std::string first_skipped;  // "<file>:<line>: reason" of the first skipped row
};

// CSV/TSV: the first record is the header naming the columns. JSONL: one object per
// line; a label may be a string or an integer (written in decimal).
ClassificationData read_classification(const std::string& path, const ClassificationReadOptions& opt = {});

// ---------------------------------------------------------------- CoNLL
struct ConllReadOptions {
  int token_column = 0;
  int tag_column = -1;  // -1: the last column
  // Given tag map; empty: built from the data as "O" first, then the others sorted.
  std::vector<std::string> label_names;
  bool skip_malformed = false;  // drops the whole sentence holding a bad line
};

struct TokenClassificationExample {
  std::vector<std::string> words;
  std::vector<int32_t> tags;
  std::string source;  // "<file>:<line of the first word>"
};

struct TokenClassificationData {
  std::vector<TokenClassificationExample> examples;
  std::vector<std::string> label_names;
  int64_t skipped = 0;  // sentences dropped
  std::string first_skipped;
};

// Whitespace-separated columns, one token per line, blank line between sentences,
// -DOCSTART- lines skipped. Every line must have as many columns as the first one;
// tags must be "O", "B-X" or "I-X" (IOB2 / BIO) -> else Error "<file>:<line>: ...".
TokenClassificationData read_conll(const std::string& path, const ConllReadOptions& opt = {});

// ---------------------------------------------------------------- SQuAD
struct QaAnswer {
  std::string text;
  int64_t answer_start = 0;  // code points, as in the file (Python str index)
  size_t byte_start = 0;     // UTF-8 byte offset into the context
};

struct QaExample {
  std::string id, title, question, context;
  std::vector<QaAnswer> answers;
};

struct SquadReadOptions {
  bool skip_malformed = false;
  bool allow_no_answer = false;  // SQuAD 2.0 style questions with no answers
};

struct QaData {
  std::vector<QaExample> examples;
  int64_t skipped = 0;
  std::string first_skipped;  // "<file>: question '<id>': reason"
};

// data[].paragraphs[].context, qas[].id / question / answers[].text / answer_start.
// answer_start is converted from code points to bytes; an answer that does not match
// the context there -> Error "<file>: question '<id>': ...".
QaData read_squad(const std::string& path, const SquadReadOptions& opt = {});

// Byte offset of code point `cp` in UTF-8 `s` (cp == number of code points gives
// s.size()); -1 when cp is past the end. Invalid bytes count as one code point each.
int64_t utf8_codepoint_to_byte(std::string_view s, int64_t cp);

// ---------------------------------------------------------------- encoding
// What the encoders need from a tokenizer. `encode` gives ids and byte offsets into
// its argument, without special tokens. cls_id / sep_id < 0: not added; then join_id
// >= 0 (BPE: the end-of-text token) stands between two segments (a join b, question
// join context). segment_types false: token_type_ids all 0 (decoders have no segment
// embeddings).
struct TaskTokenizer {
  std::string name;
  int64_t vocab_size = 0;
  int32_t cls_id = -1, sep_id = -1, pad_id = 0, join_id = -1;
  bool word_prefix_space = false;  // token classification: encode " "+word for words after the first
  bool segment_types = true;
  std::function<Encoding(std::string_view)> encode;
};
// WordPiece: [CLS]/[SEP], pad = "[PAD]" (0 when absent).
TaskTokenizer task_tokenizer(const WordPieceTokenizer& tok, const std::string& name = "wordpiece");
// Byte-level BPE: no [CLS]/[SEP]; pad_id = join_id = eos_id (default: <|endoftext|>'s
// id; none: pad 0, no join), word_prefix_space = true (HF add_prefix_space for
// pre-split words), segment_types = false.
TaskTokenizer task_tokenizer(const BpeTokenizer& tok, int32_t eos_id = -1);

// The tokenizer a task dataset is prepared with, from a command-line spec:
//   FILE.txt                      WordPiece vocab.txt
//   FILE.gguf                     the GGUF model's byte-level BPE (eos = tokenizer.ggml.eos_token_id)
//   FILE.tiktoken                 GPT-2 rank file
//   DIR with vocab.json + merges.txt   byte-level BPE (GPT-2, RoBERTa)
// (TextTokenizer::open's specs, "byte" excepted). `files` (when given) receives the
// absolute paths that identify it, as the dataset records them (tokenizer_files);
// open_task_tokenizer_files reopens exactly that tokenizer from them. Error naming
// the spec / file otherwise.
TaskTokenizer open_task_tokenizer(const std::string& spec, std::vector<std::string>* files = nullptr);
TaskTokenizer open_task_tokenizer_files(const std::vector<std::string>& files);

// Columnar, fixed-width features (n rows of max_len). Rows are padded with pad_id,
// attention_mask 1 on real tokens, token_type_ids 0 for segment a (with [CLS] and its
// [SEP], or the join token) and 1 for segment b (with its [SEP]); all 0 without
// segment_types.
struct TaskFeatures {
  int64_t max_len = 0;
  std::vector<int32_t> input_ids, attention_mask, token_type_ids;  // n * max_len
  std::vector<int32_t> labels;        // classification: n; token classification: n * max_len; QA: empty
  std::vector<int32_t> start_positions, end_positions;  // QA: n (0 = [CLS] when the window lacks the answer)
  std::vector<int64_t> example_index;  // n: the source example of each row
  std::vector<int64_t> offsets;        // QA: n * max_len * 2 byte [begin, end) into the context; -1 elsewhere
  // Auxiliary features (classification with a feature schema; io/auxiliary_features.hpp):
  // n * dense_feature_dim standardised values, n * categorical_feature_dim category indices.
  int64_t dense_feature_dim = 0, categorical_feature_dim = 0;
  std::vector<float> dense_features;
  std::vector<int32_t> categorical_features;
  int64_t size() const { return max_len > 0 ? static_cast<int64_t>(input_ids.size()) / max_len : 0; }
};

// [CLS] a [SEP] (b [SEP]), or BPE: a (join b); longest-first truncation to max_len
// (ties cut b, like HF).
TaskFeatures encode_classification(const std::vector<ClassificationExample>& ex, const TaskTokenizer& tok,
                                   int64_t max_len);

// Word tags aligned to sub-words. "first-subword": the first piece of a word gets its
// tag, the others kIgnoreIndex; "all-subwords": every piece gets the tag, except that
// the continuation pieces of a "B-X" word get "I-X" (when it is in label_names).
// Special tokens and padding get kIgnoreIndex. Truncated to max_len.
TaskFeatures encode_token_classification(const std::vector<TokenClassificationExample>& ex,
                                         const std::vector<std::string>& label_names, const TaskTokenizer& tok,
                                         int64_t max_len, const std::string& label_alignment = "first-subword");

struct QaEncodeOptions {
  int64_t max_len = 384;
  int64_t doc_stride = 128;       // tokens shared by consecutive windows (HF `stride`)
  int64_t max_question_len = 64;  // longer questions are truncated
};
// [CLS] question [SEP] context-window [SEP] (BPE: question join context-window);
// windows over the context tokens start
// every (budget - doc_stride) tokens, budget = max_len - len(question) - specials.
// The first answer's byte span maps to (start, end) token positions (inclusive) in
// each window that fully contains it, else (0, 0).
TaskFeatures encode_qa(const std::vector<QaExample>& ex, const TaskTokenizer& tok, const QaEncodeOptions& opt);

}  // namespace tessera
