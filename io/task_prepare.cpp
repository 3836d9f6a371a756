#include "io/task_prepare.hpp"

#include <climits>
#include <filesystem>
#include <functional>
#include <vector>

#include "io/task_dataset.hpp"
#include "src/runtime/error.hpp"
#include "src/tokenizer/wordpiece_tokenizer.hpp"

namespace tessera {

namespace {

int rank_of(MPI_Comm comm) {
  int r = 0;
  if (comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &r);
  return r;
}
int size_of(MPI_Comm comm) {
  int n = 1;
  if (comm != MPI_COMM_NULL) MPI_Comm_size(comm, &n);
  return n;
}

// Collective: when any rank's err is non-empty, every rank throws the lowest such rank's.
void rethrow_first_error(const std::string& err, MPI_Comm comm) {
  if (comm == MPI_COMM_NULL) {
    if (!err.empty()) throw Error(err);
    return;
  }
  const int size = size_of(comm);
  int first = err.empty() ? size : rank_of(comm);
  MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_INT, MPI_MIN, comm);
  if (first == size) return;
  std::string msg = err;
  int n = static_cast<int>(msg.size());
  MPI_Bcast(&n, 1, MPI_INT, first, comm);
  msg.resize(static_cast<size_t>(n));
  MPI_Bcast(msg.data(), n, MPI_CHAR, first, comm);
  throw Error(msg);
}

template <class T>
MPI_Datatype mpi_type();
template <>
MPI_Datatype mpi_type<int32_t>() { return MPI_INT32_T; }
template <>
MPI_Datatype mpi_type<int64_t>() { return MPI_INT64_T; }

// Every rank's v concatenated in rank order into rank 0's v (emptied elsewhere).
template <class T>
void gather_to_root(std::vector<T>& v, MPI_Comm comm) {
  if (comm == MPI_COMM_NULL || size_of(comm) == 1) return;
  require(v.size() <= static_cast<size_t>(INT_MAX), "prepare --task: a rank's share of a column exceeds 2^31 elements");
  const int size = size_of(comm);
  const bool root = rank_of(comm) == 0;
  int n = static_cast<int>(v.size());
  std::vector<int> counts(root ? static_cast<size_t>(size) : 0), displs(counts.size());
  MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm);
  std::vector<T> all;
  if (root) {
    int64_t total = 0;
    for (int r = 0; r < size; ++r) {
      require(total <= INT_MAX, "prepare --task: a column exceeds 2^31 elements");
      displs[static_cast<size_t>(r)] = static_cast<int>(total);
      total += counts[static_cast<size_t>(r)];
    }
    all.resize(static_cast<size_t>(total));
  }
  MPI_Gatherv(v.data(), n, mpi_type<T>(), all.data(), counts.data(), displs.data(), mpi_type<T>(), 0, comm);
  v = std::move(all);
}

// Examples [0, n) encoded in contiguous per-rank ranges [n·r/size, n·(r+1)/size);
// rank 0 receives every row in input order, as one encode(0, n) gives them (each
// example encodes on its own; example_index is made global). Rows on other ranks: none.
// Returns the total number of rows on every rank.
int64_t encode_across_ranks(int64_t n, int64_t max_len, const std::function<TaskFeatures(int64_t, int64_t)>& encode,
                            TaskFeatures& out, MPI_Comm comm) {
  const int64_t r = rank_of(comm), size = size_of(comm);
  const int64_t lo = n * r / size, hi = n * (r + 1) / size;
  std::string err;
  TaskFeatures f;
  f.max_len = max_len;
  try {
    if (hi > lo) f = encode(lo, hi);
    for (int64_t& e : f.example_index) e += lo;
  } catch (const std::exception& e) {
    err = e.what();
    if (err.empty()) err = "prepare --task: encoding failed";
  }
  rethrow_first_error(err, comm);
  int64_t rows = f.size();
  if (comm != MPI_COMM_NULL) MPI_Allreduce(MPI_IN_PLACE, &rows, 1, MPI_INT64_T, MPI_SUM, comm);
  for (auto* c : {&f.input_ids, &f.attention_mask, &f.token_type_ids, &f.labels, &f.start_positions, &f.end_positions})
    gather_to_root(*c, comm);
  for (auto* c : {&f.example_index, &f.offsets}) gather_to_root(*c, comm);
  out = std::move(f);
  return rows;
}

template <class T>
std::vector<T> slice(const std::vector<T>& v, int64_t lo, int64_t hi) {
  return std::vector<T>(v.begin() + lo, v.begin() + hi);
}

}  // namespace

std::map<std::string, PreparedSplit> prepare_task_dataset(const PrepareTaskOptions& opt, MPI_Comm comm) {
  require(!opt.train.empty(), "prepare --task: --input (the training file) is required");
  require(opt.vocab.empty() != opt.tokenizer.empty(),
          opt.vocab.empty() ? "prepare --task: give --vocab (a WordPiece vocab.txt) or --tokenizer (FILE.gguf, "
                              "FILE.tiktoken or a directory with vocab.json + merges.txt)"
                            : "prepare --task: give --vocab or --tokenizer, not both");
  TaskDatasetInfo info;
  TaskTokenizer tok;
  if (!opt.vocab.empty()) {
    tok = task_tokenizer(WordPieceTokenizer::from_vocab_txt(opt.vocab));
    info.tokenizer_files = {std::filesystem::absolute(opt.vocab).lexically_normal().string()};
  } else {
    tok = open_task_tokenizer(opt.tokenizer, &info.tokenizer_files);
  }
  info.tokenizer = tok.name;
  info.vocab_size = tok.vocab_size;
  info.pad_id = tok.pad_id;
  info.max_len = opt.max_len;
  std::map<std::string, TaskFeatures> splits;
  std::map<std::string, TaskExamples> examples;
  std::map<std::string, PreparedSplit> report;
  // The splits other than train, in the order they are read.
  const std::vector<std::pair<std::string, std::string>> others = {{"validation", opt.validation}, {"test", opt.test}};
  // Encodes one split's examples across the ranks and records what it holds.
  auto add = [&](const std::string& split, int64_t n, int64_t skipped, const std::string& first,
                 const std::function<TaskFeatures(int64_t, int64_t)>& encode) {
    PreparedSplit& p = report[split];
    p.examples = n;
    p.skipped = skipped;
    p.first_skipped = first;
    p.rows = encode_across_ranks(n, opt.max_len, encode, splits[split], comm);
    info.skipped_rows[split] = skipped;
  };
  if (opt.task == "classification") {
    info.task = "sequence-classification";
    info.text_column = opt.text_column;
    info.text_pair_column = opt.text_pair_column;
    ClassificationReadOptions ro;
    ro.text_column = opt.text_column;
    ro.text_pair_column = opt.text_pair_column;
    ro.label_column = opt.label_column;
    ro.skip_malformed = opt.skip_bad_rows;
    ro.feature_columns = opt.features.columns();
    FeatureSchema schema;
    const TokenCounter count_tokens = [&](const std::string& t) { return int64_t(tok.encode(t).ids.size()); };
    auto feature_rows = [](const ClassificationData& d) {
      std::vector<FeatureRowInput> rows;
      rows.reserve(d.examples.size());
      for (const auto& e : d.examples) rows.push_back({e.text, e.text_pair, e.feature_values, e.feature_missing, e.source});
      return rows;
    };
    auto encode_file = [&](const std::string& split, const ClassificationData& d) {
      add(split, int64_t(d.examples.size()), d.skipped, d.first_skipped, [&](int64_t lo, int64_t hi) {
        return encode_classification(slice(d.examples, lo, hi), tok, opt.max_len);
      });
      if (schema.empty()) return;
      // Every rank computes the (cheap) vectors so that errors are collective; rank 0 keeps them.
      FeatureMatrix m = compute_features(schema, feature_rows(d), count_tokens);
      TaskFeatures& f = splits[split];
      f.dense_feature_dim = m.dense_dim;
      f.categorical_feature_dim = m.categorical_dim;
      if (rank_of(comm) == 0) {
        f.dense_features = std::move(m.dense);
        f.categorical_features = std::move(m.categorical);
      }
    };
    const ClassificationData train = read_classification(opt.train, ro);
    if (!opt.features.empty()) {
      schema = fit_feature_schema(opt.features, feature_rows(train), count_tokens);
      info.feature_schema = schema.to_json();
    }
    info.label_names = train.label_names;
    ro.label_names = train.label_names;
    encode_file("train", train);
    for (const auto& [split, file] : others)
      if (!file.empty()) encode_file(split, read_classification(file, ro));
  } else if (opt.task == "ner") {
    require(opt.features.empty(), "prepare --task ner: auxiliary features (--numeric-features, "
                                  "--categorical-features, --text-features) need --task classification");
    info.task = "token-classification";
    info.label_alignment = opt.label_alignment;
    ConllReadOptions ro;
    ro.skip_malformed = opt.skip_bad_rows;
    auto encode_file = [&](const std::string& split, const TokenClassificationData& d) {
      add(split, int64_t(d.examples.size()), d.skipped, d.first_skipped, [&](int64_t lo, int64_t hi) {
        return encode_token_classification(slice(d.examples, lo, hi), info.label_names, tok, opt.max_len,
                                           opt.label_alignment);
      });
    };
    const TokenClassificationData train = read_conll(opt.train, ro);
    info.label_names = train.label_names;
    ro.label_names = train.label_names;
    encode_file("train", train);
    for (const auto& [split, file] : others)
      if (!file.empty()) encode_file(split, read_conll(file, ro));
  } else if (opt.task == "qa") {
    require(opt.features.empty(), "prepare --task qa: auxiliary features need --task classification");
    info.task = "question-answering";
    QaEncodeOptions qo;
    qo.max_len = opt.max_len;
    qo.doc_stride = opt.doc_stride;
    info.doc_stride = qo.doc_stride;
    info.max_question_len = qo.max_question_len;
    SquadReadOptions ro;
    ro.skip_malformed = opt.skip_bad_rows;
    // Features plus what evaluation needs: ids, questions, contexts and all gold answers.
    auto encode_file = [&](const std::string& split, const std::string& file) {
      const QaData data = read_squad(file, ro);
      TaskExamples& ex = examples[split];
      for (const QaExample& q : data.examples) {
        ex.ids.push_back(q.id);
        ex.questions.push_back(q.question);
        ex.contexts.push_back(q.context);
        std::vector<std::string> answers;
        for (const QaAnswer& a : q.answers) answers.push_back(a.text);
        ex.answers.push_back(std::move(answers));
      }
      add(split, int64_t(data.examples.size()), data.skipped, data.first_skipped,
          [&](int64_t lo, int64_t hi) { return encode_qa(slice(data.examples, lo, hi), tok, qo); });
    };
    encode_file("train", opt.train);
    for (const auto& [split, file] : others)
      if (!file.empty()) encode_file(split, file);
  } else {
    throw Error("prepare: unknown --task '" + opt.task + "' (expected classification, ner or qa)");
  }
  write_task_dataset(opt.output, info, splits, comm, examples);
  return report;
}

}  // namespace tessera
