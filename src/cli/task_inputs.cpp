#include "io/task_dataset.hpp"  // first: see the kIgnoreIndex note there
#include "src/cli/task_inputs.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/checkpoint.hpp"
#include "src/train/adapter_loading.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::string read_all(const std::string& path) {
  require(std::filesystem::is_regular_file(path), path + ": no such file");
  std::ifstream f(path, std::ios::binary);
  require(bool(f), path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// ---------------------------------------------------------------- inputs

std::string input_format(const std::string& format, const std::string& p, HeadKind head) {
  if (format != "auto") return format;
  if (ends_with(p, ".csv")) return "csv";
  if (ends_with(p, ".tsv") || ends_with(p, ".tab")) return "tsv";
  if (ends_with(p, ".jsonl")) return "jsonl";
  if (ends_with(p, ".json")) return head == HeadKind::QuestionAnswering ? "squad" : "jsonl";
  if (head == HeadKind::TokenClassification) return "conll";
  throw Error(p + ": cannot tell the input format from the extension (use --format csv|tsv|jsonl|conll|squad)");
}

// Text (and pair) columns of CSV / TSV / JSONL records; errors name file:line.
// Calls fn(object, "file:line") for every non-blank line of a JSONL text; a line that
// is not a JSON object is an error naming file:line.
namespace {

template <class Fn>
void for_each_jsonl_object(const std::string& text, const std::string& path, Fn&& fn) {
  std::istringstream in(text);
  std::string ln;
  int64_t line = 0;
  while (std::getline(in, ln)) {
    ++line;
    if (!ln.empty() && ln.back() == '\r') ln.pop_back();
    if (ln.find_first_not_of(" \t") == std::string::npos) continue;
    const std::string at = path + ":" + std::to_string(line);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(ln);
    } catch (const std::exception& e) {
      throw Error(at + ": invalid JSON: " + e.what());
    }
    require(j.is_object(), at + ": expected a JSON object");
    fn(j, at);
  }
}

// The string value of key, or an error naming file:line and the key.
std::string json_string(const nlohmann::json& j, const std::string& key, const std::string& at) {
  auto it = j.find(key);
  require(it != j.end(), at + ": missing key '" + key + "'");
  require(it->is_string(), at + ": key '" + key + "' must be a string");
  return it->get<std::string>();
}

}  // namespace

std::vector<InputRow> read_text_records(const std::string& path, const std::string& format, const std::string& col,
                                        const std::string& pair_col, const std::vector<std::string>& feature_columns) {
  const std::string text = read_all(path);
  std::vector<InputRow> rows;
  if (format == "jsonl") {
    for_each_jsonl_object(text, path, [&](const nlohmann::json& j, const std::string& at) {
      InputRow r;
      r.text = json_string(j, col, at);
      if (!pair_col.empty()) r.pair = json_string(j, pair_col, at);
      for (const std::string& c : feature_columns) {
        auto it = j.find(c);
        require(it != j.end(), at + ": missing feature column '" + c +
                                   "' (the model reads it; write null for a missing value)");
        std::string v;
        if (it->is_string()) v = it->get<std::string>();
        else if (it->is_number() || it->is_boolean()) v = it->dump();
        else require(it->is_null(), at + ": feature column '" + c + "' must be a string, a number, a boolean or null");
        r.feature_values.push_back(std::move(v));
        r.feature_missing.push_back(it->is_null() ? 1 : 0);
      }
      r.source = at;
      rows.push_back(std::move(r));
    });
  } else {
    const auto recs = parse_delimited(text, format == "csv" ? ',' : '\t', path);
    require(!recs.empty(), path + ": file is empty");
    const auto& header = recs[0].fields;
    auto column = [&](const std::string& name) {
      auto it = std::find(header.begin(), header.end(), name);
      if (it == header.end()) {
        std::string have;
        for (const auto& h : header) have += (have.empty() ? "" : ", ") + h;
        throw Error(path + ":" + std::to_string(recs[0].line) + ": header has no column '" + name + "' (have: " +
                    have + ")");
      }
      return size_t(it - header.begin());
    };
    const size_t ct = column(col), cp = pair_col.empty() ? 0 : column(pair_col);
    std::vector<size_t> cf;
    for (const std::string& c : feature_columns) {
      require(std::find(header.begin(), header.end(), c) != header.end(),
              path + ":" + std::to_string(recs[0].line) + ": header has no feature column '" + c +
                  "' (the model reads it)");
      cf.push_back(column(c));
    }
    for (size_t k = 1; k < recs.size(); ++k) {
      const auto& rec = recs[k];
      require(rec.fields.size() == header.size(), path + ":" + std::to_string(rec.line) + ": expected " +
                                                      std::to_string(header.size()) + " fields, found " +
                                                      std::to_string(rec.fields.size()));
      InputRow r;
      r.text = rec.fields[ct];
      if (!pair_col.empty()) r.pair = rec.fields[cp];
      for (size_t c : cf) {
        r.feature_values.push_back(rec.fields[c]);
        r.feature_missing.push_back(rec.fields[c].find_first_not_of(" \t") == std::string::npos ? 1 : 0);
      }
      r.source = path + ":" + std::to_string(rec.line);
      rows.push_back(std::move(r));
    }
  }
  return rows;
}

// CoNLL: the first column of each line is a word; blank lines end sentences;
// -DOCSTART- lines are skipped. A sentence's text is its words joined by spaces.
std::vector<InputRow> read_conll_words(const std::string& path) {
  const std::string text = read_all(path);
  std::vector<InputRow> rows;
  std::istringstream in(text);
  std::string ln, sentence;
  auto flush = [&] {
    if (sentence.empty()) return;
    InputRow r;
    r.text = std::move(sentence);
    r.from_conll = true;
    rows.push_back(std::move(r));
    sentence.clear();
  };
  while (std::getline(in, ln)) {
    std::istringstream fields(ln);
    std::string word;
    if (!(fields >> word)) {
      flush();
      continue;
    }
    if (word == "-DOCSTART-") continue;
    sentence += (sentence.empty() ? "" : " ") + word;
  }
  flush();
  return rows;
}

// QA: SQuAD JSON (answers optional) or JSONL {"id", "question", "context"}.
std::vector<InputRow> read_questions(const std::string& path, const std::string& format) {
  std::vector<InputRow> rows;
  if (format == "squad") {
    read_all(path);  // a clear error for a missing file
    SquadReadOptions so;
    so.allow_no_answer = true;
    for (QaExample& q : read_squad(path, so).examples) {
      InputRow r;
      r.qa = std::move(q);
      rows.push_back(std::move(r));
    }
    return rows;
  }
  if (format == "csv" || format == "tsv") {  // question and context columns
    for (InputRow& t : read_text_records(path, format, "question", "context")) {
      InputRow r;
      r.qa.id = std::to_string(rows.size());
      r.qa.question = std::move(t.text);
      r.qa.context = std::move(t.pair);
      rows.push_back(std::move(r));
    }
    return rows;
  }
  require(format == "jsonl", path + ": question answering reads SQuAD .json, .jsonl or .csv/.tsv (question, context columns), not " + format);
  const std::string text = read_all(path);
  for_each_jsonl_object(text, path, [&](const nlohmann::json& j, const std::string& at) {
    InputRow r;
    r.qa.id = j.contains("id") ? (j["id"].is_string() ? j["id"].get<std::string>() : j["id"].dump())
                               : std::to_string(rows.size());
    r.qa.question = json_string(j, "question", at);
    r.qa.context = json_string(j, "context", at);
    rows.push_back(std::move(r));
  });
  return rows;
}

// ---------------------------------------------------------------- model

FeatureSchema checkpoint_feature_schema(const TransformerConfig& mc, const std::string& checkpoint,
                                        const TaskDatasetInfo& info, const std::string& data_path, MPI_Comm comm) {
  const std::string stored = read_checkpoint_state(checkpoint, comm).feature_schema;
  FeatureSchema schema = stored.empty() ? FeatureSchema::from_json(info.feature_schema, data_path + ": /@feature_schema")
                                        : FeatureSchema::from_json(stored, checkpoint + ": /run/feature_schema");
  require(schema.dense_dim() == mc.features.dense_dim && schema.categorical_dim() == mc.features.categorical_dim(),
          checkpoint + ": the feature schema it was trained with has other widths than dataset '" + data_path + "'s");
  return schema;
}

void require_dataset_feature_schema(const TaskDataset& data, const std::string& checkpoint, MPI_Comm comm,
                                    const std::string& what) {
  const std::string stored = read_checkpoint_state(checkpoint, comm).feature_schema;
  if (stored.empty()) return;
  const std::string diff =
      feature_schema_difference(FeatureSchema::from_json(data.info().feature_schema, data.path() + ": /@feature_schema"),
                                FeatureSchema::from_json(stored, checkpoint + ": /run/feature_schema"));
  require(diff.empty(), what + ": dataset '" + data.path() + "' holds feature vectors of another feature schema than "
                        "checkpoint '" + checkpoint + "' was trained with (" + diff + ", dataset vs checkpoint); "
                        "prepare the dataset with the training split the checkpoint saw, or score a file with "
                        "tessera predict (it uses the checkpoint's schema)");
}

FeatureMatrix input_feature_matrix(const FeatureSchema& schema, const std::vector<InputRow>& rows,
                                   const TaskTokenizer& tok) {
  std::vector<FeatureRowInput> in;
  for (const InputRow& r : rows) in.push_back({r.text, r.pair, r.feature_values, r.feature_missing, r.source});
  return compute_features(schema, in, [&](const std::string& t) { return int64_t(tok.encode(t).ids.size()); });
}

std::string checkpoint_for(const std::string& checkpoint, const RunConfig& cfg) {
  if (!checkpoint.empty()) {
    require(std::filesystem::is_regular_file(checkpoint), checkpoint + ": no such file");
    return checkpoint;
  }
  const std::string dir =
      cfg.checkpoint.dir.empty() ? (std::filesystem::path(cfg.run.dir) / "checkpoints").string() : cfg.checkpoint.dir;
  std::string latest = find_latest_checkpoint(dir);
  if (latest.empty()) latest = adapter_base_checkpoint(cfg);  // model.adapter on model.init_from
  require(!latest.empty(), "predict: no --checkpoint given and none found in '" + dir + "'" +
                               (cfg.model.adapter.empty() ? "" : " (and no model.init_from for model.adapter's base model)"));
  return latest;
}


}  // namespace tessera
