#include "io/task_readers.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "io/gguf.hpp"
#include "src/runtime/error.hpp"
#include "src/tokenizer/bpe_tokenizer.hpp"
#include "src/tokenizer/gguf_tokenizer.hpp"
#include "src/tokenizer/wordpiece_tokenizer.hpp"

namespace tessera {

namespace {

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open file");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  if (s.find_first_not_of(" \t\r\n") == std::string::npos) throw Error(path + ": file is empty");
  return s;
}

std::string where(const std::string& file, int64_t line) { return file + ":" + std::to_string(line); }

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

bool is_integer(const std::string& s) {
  if (s.empty()) return false;
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i == s.size() || s.size() > 18) return false;
  for (; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

std::vector<std::string> sorted_labels(const std::set<std::string>& seen) {
  std::vector<std::string> v(seen.begin(), seen.end());
  bool all_int = std::all_of(v.begin(), v.end(), is_integer);
  if (all_int)
    std::sort(v.begin(), v.end(), [](const std::string& a, const std::string& b) { return std::stoll(a) < std::stoll(b); });
  return v;
}

std::map<std::string, int32_t> index_of(const std::vector<std::string>& names) {
  std::map<std::string, int32_t> m;
  for (size_t i = 0; i < names.size(); ++i) m.emplace(names[i], static_cast<int32_t>(i));
  return m;
}

// A malformed row: thrown unless skipping.
struct Malformed {
  std::string msg;
};

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

// Counts a skipped row, keeping the first one's description.
void note_skip(int64_t& skipped, std::string& first, const std::string& what) {
  if (skipped == 0) first = what;
  ++skipped;
}

// At least one example: else an Error naming the file (and, when rows were skipped,
// that every one was malformed and the first reason).
void require_some(size_t n, const std::string& path, const char* none, int64_t skipped, const std::string& first) {
  if (n > 0) return;
  if (skipped > 0)
    throw Error(path + ": every row is malformed (" + std::to_string(skipped) + " skipped; first: " + first + ")");
  throw Error(path + ": " + none);
}

}  // namespace

// ---------------------------------------------------------------- CSV / TSV

std::vector<DelimitedRecord> parse_delimited(std::string_view t, char delim, const std::string& file) {
  std::vector<DelimitedRecord> out;
  size_t i = 0;
  int64_t line = 1;
  const size_t n = t.size();
  while (i < n) {
    // blank line?
    if (t[i] == '\n') { ++line; ++i; continue; }
    if (t[i] == '\r' && i + 1 < n && t[i + 1] == '\n') { ++line; i += 2; continue; }
    DelimitedRecord rec;
    rec.line = line;
    while (true) {
      std::string field;
      if (i < n && t[i] == '"') {
        const int64_t qline = line;
        ++i;
        while (true) {
          if (i >= n) throw Error(where(file, qline) + ": unterminated quoted field");
          char c = t[i];
          if (c == '"') {
            if (i + 1 < n && t[i + 1] == '"') { field += '"'; i += 2; continue; }
            ++i;
            break;
          }
          if (c == '\n') ++line;
          field += c;
          ++i;
        }
        if (i < n && t[i] != delim && t[i] != '\n' && !(t[i] == '\r' && i + 1 < n && t[i + 1] == '\n') &&
            !(t[i] == '\r' && i + 1 == n))
          throw Error(where(file, line) + ": unexpected character after closing quote (use \"\" for a quote inside a quoted field)");
      } else {
        while (i < n && t[i] != delim && t[i] != '\n') {
          if (t[i] == '\r' && (i + 1 == n || t[i + 1] == '\n')) { ++i; continue; }
          field += t[i++];
        }
      }
      rec.fields.push_back(std::move(field));
      if (i < n && t[i] == delim) { ++i; continue; }
      if (i < n && t[i] == '\r') ++i;
      if (i < n && t[i] == '\n') { ++i; ++line; }
      break;
    }
    out.push_back(std::move(rec));
  }
  return out;
}

// ---------------------------------------------------------------- classification

ClassificationData read_classification(const std::string& path, const ClassificationReadOptions& opt) {
  std::string format = opt.format;
  if (format == "auto") {
    if (ends_with(path, ".csv")) format = "csv";
    else if (ends_with(path, ".tsv") || ends_with(path, ".tab")) format = "tsv";
    else if (ends_with(path, ".jsonl") || ends_with(path, ".json")) format = "jsonl";
    else throw Error(path + ": cannot tell the format from the extension (set format to csv, tsv or jsonl)");
  }
  require(format == "csv" || format == "tsv" || format == "jsonl",
          path + ": unknown classification format '" + format + "' (csv, tsv, jsonl)");
  const std::string text = read_all(path);
  const bool pair = !opt.text_pair_column.empty();

  struct Raw {
    std::string text, pair, label, source;
    std::vector<std::string> features;
    std::vector<char> missing;
  };
  std::vector<Raw> raws;
  ClassificationData data;

  auto handle = [&](int64_t line, const auto& fn) {
    try {
      fn();
    } catch (const Malformed& m) {
      if (!opt.skip_malformed) throw Error(where(path, line) + ": " + m.msg);
      note_skip(data.skipped, data.first_skipped, where(path, line) + ": " + m.msg);
    }
  };
  auto check_text = [&](const Raw& r) {
    if (blank(r.text)) throw Malformed{"empty text ('" + opt.text_column + "')"};
    if (pair && blank(r.pair)) throw Malformed{"empty text ('" + opt.text_pair_column + "')"};
  };

  if (format == "jsonl") {
    std::istringstream in(text);
    std::string ln;
    int64_t line = 0;
    while (std::getline(in, ln)) {
      ++line;
      if (!ln.empty() && ln.back() == '\r') ln.pop_back();
      if (ln.find_first_not_of(" \t") == std::string::npos) continue;
      handle(line, [&] {
        nlohmann::json j;
        try {
          j = nlohmann::json::parse(ln);
        } catch (const std::exception& e) {
          throw Malformed{std::string("invalid JSON: ") + e.what()};
        }
        if (!j.is_object()) throw Malformed{"expected a JSON object"};
        auto str = [&](const std::string& key, bool is_label) -> std::string {
          auto it = j.find(key);
          if (it == j.end()) throw Malformed{"missing key '" + key + "'"};
          if (it->is_string()) return it->get<std::string>();
          if (is_label && it->is_number_integer()) return std::to_string(it->get<int64_t>());
          if (is_label && it->is_boolean()) return it->get<bool>() ? "true" : "false";
          throw Malformed{"key '" + key + "' must be a string" + std::string(is_label ? " or an integer" : "")};
        };
        Raw r;
        r.text = str(opt.text_column, false);
        if (pair) r.pair = str(opt.text_pair_column, false);
        r.label = str(opt.label_column, true);
        for (const std::string& c : opt.feature_columns) {
          auto it = j.find(c);
          const bool absent = it == j.end() || it->is_null();
          std::string v;
          if (!absent) {
            if (it->is_string()) v = it->get<std::string>();
            else if (it->is_number() || it->is_boolean()) v = it->dump();
            else throw Malformed{"key '" + c + "' must be a string, a number or a boolean"};
          }
          r.features.push_back(std::move(v));
          r.missing.push_back(absent ? 1 : 0);
        }
        r.source = where(path, line);
        check_text(r);
        raws.push_back(std::move(r));
      });
    }
  } else {
    auto recs = parse_delimited(text, format == "csv" ? ',' : '\t', path);
    require(!recs.empty(), path + ": file is empty");
    const auto& header = recs[0].fields;
    auto col = [&](const std::string& name) -> size_t {
      auto it = std::find(header.begin(), header.end(), name);
      if (it == header.end()) {
        std::string have;
        for (const auto& h : header) have += (have.empty() ? "" : ", ") + h;
        throw Error(where(path, recs[0].line) + ": header has no column '" + name + "' (have: " + have + ")");
      }
      return static_cast<size_t>(it - header.begin());
    };
    const size_t ct = col(opt.text_column), cl = col(opt.label_column);
    const size_t cp = pair ? col(opt.text_pair_column) : 0;
    std::vector<size_t> cf;
    for (const std::string& c : opt.feature_columns) cf.push_back(col(c));
    for (size_t k = 1; k < recs.size(); ++k) {
      const auto& rec = recs[k];
      handle(rec.line, [&] {
        if (rec.fields.size() != header.size())
          throw Malformed{"expected " + std::to_string(header.size()) + " fields, found " +
                          std::to_string(rec.fields.size())};
        Raw r;
        r.text = rec.fields[ct];
        if (pair) r.pair = rec.fields[cp];
        r.label = rec.fields[cl];
        for (size_t c : cf) {
          r.features.push_back(rec.fields[c]);
          r.missing.push_back(rec.fields[c].find_first_not_of(" \t") == std::string::npos ? 1 : 0);
        }
        r.source = where(path, rec.line);
        check_text(r);
        raws.push_back(std::move(r));
      });
    }
  }

  if (!opt.label_names.empty()) {
    data.label_names = opt.label_names;
  } else {
    std::set<std::string> seen;
    for (const auto& r : raws) seen.insert(r.label);
    data.label_names = sorted_labels(seen);
  }
  const auto idx = index_of(data.label_names);
  for (auto& r : raws) {
    auto it = idx.find(r.label);
    if (it == idx.end()) {
      const std::string msg = r.source + ": label '" + r.label + "' is not in the label map";
      if (!opt.skip_malformed) throw Error(msg);
      note_skip(data.skipped, data.first_skipped, msg);
      continue;
    }
    data.examples.push_back({std::move(r.text), std::move(r.pair), it->second, std::move(r.source),
                             std::move(r.features), std::move(r.missing)});
  }
  require_some(data.examples.size(), path, "no examples", data.skipped, data.first_skipped);
  return data;
}

// ---------------------------------------------------------------- CoNLL

namespace {
std::vector<std::string> split_ws(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

bool valid_bio(const std::string& tag) {
  if (tag == "O") return true;
  return tag.size() > 2 && (tag[0] == 'B' || tag[0] == 'I') && tag[1] == '-';
}
}  // namespace

TokenClassificationData read_conll(const std::string& path, const ConllReadOptions& opt) {
  const std::string text = read_all(path);
  TokenClassificationData data;
  struct RawSent {
    std::vector<std::string> words, tags;
    std::vector<int64_t> lines;
    std::string source;
    std::string bad;  // the first malformed line's "<file>:<line>: reason"
  };
  std::vector<RawSent> sents;
  RawSent cur;
  size_t ncols = 0;
  auto flush = [&] {
    if (!cur.bad.empty()) note_skip(data.skipped, data.first_skipped, cur.bad);
    else if (!cur.words.empty()) sents.push_back(std::move(cur));
    cur = RawSent{};
  };
  std::istringstream in(text);
  std::string ln;
  int64_t line = 0;
  while (std::getline(in, ln)) {
    ++line;
    if (!ln.empty() && ln.back() == '\r') ln.pop_back();
    auto cols = split_ws(ln);
    if (cols.empty()) { flush(); continue; }
    if (cols[0] == "-DOCSTART-") { flush(); continue; }
    try {
      if (ncols == 0) {
        ncols = cols.size();
        const int tc = opt.tag_column < 0 ? static_cast<int>(ncols) - 1 : opt.tag_column;
        if (opt.token_column < 0 || opt.token_column >= static_cast<int>(ncols) || tc < 0 ||
            tc >= static_cast<int>(ncols) || tc == opt.token_column)
          throw Error(where(path, line) + ": has " + std::to_string(ncols) + " columns; token column " +
                      std::to_string(opt.token_column) + " and tag column " + std::to_string(tc) + " do not fit");
      }
      if (cols.size() != ncols)
        throw Malformed{"expected " + std::to_string(ncols) + " columns, found " + std::to_string(cols.size())};
      const int tc = opt.tag_column < 0 ? static_cast<int>(ncols) - 1 : opt.tag_column;
      const std::string& tag = cols[static_cast<size_t>(tc)];
      if (!valid_bio(tag)) throw Malformed{"tag '" + tag + "' is not O, B-X or I-X"};
      if (cur.words.empty()) cur.source = where(path, line);
      cur.words.push_back(cols[static_cast<size_t>(opt.token_column)]);
      cur.tags.push_back(tag);
      cur.lines.push_back(line);
    } catch (const Malformed& m) {
      if (!opt.skip_malformed) throw Error(where(path, line) + ": " + m.msg);
      if (cur.bad.empty()) cur.bad = where(path, line) + ": " + m.msg;
    }
  }
  flush();

  if (!opt.label_names.empty()) {
    data.label_names = opt.label_names;
  } else {
    std::set<std::string> seen;
    for (const auto& s : sents) seen.insert(s.tags.begin(), s.tags.end());
    seen.erase("O");
    data.label_names.push_back("O");
    data.label_names.insert(data.label_names.end(), seen.begin(), seen.end());
  }
  const auto idx = index_of(data.label_names);
  for (auto& s : sents) {
    TokenClassificationExample ex;
    bool ok = true;
    for (size_t i = 0; i < s.tags.size(); ++i) {
      auto it = idx.find(s.tags[i]);
      if (it == idx.end()) {
        const std::string msg = where(path, s.lines[i]) + ": tag '" + s.tags[i] + "' is not in the label map";
        if (!opt.skip_malformed) throw Error(msg);
        note_skip(data.skipped, data.first_skipped, msg);
        ok = false;
        break;
      }
      ex.tags.push_back(it->second);
    }
    if (!ok) continue;
    ex.words = std::move(s.words);
    ex.source = std::move(s.source);
    data.examples.push_back(std::move(ex));
  }
  require_some(data.examples.size(), path, "no sentences", data.skipped, data.first_skipped);
  return data;
}

// ---------------------------------------------------------------- SQuAD

int64_t utf8_codepoint_to_byte(std::string_view s, int64_t cp) {
  if (cp < 0) return -1;
  size_t i = 0;
  for (int64_t k = 0; k < cp; ++k) {
    if (i >= s.size()) return -1;
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    if (i + len > s.size()) len = 1;
    for (size_t j = 1; j < len; ++j)
      if ((static_cast<unsigned char>(s[i + j]) & 0xC0) != 0x80) { len = 1; break; }
    i += len;
  }
  return static_cast<int64_t>(i);
}

QaData read_squad(const std::string& path, const SquadReadOptions& opt) {
  const std::string text = read_all(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw Error(path + ": invalid JSON: " + e.what());
  }
  require(j.is_object() && j.contains("data") && j["data"].is_array(), path + ": expected an object with a 'data' array");
  QaData out;
  std::set<std::string> ids;
  auto get_str = [&](const nlohmann::json& o, const char* key, const std::string& ctx) -> std::string {
    if (!o.is_object() || !o.contains(key) || !o[key].is_string())
      throw Error(path + ": " + ctx + ": missing string '" + key + "'");
    return o[key].get<std::string>();
  };
  for (size_t a = 0; a < j["data"].size(); ++a) {
    const auto& art = j["data"][a];
    const std::string actx = "data[" + std::to_string(a) + "]";
    std::string title = art.is_object() && art.contains("title") && art["title"].is_string() ? art["title"].get<std::string>() : "";
    require(art.is_object() && art.contains("paragraphs") && art["paragraphs"].is_array(),
            path + ": " + actx + ": missing 'paragraphs' array");
    for (size_t p = 0; p < art["paragraphs"].size(); ++p) {
      const auto& para = art["paragraphs"][p];
      const std::string pctx = actx + ".paragraphs[" + std::to_string(p) + "]";
      const std::string context = get_str(para, "context", pctx);
      require(para.contains("qas") && para["qas"].is_array(), path + ": " + pctx + ": missing 'qas' array");
      for (size_t q = 0; q < para["qas"].size(); ++q) {
        const auto& qa = para["qas"][q];
        const std::string qctx = pctx + ".qas[" + std::to_string(q) + "]";
        QaExample ex;
        ex.id = get_str(qa, "id", qctx);
        try {
          const std::string qname = "question '" + ex.id + "'";
          if (!ids.insert(ex.id).second) throw Malformed{qname + ": duplicate id"};
          if (!qa.contains("question") || !qa["question"].is_string()) throw Malformed{qname + ": missing 'question'"};
          ex.question = qa["question"].get<std::string>();
          if (blank(ex.question)) throw Malformed{qname + ": empty question"};
          if (blank(context)) throw Malformed{qname + ": empty context"};
          ex.title = title;
          ex.context = context;
          if (!qa.contains("answers") || !qa["answers"].is_array()) throw Malformed{qname + ": missing 'answers' array"};
          for (const auto& an : qa["answers"]) {
            if (!an.is_object() || !an.contains("text") || !an["text"].is_string() || !an.contains("answer_start") ||
                !an["answer_start"].is_number_integer())
              throw Malformed{qname + ": an answer lacks 'text' (string) or 'answer_start' (integer)"};
            QaAnswer ans;
            ans.text = an["text"].get<std::string>();
            ans.answer_start = an["answer_start"].get<int64_t>();
            int64_t b = utf8_codepoint_to_byte(context, ans.answer_start);
            if (b < 0 || context.compare(static_cast<size_t>(b), ans.text.size(), ans.text) != 0) {
              std::string found = b < 0 ? "<past the end>" : "'" + context.substr(static_cast<size_t>(b), ans.text.size()) + "'";
              throw Malformed{qname + ": answer '" + ans.text + "' does not match the context at answer_start " +
                              std::to_string(ans.answer_start) + " (found " + found + ")"};
            }
            ans.byte_start = static_cast<size_t>(b);
            ex.answers.push_back(std::move(ans));
          }
          if (ex.answers.empty() && !opt.allow_no_answer) throw Malformed{qname + ": has no answers"};
          out.examples.push_back(std::move(ex));
        } catch (const Malformed& m) {
          if (!opt.skip_malformed) throw Error(path + ": " + m.msg);
          note_skip(out.skipped, out.first_skipped, path + ": " + m.msg);
        }
      }
    }
  }
  require_some(out.examples.size(), path, "no questions", out.skipped, out.first_skipped);
  return out;
}

// ---------------------------------------------------------------- encoding

TaskTokenizer task_tokenizer(const WordPieceTokenizer& tok, const std::string& name) {
  TaskTokenizer t;
  t.name = name;
  t.vocab_size = tok.vocab_size();
  t.cls_id = tok.cls_id();
  t.sep_id = tok.sep_id();
  int32_t pad = tok.token_to_id("[PAD]");
  t.pad_id = pad >= 0 ? pad : 0;
  t.encode = [tok](std::string_view s) { return tok.encode_with_offsets(s, false); };
  return t;
}

TaskTokenizer task_tokenizer(const BpeTokenizer& tok, int32_t eos_id) {
  TaskTokenizer t;
  t.name = tok.name();
  t.vocab_size = tok.vocab_size();
  if (eos_id < 0) eos_id = tok.token_to_id(BpeTokenizer::kEndOfText);
  require(eos_id < t.vocab_size, "task tokenizer '" + t.name + "': eos id " + std::to_string(eos_id) +
                                     " outside the vocabulary of " + std::to_string(t.vocab_size));
  t.pad_id = eos_id >= 0 ? eos_id : 0;
  t.join_id = eos_id;
  t.word_prefix_space = true;
  t.segment_types = false;
  t.encode = [tok](std::string_view s) { return tok.encode_with_offsets(s); };
  return t;
}

namespace {
std::string absolute_path(const std::string& p) { return std::filesystem::absolute(p).lexically_normal().string(); }
}  // namespace

TaskTokenizer open_task_tokenizer(const std::string& spec, std::vector<std::string>* files) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> f;
  TaskTokenizer t;
  if (fs::is_directory(spec, ec)) {
    const fs::path d(spec);
    require(fs::is_regular_file(d / "vocab.json", ec) && fs::is_regular_file(d / "merges.txt", ec),
            "--tokenizer " + spec + ": a directory must hold vocab.json and merges.txt");
    f = {absolute_path((d / "vocab.json").string()), absolute_path((d / "merges.txt").string())};
    t = task_tokenizer(BpeTokenizer::from_vocab_merges(f[0], f[1]));
  } else {
    require(fs::is_regular_file(spec, ec), "--tokenizer " + spec + ": no such file or directory");
    f = {absolute_path(spec)};
    if (ends_with(spec, ".txt")) {
      t = task_tokenizer(WordPieceTokenizer::from_vocab_txt(spec));
    } else if (ends_with(spec, ".gguf")) {
      const GgufFile g = GgufFile::open(spec);
      const int32_t eos = g.has("tokenizer.ggml.eos_token_id") ? int32_t(g.get_int("tokenizer.ggml.eos_token_id")) : -1;
      t = task_tokenizer(bpe_tokenizer_from_gguf(g), eos);
    } else if (ends_with(spec, ".tiktoken")) {
      t = task_tokenizer(BpeTokenizer::from_tiktoken(spec));
    } else {
      throw Error("--tokenizer " + spec + ": not a task tokenizer (a WordPiece vocab.txt, a .gguf, a .tiktoken, "
                  "or a directory with vocab.json + merges.txt)");
    }
  }
  if (files) *files = std::move(f);
  return t;
}

TaskTokenizer open_task_tokenizer_files(const std::vector<std::string>& files) {
  if (files.size() == 2) {
    const std::filesystem::path v(files[0]), m(files[1]);
    require(v.filename() == "vocab.json" && m.filename() == "merges.txt" && v.parent_path() == m.parent_path(),
            "tokenizer files " + files[0] + ", " + files[1] + ": expected DIR/vocab.json and DIR/merges.txt");
    return open_task_tokenizer(v.parent_path().string());
  }
  require(files.size() == 1, "tokenizer files: expected one file or vocab.json + merges.txt, got " +
                                 std::to_string(files.size()) + " paths");
  return open_task_tokenizer(files[0]);
}

namespace {

void check_tok(const TaskTokenizer& tok, int64_t max_len) {
  require(static_cast<bool>(tok.encode), "task encoding: tokenizer '" + tok.name + "' has no encode function");
  require(max_len > 0, "task encoding: max_len must be positive");
}

// Appends one padded row.
void push_row(TaskFeatures& f, const TaskTokenizer& tok, const std::vector<int32_t>& ids,
              const std::vector<int32_t>& types) {
  const auto L = static_cast<size_t>(f.max_len);
  for (size_t i = 0; i < L; ++i) {
    const bool real = i < ids.size();
    f.input_ids.push_back(real ? ids[i] : tok.pad_id);
    f.attention_mask.push_back(real ? 1 : 0);
    f.token_type_ids.push_back(real && tok.segment_types ? types[i] : 0);
  }
}

}  // namespace

TaskFeatures encode_classification(const std::vector<ClassificationExample>& ex, const TaskTokenizer& tok,
                                   int64_t max_len) {
  check_tok(tok, max_len);
  TaskFeatures f;
  f.max_len = max_len;
  for (size_t e = 0; e < ex.size(); ++e) {
    const bool pair = !ex[e].text_pair.empty();
    std::vector<int32_t> a = tok.encode(ex[e].text).ids, b;
    if (pair) b = tok.encode(ex[e].text_pair).ids;
    const bool joined = pair && tok.sep_id < 0 && tok.join_id >= 0;
    int64_t specials = (tok.cls_id >= 0 ? 1 : 0) + (tok.sep_id >= 0 ? (pair ? 2 : 1) : 0) + (joined ? 1 : 0);
    int64_t budget = std::max<int64_t>(0, max_len - specials);
    while (static_cast<int64_t>(a.size() + b.size()) > budget) {
      if (a.size() > b.size()) a.pop_back();
      else b.pop_back();
    }
    std::vector<int32_t> ids, types;
    if (tok.cls_id >= 0) { ids.push_back(tok.cls_id); types.push_back(0); }
    for (int32_t id : a) { ids.push_back(id); types.push_back(0); }
    if (tok.sep_id >= 0) { ids.push_back(tok.sep_id); types.push_back(0); }
    if (pair) {
      if (joined) { ids.push_back(tok.join_id); types.push_back(0); }
      for (int32_t id : b) { ids.push_back(id); types.push_back(1); }
      if (tok.sep_id >= 0) { ids.push_back(tok.sep_id); types.push_back(1); }
    }
    ids.resize(std::min<size_t>(ids.size(), static_cast<size_t>(max_len)));
    push_row(f, tok, ids, types);
    f.labels.push_back(ex[e].label);
    f.example_index.push_back(static_cast<int64_t>(e));
  }
  return f;
}

TaskFeatures encode_token_classification(const std::vector<TokenClassificationExample>& ex,
                                         const std::vector<std::string>& label_names, const TaskTokenizer& tok,
                                         int64_t max_len, const std::string& label_alignment) {
  check_tok(tok, max_len);
  require(label_alignment == "first-subword" || label_alignment == "all-subwords",
          "task encoding: label_alignment must be first-subword or all-subwords, got '" + label_alignment + "'");
  const bool all = label_alignment == "all-subwords";
  const auto idx = index_of(label_names);
  TaskFeatures f;
  f.max_len = max_len;
  const int64_t specials = (tok.cls_id >= 0 ? 1 : 0) + (tok.sep_id >= 0 ? 1 : 0);
  const size_t budget = static_cast<size_t>(std::max<int64_t>(0, max_len - specials));
  for (size_t e = 0; e < ex.size(); ++e) {
    const auto& x = ex[e];
    require(x.words.size() == x.tags.size(), x.source + ": " + std::to_string(x.words.size()) + " words but " +
                                                 std::to_string(x.tags.size()) + " tags");
    std::vector<int32_t> ids, labels, types;
    if (tok.cls_id >= 0) { ids.push_back(tok.cls_id); labels.push_back(kIgnoreIndex); }
    size_t body = 0;
    for (size_t w = 0; w < x.words.size() && body < budget; ++w) {
      const int32_t tag = x.tags[w];
      require(tag >= 0 && tag < static_cast<int32_t>(label_names.size()),
              x.source + ": tag id " + std::to_string(tag) + " outside the label map");
      int32_t cont = tag;
      if (all) {
        const std::string& name = label_names[static_cast<size_t>(tag)];
        if (name.rfind("B-", 0) == 0) {
          auto it = idx.find("I-" + name.substr(2));
          if (it != idx.end()) cont = it->second;
        }
      }
      std::string word = (tok.word_prefix_space && w > 0) ? " " + x.words[w] : x.words[w];
      const auto pieces = tok.encode(word).ids;
      for (size_t p = 0; p < pieces.size() && body < budget; ++p, ++body) {
        ids.push_back(pieces[p]);
        labels.push_back(p == 0 ? tag : (all ? cont : kIgnoreIndex));
      }
    }
    if (tok.sep_id >= 0) { ids.push_back(tok.sep_id); labels.push_back(kIgnoreIndex); }
    types.assign(ids.size(), 0);
    push_row(f, tok, ids, types);
    labels.resize(static_cast<size_t>(max_len), kIgnoreIndex);
    f.labels.insert(f.labels.end(), labels.begin(), labels.end());
    f.example_index.push_back(static_cast<int64_t>(e));
  }
  return f;
}

TaskFeatures encode_qa(const std::vector<QaExample>& ex, const TaskTokenizer& tok, const QaEncodeOptions& opt) {
  check_tok(tok, opt.max_len);
  require(opt.doc_stride >= 0, "task encoding: doc_stride must be >= 0");
  TaskFeatures f;
  f.max_len = opt.max_len;
  const bool joined = tok.sep_id < 0 && tok.join_id >= 0;
  const int64_t specials = (tok.cls_id >= 0 ? 1 : 0) + (tok.sep_id >= 0 ? 2 : 0) + (joined ? 1 : 0);
  for (size_t e = 0; e < ex.size(); ++e) {
    const auto& x = ex[e];
    std::vector<int32_t> q = tok.encode(x.question).ids;
    if (opt.max_question_len > 0 && static_cast<int64_t>(q.size()) > opt.max_question_len)
      q.resize(static_cast<size_t>(opt.max_question_len));
    const Encoding c = tok.encode(x.context);
    const int64_t budget = opt.max_len - static_cast<int64_t>(q.size()) - specials;
    require(budget > opt.doc_stride, "question '" + x.id + "': max_len " + std::to_string(opt.max_len) +
                                         " leaves " + std::to_string(budget) +
                                         " context tokens per window, not more than doc_stride " +
                                         std::to_string(opt.doc_stride));
    size_t ans_b = 0, ans_e = 0;
    const bool has_ans = !x.answers.empty();
    if (has_ans) {
      ans_b = x.answers[0].byte_start;
      ans_e = ans_b + x.answers[0].text.size();
    }
    const int64_t nctx = static_cast<int64_t>(c.ids.size());
    int64_t start = 0;
    while (true) {
      const int64_t len = std::min(budget, nctx - start);
      std::vector<int32_t> ids, types;
      std::vector<int64_t> offs;
      auto add = [&](int32_t id, int32_t type, int64_t b, int64_t en) {
        ids.push_back(id);
        types.push_back(type);
        offs.push_back(b);
        offs.push_back(en);
      };
      if (tok.cls_id >= 0) add(tok.cls_id, 0, -1, -1);
      for (int32_t id : q) add(id, 0, -1, -1);
      if (tok.sep_id >= 0) add(tok.sep_id, 0, -1, -1);
      else if (joined) add(tok.join_id, 0, -1, -1);
      const int64_t ctx0 = static_cast<int64_t>(ids.size());
      for (int64_t k = start; k < start + len; ++k)
        add(c.ids[static_cast<size_t>(k)], 1, static_cast<int64_t>(c.offsets[static_cast<size_t>(k)].first),
            static_cast<int64_t>(c.offsets[static_cast<size_t>(k)].second));
      if (tok.sep_id >= 0) add(tok.sep_id, 1, -1, -1);
      int32_t sp = 0, ep = 0;
      if (has_ans && len > 0) {
        const auto& first = c.offsets[static_cast<size_t>(start)];
        const auto& last = c.offsets[static_cast<size_t>(start + len - 1)];
        if (first.first <= ans_b && last.second >= ans_e) {
          int64_t s = start, en = start + len - 1;
          while (s + 1 < start + len && c.offsets[static_cast<size_t>(s + 1)].first <= ans_b) ++s;
          while (en - 1 >= start && c.offsets[static_cast<size_t>(en - 1)].second >= ans_e) --en;
          sp = static_cast<int32_t>(ctx0 + s - start);
          ep = static_cast<int32_t>(ctx0 + en - start);
        }
      }
      push_row(f, tok, ids, types);
      offs.resize(static_cast<size_t>(opt.max_len) * 2, -1);
      f.offsets.insert(f.offsets.end(), offs.begin(), offs.end());
      f.start_positions.push_back(sp);
      f.end_positions.push_back(ep);
      f.example_index.push_back(static_cast<int64_t>(e));
      if (start + len >= nctx) break;
      start += budget - opt.doc_stride;
    }
  }
  return f;
}

}  // namespace tessera
