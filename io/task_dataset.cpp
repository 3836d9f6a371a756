#include "io/task_dataset.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/auxiliary_features.hpp"
#include "io/hdf5_file.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

namespace {

bool is_qa(const std::string& task) { return task == "question-answering"; }
bool is_token(const std::string& task) { return task == "token-classification"; }

void check_task(const std::string& where, const std::string& task) {
  if (task != "sequence-classification" && task != "token-classification" && task != "question-answering")
    throw Error(where + ": unknown task '" + task +
                "' (sequence-classification, token-classification, question-answering)");
}

void write_string_array_attr(const h5::File& f, const std::string& name, const std::vector<std::string>& v) {
  const std::string obj = "/@" + name;
  h5::Handle root = f.open_group("/");
  hsize_t n = v.size();
  h5::Handle space = h5::checked(H5Screate_simple(1, &n, nullptr), H5Sclose, f.path(), obj, "cannot create dataspace");
  h5::Handle type = h5::checked(H5Tcopy(H5T_C_S1), H5Tclose, f.path(), obj, "cannot create string type");
  h5::check(H5Tset_size(type, H5T_VARIABLE), f.path(), obj, "cannot set string size");
  h5::check(H5Tset_cset(type, H5T_CSET_UTF8), f.path(), obj, "cannot set charset");
  h5::Handle a = h5::checked(H5Acreate2(root, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
                             f.path(), obj, "cannot create attribute");
  std::vector<const char*> ptrs;
  for (const auto& s : v) ptrs.push_back(s.c_str());
  const char* dummy = "";
  h5::check(H5Awrite(a, type, ptrs.empty() ? &dummy : ptrs.data()), f.path(), obj, "cannot write attribute");
}

std::vector<std::string> read_string_array_attr(const h5::File& f, const std::string& name) {
  const std::string obj = "/@" + name;
  h5::Handle root = f.open_group("/");
  h5::Handle a = h5::checked(H5Aopen(root, name.c_str(), H5P_DEFAULT), H5Aclose, f.path(), obj, "cannot open attribute");
  h5::Handle space = h5::checked(H5Aget_space(a), H5Sclose, f.path(), obj, "cannot read dataspace");
  h5::Handle ftype = h5::checked(H5Aget_type(a), H5Tclose, f.path(), obj, "cannot read type");
  if (H5Tget_class(ftype) != H5T_STRING || H5Tis_variable_str(ftype) <= 0)
    f.fail(obj, "must be a variable-length string array");
  hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 0) f.fail(obj, "bad dataspace");
  std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
  std::vector<std::string> out;
  if (n == 0) return out;
  h5::Handle type = h5::checked(H5Tcopy(H5T_C_S1), H5Tclose, f.path(), obj, "cannot create string type");
  h5::check(H5Tset_size(type, H5T_VARIABLE), f.path(), obj, "cannot set string size");
  h5::check(H5Tset_cset(type, H5Tget_cset(ftype)), f.path(), obj, "cannot set charset");
  h5::check(H5Aread(a, type, ptrs.data()), f.path(), obj, "cannot read attribute");
  for (char* p : ptrs) out.emplace_back(p ? p : "");
  H5Dvlen_reclaim(type, space, H5P_DEFAULT, ptrs.data());
  return out;
}

struct Col {
  const char* name;
  bool i64;
  int rank;  // 1: [n], 2: [n, max_len], 3: [n, max_len, 2]
};

std::vector<Col> columns(const std::string& task) {
  std::vector<Col> c = {{"input_ids", false, 2}, {"attention_mask", false, 2}, {"token_type_ids", false, 2},
                        {"example_index", true, 1}};
  if (is_qa(task)) {
    c.push_back({"start_positions", false, 1});
    c.push_back({"end_positions", false, 1});
    c.push_back({"offsets", true, 3});
  } else {
    c.push_back({"labels", false, is_token(task) ? 2 : 1});
  }
  return c;
}

std::vector<int32_t>* i32_col(TaskFeatures& f, const std::string& n) {
  if (n == "input_ids") return &f.input_ids;
  if (n == "attention_mask") return &f.attention_mask;
  if (n == "token_type_ids") return &f.token_type_ids;
  if (n == "labels") return &f.labels;
  if (n == "start_positions") return &f.start_positions;
  if (n == "end_positions") return &f.end_positions;
  return nullptr;
}
std::vector<int64_t>* i64_col(TaskFeatures& f, const std::string& n) {
  if (n == "example_index") return &f.example_index;
  if (n == "offsets") return &f.offsets;
  return nullptr;
}

std::vector<int64_t> shape_of(const Col& c, int64_t n, int64_t L) {
  if (c.rank == 1) return {n};
  if (c.rank == 2) return {n, L};
  return {n, L, 2};
}

// One JSON object per line: {"id", "question", "context", "answers": [text, ...]}.
std::string examples_jsonl(const std::string& where, const TaskExamples& ex) {
  const size_t n = ex.size();
  require(ex.questions.size() == n && ex.contexts.size() == n && ex.answers.size() == n,
          where + ": examples have " + std::to_string(n) + " ids but " + std::to_string(ex.questions.size()) +
              " questions, " + std::to_string(ex.contexts.size()) + " contexts, " +
              std::to_string(ex.answers.size()) + " answer lists");
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    nlohmann::json j = {{"id", ex.ids[i]}, {"question", ex.questions[i]}, {"context", ex.contexts[i]},
                        {"answers", ex.answers[i]}};
    try {
      out += j.dump(-1, ' ', /*ensure_ascii=*/true);  // ASCII, as the string type says
    } catch (const std::exception& e) {
      throw Error(where + ": example " + std::to_string(i) + " ('" + ex.ids[i] + "'): " + e.what());
    }
    out += '\n';
  }
  return out;
}

TaskExamples parse_examples_jsonl(const std::string& where, const std::string& text) {
  TaskExamples ex;
  std::istringstream in(text);
  std::string ln;
  int64_t line = 0;
  while (std::getline(in, ln)) {
    ++line;
    const std::string at = where + ": line " + std::to_string(line);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(ln);
    } catch (const std::exception& e) {
      throw Error(at + ": invalid JSON: " + e.what());
    }
    auto str = [&](const char* key) {
      auto it = j.find(key);
      require(j.is_object() && it != j.end() && it->is_string(), at + ": missing string '" + key + "'");
      return it->get<std::string>();
    };
    ex.ids.push_back(str("id"));
    ex.questions.push_back(str("question"));
    ex.contexts.push_back(str("context"));
    auto a = j.find("answers");
    require(a != j.end() && a->is_array(), at + ": missing array 'answers'");
    std::vector<std::string> answers;
    for (const auto& t : *a) {
      require(t.is_string(), at + ": 'answers' must hold strings");
      answers.push_back(t.get<std::string>());
    }
    ex.answers.push_back(std::move(answers));
  }
  return ex;
}

void broadcast_string(std::string& s, MPI_Comm comm) {
  if (comm == MPI_COMM_NULL) return;
  int64_t n = static_cast<int64_t>(s.size());
  MPI_Bcast(&n, 1, MPI_INT64_T, 0, comm);
  s.resize(static_cast<size_t>(n));
  for (int64_t off = 0; off < n; off += (1 << 30)) {
    const int chunk = static_cast<int>(std::min<int64_t>(n - off, 1 << 30));
    MPI_Bcast(s.data() + off, chunk, MPI_CHAR, 0, comm);
  }
}

}  // namespace

HeadKind task_head_kind(const std::string& task) {
  check_task("task", task);
  if (is_qa(task)) return HeadKind::QuestionAnswering;
  return is_token(task) ? HeadKind::TokenClassification : HeadKind::SequenceClassification;
}

bool is_task_dataset(const std::string& path) {
  try {
    h5::File f = h5::File::open_read(path, MPI_COMM_NULL);
    return f.has_attr("/", "format") && f.read_attr_string("/", "format") == kTaskFormat;
  } catch (const std::exception&) {
    return false;
  }
}

void validate_task_features(const std::string& where, const TaskDatasetInfo& info, const TaskFeatures& f) {
  const int64_t L = info.max_len;
  require(f.max_len == L, where + ": features have max_len " + std::to_string(f.max_len) + ", dataset " + std::to_string(L));
  const int64_t n = f.size();
  require(n > 0, where + ": no rows");
  auto size_is = [&](const char* name, size_t got, int64_t want) {
    require(static_cast<int64_t>(got) == want, where + "/" + name + ": has " + std::to_string(got) +
                                                   " elements, expected " + std::to_string(want));
  };
  size_is("input_ids", f.input_ids.size(), n * L);
  size_is("attention_mask", f.attention_mask.size(), n * L);
  size_is("token_type_ids", f.token_type_ids.size(), n * L);
  size_is("example_index", f.example_index.size(), n);
  auto at = [&](const char* name, int64_t i) {
    return where + "/" + name + ": row " + std::to_string(i / L) + ", position " + std::to_string(i % L);
  };
  for (int64_t i = 0; i < n * L; ++i) {
    const int32_t id = f.input_ids[static_cast<size_t>(i)];
    require(id >= 0 && id < info.vocab_size, at("input_ids", i) + ": id " + std::to_string(id) +
                                                 " outside [0, " + std::to_string(info.vocab_size) + ")");
    const int32_t m = f.attention_mask[static_cast<size_t>(i)];
    require(m == 0 || m == 1, at("attention_mask", i) + ": value " + std::to_string(m) + " is not 0 or 1");
    const int32_t t = f.token_type_ids[static_cast<size_t>(i)];
    require(t == 0 || t == 1, at("token_type_ids", i) + ": value " + std::to_string(t) + " is not 0 or 1");
  }
  if (!info.feature_schema.empty()) {
    const FeatureSchema fs = FeatureSchema::from_json(info.feature_schema, where);
    require(f.dense_feature_dim == fs.dense_dim() && f.categorical_feature_dim == fs.categorical_dim(),
            where + ": features have widths (" + std::to_string(f.dense_feature_dim) + ", " +
                std::to_string(f.categorical_feature_dim) + "), the feature schema (" + std::to_string(fs.dense_dim()) +
                ", " + std::to_string(fs.categorical_dim()) + ")");
    size_is("dense_features", f.dense_features.size(), n * fs.dense_dim());
    size_is("categorical_features", f.categorical_features.size(), n * fs.categorical_dim());
    for (size_t i = 0; i < f.dense_features.size(); ++i)
      require(std::isfinite(f.dense_features[i]), where + "/dense_features: element " + std::to_string(i) + " is not finite");
    for (size_t i = 0; i < f.categorical_features.size(); ++i) {
      const int64_t card = fs.categorical[i % size_t(fs.categorical_dim())].cardinality();
      require(f.categorical_features[i] >= 0 && f.categorical_features[i] < card,
              where + "/categorical_features: row " + std::to_string(i / size_t(fs.categorical_dim())) + ": index " +
                  std::to_string(f.categorical_features[i]) + " outside [0, " + std::to_string(card) + ")");
    }
  }
  const int64_t nl = static_cast<int64_t>(info.label_names.size());
  if (is_qa(info.task)) {
    size_is("start_positions", f.start_positions.size(), n);
    size_is("end_positions", f.end_positions.size(), n);
    size_is("offsets", f.offsets.size(), n * L * 2);
    for (int64_t r = 0; r < n; ++r) {
      const int32_t s = f.start_positions[static_cast<size_t>(r)], e = f.end_positions[static_cast<size_t>(r)];
      require(s >= 0 && s < L && e >= s && e < L, where + ": row " + std::to_string(r) + ": answer positions (" +
                                                      std::to_string(s) + ", " + std::to_string(e) +
                                                      ") outside [0, max_len) or reversed");
    }
  } else {
    const bool tokl = is_token(info.task);
    require(nl > 0, where + ": no label names");
    size_is("labels", f.labels.size(), tokl ? n * L : n);
    for (size_t i = 0; i < f.labels.size(); ++i) {
      const int32_t l = f.labels[i];
      require((l >= 0 && l < nl) || (tokl && l == kIgnoreIndex),
              where + "/labels: element " + std::to_string(i) + ": label " + std::to_string(l) + " outside [0, " +
                  std::to_string(nl) + ")" + (tokl ? " and not -100" : ""));
    }
  }
}

void write_task_dataset(const std::string& path, const TaskDatasetInfo& info,
                        const std::map<std::string, TaskFeatures>& splits, MPI_Comm comm,
                        const std::map<std::string, TaskExamples>& examples) {
  const bool writer = h5::comm_rank(comm) == 0;
  check_task(path, info.task);
  require(info.vocab_size > 0, path + ": vocab_size must be positive");
  require(info.max_len > 0, path + ": max_len must be positive");
  require(info.pad_id >= 0 && info.pad_id < info.vocab_size, path + ": pad_id outside [0, vocab_size)");
  require(!splits.empty(), path + ": no splits to write");
  std::vector<int64_t> rows;
  for (const auto& [name, f] : splits) {
    require(!name.empty() && name.find('/') == std::string::npos, path + ": bad split name '" + name + "'");
    if (writer) validate_task_features(path + ": /" + name, info, f);
    rows.push_back(f.size());
  }
  if (comm != MPI_COMM_NULL) MPI_Bcast(rows.data(), static_cast<int>(rows.size()), MPI_INT64_T, 0, comm);
  std::map<std::string, std::string> examples_text;  // per split, identical on every rank
  for (const auto& [name, f] : splits) {
    auto it = examples.find(name);
    int has = writer && it != examples.end() ? 1 : 0;
    if (comm != MPI_COMM_NULL) MPI_Bcast(&has, 1, MPI_INT, 0, comm);
    if (!has) continue;
    std::string text;
    if (writer) {
      const std::string where = path + ": /" + name + "/examples";
      text = examples_jsonl(where, it->second);
      int64_t need = 0;
      for (int64_t e : f.example_index) need = std::max(need, e + 1);
      require(static_cast<int64_t>(it->second.size()) >= need,
              where + ": " + std::to_string(it->second.size()) + " examples but the features refer to example " +
                  std::to_string(need - 1));
    }
    broadcast_string(text, comm);
    examples_text[name] = std::move(text);
  }

  // Written as PATH.tmp and renamed when complete: a failure (full disk) leaves no partial PATH.
  const std::string tmp_path = path + ".tmp";
  try {
    h5::File f = h5::File::create(tmp_path, comm);
    f.write_attr_string("/", "format", kTaskFormat);
    f.write_attr_i64("/", "format_version", kTaskFormatVersion);
    f.write_attr_string("/", "task", info.task);
    f.write_attr_string("/", "tokenizer", info.tokenizer);
    f.write_attr_i64("/", "vocab_size", info.vocab_size);
    f.write_attr_i64("/", "pad_id", info.pad_id);
    f.write_attr_i64("/", "max_len", info.max_len);
    write_string_array_attr(f, "label_names", info.label_names);
    if (!info.tokenizer_files.empty()) write_string_array_attr(f, "tokenizer_files", info.tokenizer_files);
    if (info.doc_stride > 0) f.write_attr_i64("/", "doc_stride", info.doc_stride);
    if (info.max_question_len > 0) f.write_attr_i64("/", "max_question_len", info.max_question_len);
    if (!info.label_alignment.empty()) f.write_attr_string("/", "label_alignment", info.label_alignment);
    if (!info.text_column.empty()) f.write_attr_string("/", "text_column", info.text_column);
    if (!info.text_pair_column.empty()) f.write_attr_string("/", "text_pair_column", info.text_pair_column);
    if (!info.feature_schema.empty()) f.write_attr_string("/", "feature_schema", info.feature_schema);
    size_t k = 0;
    for (const auto& [name, feats] : splits) {
      const int64_t n = rows[k++];
      const std::string g = "/" + name;
      f.create_group(g);
      auto skipped = info.skipped_rows.find(name);
      if (skipped != info.skipped_rows.end()) f.write_attr_i64(g, "skipped_rows", skipped->second);
      TaskFeatures& mf = const_cast<TaskFeatures&>(feats);  // only read through the column getters
      for (const Col& c : columns(info.task)) {
        const std::string obj = g + "/" + c.name;
        auto shape = shape_of(c, n, info.max_len);
        std::vector<int64_t> start(shape.size(), 0);
        h5::Handle d = f.create_dataset(obj, c.i64 ? H5T_STD_I64LE : H5T_STD_I32LE, shape);
        const void* buf = c.i64 ? static_cast<const void*>(i64_col(mf, c.name)->data())
                                : static_cast<const void*>(i32_col(mf, c.name)->data());
        h5::write_box(f, d, obj, c.i64 ? H5T_NATIVE_INT64 : H5T_NATIVE_INT32, start, shape, buf, writer, true);
      }
      if (mf.dense_feature_dim > 0) {
        const std::vector<int64_t> shape = {n, mf.dense_feature_dim}, start = {0, 0};
        h5::Handle d = f.create_dataset(g + "/dense_features", H5T_IEEE_F32LE, shape);
        h5::write_box(f, d, g + "/dense_features", H5T_NATIVE_FLOAT, start, shape, mf.dense_features.data(), writer, true);
      }
      if (mf.categorical_feature_dim > 0) {
        const std::vector<int64_t> shape = {n, mf.categorical_feature_dim}, start = {0, 0};
        h5::Handle d = f.create_dataset(g + "/categorical_features", H5T_STD_I32LE, shape);
        h5::write_box(f, d, g + "/categorical_features", H5T_NATIVE_INT32, start, shape,
                      mf.categorical_features.data(), writer, true);
      }
      auto ex = examples_text.find(name);
      if (ex != examples_text.end()) f.write_string_dataset(g + "/examples", ex->second);
    }
    f.flush();
    f.close();
  } catch (...) {
    h5::remove_partial(tmp_path, comm);
    throw;
  }
  h5::commit_file(tmp_path, path, comm);
}

TaskDataset::TaskDataset(const std::string& path, MPI_Comm comm) : path_(path) {
  file_ = std::make_unique<h5::File>(h5::File::open_read(path, comm));
  h5::File& f = *file_;
  if (!f.has_attr("/", "format")) f.fail("/", "missing attribute 'format' (not a Tessera task dataset)");
  std::string fmt = f.read_attr_string("/", "format");
  if (fmt != kTaskFormat) f.fail("/@format", "is '" + fmt + "', expected '" + kTaskFormat + "'");
  int64_t version = f.read_attr_i64("/", "format_version");
  if (version < 1 || version > kTaskFormatVersion) f.fail("/@format_version", "unsupported version " + std::to_string(version));
  for (const char* a : {"task", "tokenizer", "vocab_size", "pad_id", "max_len", "label_names"})
    if (!f.has_attr("/", a)) f.fail("/", std::string("missing attribute '") + a + "'");
  info_.task = f.read_attr_string("/", "task");
  check_task(path + ": /@task", info_.task);
  info_.tokenizer = f.read_attr_string("/", "tokenizer");
  info_.vocab_size = f.read_attr_i64("/", "vocab_size");
  if (info_.vocab_size <= 0) f.fail("/@vocab_size", "must be positive");
  int64_t pad = f.read_attr_i64("/", "pad_id");
  if (pad < 0 || pad >= info_.vocab_size) f.fail("/@pad_id", std::to_string(pad) + " is outside [0, vocab_size)");
  info_.pad_id = static_cast<int32_t>(pad);
  info_.max_len = f.read_attr_i64("/", "max_len");
  if (info_.max_len <= 0) f.fail("/@max_len", "must be positive");
  info_.label_names = read_string_array_attr(f, "label_names");
  if (!is_qa(info_.task) && info_.label_names.empty()) f.fail("/@label_names", "is empty");
  if (f.has_attr("/", "tokenizer_files")) info_.tokenizer_files = read_string_array_attr(f, "tokenizer_files");
  if (f.has_attr("/", "doc_stride")) info_.doc_stride = f.read_attr_i64("/", "doc_stride");
  if (f.has_attr("/", "max_question_len")) info_.max_question_len = f.read_attr_i64("/", "max_question_len");
  if (f.has_attr("/", "label_alignment")) info_.label_alignment = f.read_attr_string("/", "label_alignment");
  if (f.has_attr("/", "text_column")) info_.text_column = f.read_attr_string("/", "text_column");
  if (f.has_attr("/", "text_pair_column")) info_.text_pair_column = f.read_attr_string("/", "text_pair_column");
  if (f.has_attr("/", "feature_schema")) {
    info_.feature_schema = f.read_attr_string("/", "feature_schema");
    FeatureSchema::from_json(info_.feature_schema, path + ": /@feature_schema");
  }

  std::vector<std::string> names;
  for (const std::string& name : f.list("/")) {
    const std::string g = "/" + name;
    if (!f.is_group(g)) continue;
    int64_t n = -1;
    for (const Col& c : columns(info_.task)) {
      const std::string obj = g + "/" + c.name;
      if (!f.is_dataset(obj)) f.fail(g, std::string("split group has no '") + c.name + "' dataset");
      h5::Handle d = f.open_dataset(obj);
      h5::Handle t = h5::checked(H5Dget_type(d), H5Tclose, path, obj, "cannot read type");
      if (H5Tget_class(t) != H5T_INTEGER) f.fail(obj, "has type " + h5::type_name(t) + ", expected an integer");
      auto shape = f.dataset_shape(obj);
      if (n < 0 && !shape.empty()) n = shape[0];
      auto want = shape_of(c, n, info_.max_len);
      if (shape != want) {
        std::string s;
        for (auto x : shape) s += (s.empty() ? "" : ", ") + std::to_string(x);
        std::string w;
        for (auto x : want) w += (w.empty() ? "" : ", ") + std::to_string(x);
        f.fail(obj, "has shape [" + s + "], expected [" + w + "]");
      }
    }
    rows_[name] = n;
    names.push_back(name);
    if (f.has_attr(g, "skipped_rows")) info_.skipped_rows[name] = f.read_attr_i64(g, "skipped_rows");
  }
  if (names.empty()) f.fail("/", "no splits (expected groups such as /train)");
  info_.splits = h5::ordered_splits(names);
}

TaskDataset::~TaskDataset() = default;
TaskDataset::TaskDataset(TaskDataset&&) noexcept = default;
TaskDataset& TaskDataset::operator=(TaskDataset&&) noexcept = default;

bool TaskDataset::has_split(const std::string& s) const { return rows_.count(s) != 0; }

int64_t TaskDataset::num_rows(const std::string& s) const {
  auto it = rows_.find(s);
  if (it == rows_.end()) throw Error(path_ + ": /" + s + ": no such split");
  return it->second;
}

TaskFeatures TaskDataset::read_split(const std::string& s) const {
  const int64_t n = num_rows(s);
  TaskFeatures out;
  out.max_len = info_.max_len;
  for (const Col& c : columns(info_.task)) {
    const std::string obj = "/" + s + "/" + c.name;
    auto shape = shape_of(c, n, info_.max_len);
    int64_t count = 1;
    for (auto x : shape) count *= x;
    std::vector<int64_t> start(shape.size(), 0);
    h5::Handle d = file_->open_dataset(obj);
    h5::note_if_unverified(*file_, d);
    void* buf;
    if (c.i64) {
      auto* v = i64_col(out, c.name);
      v->resize(static_cast<size_t>(count));
      buf = v->data();
    } else {
      auto* v = i32_col(out, c.name);
      v->resize(static_cast<size_t>(count));
      buf = v->data();
    }
    h5::read_box(*file_, d, obj, c.i64 ? H5T_NATIVE_INT64 : H5T_NATIVE_INT32, start, shape, buf, true, false);
  }
  if (!info_.feature_schema.empty()) {
    const FeatureSchema fs = FeatureSchema::from_json(info_.feature_schema, path_ + ": /@feature_schema");
    auto read_matrix = [&](const std::string& name, int64_t dim, hid_t memtype, void* buf) {
      const std::string obj = "/" + s + "/" + name;
      if (!file_->is_dataset(obj)) file_->fail(obj, "missing (the dataset has a feature schema)");
      const std::vector<int64_t> shape = {n, dim}, start = {0, 0};
      if (file_->dataset_shape(obj) != shape)
        file_->fail(obj, "has the wrong shape, expected [" + std::to_string(n) + ", " + std::to_string(dim) + "]");
      h5::Handle d = file_->open_dataset(obj);
      h5::read_box(*file_, d, obj, memtype, start, shape, buf, true, false);
    };
    out.dense_feature_dim = fs.dense_dim();
    out.categorical_feature_dim = fs.categorical_dim();
    out.dense_features.resize(size_t(n * fs.dense_dim()));
    out.categorical_features.resize(size_t(n * fs.categorical_dim()));
    if (fs.dense_dim() > 0) read_matrix("dense_features", fs.dense_dim(), H5T_NATIVE_FLOAT, out.dense_features.data());
    if (fs.categorical_dim() > 0)
      read_matrix("categorical_features", fs.categorical_dim(), H5T_NATIVE_INT32, out.categorical_features.data());
  }
  validate_task_features(path_ + ": /" + s, info_, out);
  return out;
}

bool TaskDataset::has_examples(const std::string& s) const {
  num_rows(s);
  return file_->is_dataset("/" + s + "/examples");
}

TaskExamples TaskDataset::read_examples(const std::string& s) const {
  const int64_t n = num_rows(s);
  const std::string obj = "/" + s + "/examples";
  if (!file_->is_dataset(obj))
    file_->fail(obj, "missing (the dataset was prepared by an older tessera; run `tessera prepare --task` again)");
  TaskExamples ex = parse_examples_jsonl(path_ + ": " + obj, file_->read_string_dataset(obj));
  const TaskFeatures f = read_split(s);
  for (int64_t r = 0; r < n; ++r) {
    const int64_t e = f.example_index[static_cast<size_t>(r)];
    if (e < 0 || e >= static_cast<int64_t>(ex.size()))
      file_->fail(obj, "row " + std::to_string(r) + " refers to example " + std::to_string(e) + " but there are " +
                           std::to_string(ex.size()) + " examples");
  }
  return ex;
}

}  // namespace tessera
