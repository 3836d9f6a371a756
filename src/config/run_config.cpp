// Run configuration: strict TOML parsing (toml11 3.7), presets, validation and
// serialisation back to TOML. See docs/config.md for every key.
#include "src/config/run_config.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <toml.hpp>
#include <variant>
#include <vector>

#include "src/runtime/error.hpp"

namespace tessera {
namespace {

// "64,32" → {64, 32}; "" → {}; nullopt for anything else (a width outside [1, 65536]).
std::optional<std::vector<int64_t>> parse_feature_hidden(const std::string& s) {
  std::vector<int64_t> out;
  if (s.find_first_not_of(" \t") == std::string::npos) return out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    const size_t a = item.find_first_not_of(" \t"), b = item.find_last_not_of(" \t");
    if (a == std::string::npos) return std::nullopt;
    const std::string t = item.substr(a, b - a + 1);
    if (t.find_first_not_of("0123456789") != std::string::npos || t.size() > 6) return std::nullopt;
    const int64_t w = std::stoll(t);
    if (w < 1 || w > 65536) return std::nullopt;
    out.push_back(w);
  }
  return out;
}

// ---------------------------------------------------------------------------
// The key table: one row per TOML key, in the order to_toml emits them.

using Ref = std::variant<int*, int64_t*, uint64_t*, double*, std::string*, bool*, std::vector<std::string>*>;

struct Field {
  const char* section;
  const char* key;
  Ref (*ref)(RunConfig&);
};

#define TESSERA_FIELD(sec, key, member) \
  Field { sec, key, [](RunConfig& c) -> Ref { return &c.member; } }

const std::vector<Field>& fields() {
  static const std::vector<Field> table = {
      TESSERA_FIELD("model", "family", model.family),
      TESSERA_FIELD("model", "head", model.head),
      TESSERA_FIELD("model", "preset", model.preset),
      TESSERA_FIELD("model", "n_layer", model.transformer.n_layer),
      TESSERA_FIELD("model", "n_head", model.transformer.n_head),
      TESSERA_FIELD("model", "n_embd", model.transformer.n_embd),
      TESSERA_FIELD("model", "n_positions", model.transformer.n_positions),
      TESSERA_FIELD("model", "vocab_size", model.transformer.vocab_size),
      TESSERA_FIELD("model", "embd_pdrop", model.transformer.embd_pdrop),
      TESSERA_FIELD("model", "attn_pdrop", model.transformer.attn_pdrop),
      TESSERA_FIELD("model", "resid_pdrop", model.transformer.resid_pdrop),
      TESSERA_FIELD("model", "layer_norm_epsilon", model.transformer.layer_norm_epsilon),
      TESSERA_FIELD("model", "initializer_range", model.transformer.initializer_range),
      TESSERA_FIELD("model", "n_kv_head", model.transformer.n_kv_head),
      TESSERA_FIELD("model", "n_inner", model.transformer.n_inner),
      TESSERA_FIELD("model", "type_vocab_size", model.transformer.type_vocab_size),
      TESSERA_FIELD("model", "pad_token_id", model.transformer.pad_token_id),
      TESSERA_FIELD("model", "classifier_pdrop", model.transformer.classifier_pdrop),
      TESSERA_FIELD("model", "rope_theta", model.transformer.rope_theta),
      TESSERA_FIELD("model", "tie_word_embeddings", model.transformer.tie_word_embeddings),
      TESSERA_FIELD("model", "pooler", model.transformer.pooler),
      TESSERA_FIELD("model", "num_labels", model.transformer.num_labels),
      TESSERA_FIELD("model", "init_from", model.init_from),
      TESSERA_FIELD("model", "adapter", model.adapter),
      TESSERA_FIELD("model", "init_blocks", model.init_blocks),
      TESSERA_FIELD("model", "prune_heads", model.prune_heads),
      TESSERA_FIELD("model", "heads_per_layer", model.heads_per_layer),
      TESSERA_FIELD("model", "attention", model.attention),
      TESSERA_FIELD("model", "feature_hidden", model.feature_hidden),
      TESSERA_FIELD("model", "feature_activation", model.transformer.features.activation),
      TESSERA_FIELD("model", "feature_dropout", model.transformer.features.dropout),
      TESSERA_FIELD("model", "categorical_embedding_dim", model.transformer.features.embedding_dim),

      TESSERA_FIELD("data", "path", data.path),
      TESSERA_FIELD("data", "train_split", data.train_split),
      TESSERA_FIELD("data", "validation_split", data.validation_split),
      TESSERA_FIELD("data", "seq_len", data.seq_len),
      TESSERA_FIELD("data", "shuffle", data.shuffle),

      TESSERA_FIELD("train", "max_steps", train.max_steps),
      TESSERA_FIELD("train", "epochs", train.epochs),
      TESSERA_FIELD("train", "micro_batch_size", train.micro_batch_size),
      TESSERA_FIELD("train", "grad_accum_steps", train.grad_accum_steps),
      TESSERA_FIELD("train", "seed", train.seed),
      TESSERA_FIELD("train", "grad_clip", train.grad_clip),
      TESSERA_FIELD("train", "precision", train.precision),
      TESSERA_FIELD("train", "bf16_fallback", train.bf16_fallback),
      TESSERA_FIELD("train", "eval_interval", train.eval_interval),
      TESSERA_FIELD("train", "eval_batches", train.eval_batches),
      TESSERA_FIELD("train", "log_interval", train.log_interval),
      TESSERA_FIELD("train", "device", train.device),
      TESSERA_FIELD("train", "max_time_s", train.max_time_s),
      TESSERA_FIELD("train", "peak_gflops", train.peak_gflops),
      TESSERA_FIELD("train", "eval_metric", train.eval_metric),
      TESSERA_FIELD("train", "early_stopping_patience", train.early_stopping_patience),
      TESSERA_FIELD("train", "early_stopping_min_delta", train.early_stopping_min_delta),
      TESSERA_FIELD("train", "keep_best", train.keep_best),
      TESSERA_FIELD("train", "label_smoothing", train.label_smoothing),
      TESSERA_FIELD("train", "class_weights", train.class_weights),
      TESSERA_FIELD("train", "resample", train.resample),
      TESSERA_FIELD("train", "smote_ratio", train.smote_ratio),
      TESSERA_FIELD("train", "smote_k", train.smote_k),
      TESSERA_FIELD("train", "freeze", train.freeze),
      TESSERA_FIELD("train", "freeze_embeddings", train.freeze_embeddings),
      TESSERA_FIELD("train", "freeze_blocks", train.freeze_blocks),
      TESSERA_FIELD("train", "recompute", train.recompute),

      TESSERA_FIELD("optim", "lr", optim.lr),
      TESSERA_FIELD("optim", "min_lr_ratio", optim.min_lr_ratio),
      TESSERA_FIELD("optim", "schedule", optim.schedule),
      TESSERA_FIELD("optim", "warmup_steps", optim.warmup_steps),
      TESSERA_FIELD("optim", "beta1", optim.beta1),
      TESSERA_FIELD("optim", "beta2", optim.beta2),
      TESSERA_FIELD("optim", "eps", optim.eps),
      TESSERA_FIELD("optim", "weight_decay", optim.weight_decay),
      TESSERA_FIELD("optim", "l1", optim.l1),

      TESSERA_FIELD("lora", "r", model.transformer.lora.r),
      TESSERA_FIELD("lora", "alpha", model.transformer.lora.alpha),
      TESSERA_FIELD("lora", "dropout", model.transformer.lora.dropout),
      TESSERA_FIELD("lora", "targets", model.transformer.lora.targets),

      TESSERA_FIELD("checkpoint", "dir", checkpoint.dir),
      TESSERA_FIELD("checkpoint", "interval", checkpoint.interval),
      TESSERA_FIELD("checkpoint", "keep_last", checkpoint.keep_last),
      TESSERA_FIELD("checkpoint", "resume", checkpoint.resume),

      TESSERA_FIELD("run", "dir", run.dir),
      TESSERA_FIELD("run", "name", run.name),

      TESSERA_FIELD("generate", "prompt", generate.prompt),
      TESSERA_FIELD("generate", "max_new_tokens", generate.max_new_tokens),
      TESSERA_FIELD("generate", "temperature", generate.temperature),
      TESSERA_FIELD("generate", "top_k", generate.top_k),

      TESSERA_FIELD("parallel", "dp", parallel.dp),
      TESSERA_FIELD("parallel", "tp", parallel.tp),
      TESSERA_FIELD("parallel", "pp", parallel.pp),
      TESSERA_FIELD("parallel", "zero1", parallel.zero1),
      TESSERA_FIELD("parallel", "bucket_mb", parallel.bucket_mb),
      TESSERA_FIELD("parallel", "timeout_s", parallel.timeout_s),
      TESSERA_FIELD("parallel", "timeout_step_factor", parallel.timeout_step_factor),

      TESSERA_FIELD("prune", "final_sparsity", prune.final_sparsity),
      TESSERA_FIELD("prune", "initial_sparsity", prune.initial_sparsity),
      TESSERA_FIELD("prune", "start_step", prune.start_step),
      TESSERA_FIELD("prune", "end_step", prune.end_step),
      TESSERA_FIELD("prune", "frequency", prune.frequency),
  };
  return table;
}
#undef TESSERA_FIELD

const std::vector<std::string>& sections() {
  static const std::vector<std::string> s = {"model", "data", "train", "optim", "lora", "checkpoint", "run", "generate", "parallel", "prune"};
  return s;
}

const Field* find_field(const std::string& section, const std::string& key) {
  for (const auto& f : fields())
    if (section == f.section && key == f.key) return &f;
  return nullptr;
}

// ---------------------------------------------------------------------------
// Presets

struct Preset {
  const char* name;
  int n_layer, n_head, n_embd, n_positions, vocab_size;
};

const std::vector<Preset>& presets() {
  static const std::vector<Preset> p = {
      {"gpt2-tiny", 2, 2, 64, 128, 257},  // byte tokenizer (256 bytes + end-of-text)
      {"gpt2-small", 12, 12, 768, 1024, 50257},  // 124M
      {"gpt2-medium", 24, 16, 1024, 1024, 50257},  // 350M
      {"gpt2-large", 36, 20, 1280, 1024, 50257},  // 774M
      {"gpt2-xl", 48, 25, 1600, 1024, 50257},  // 1.5B
  };
  return p;
}

std::string known_presets() {
  std::string s;
  for (const auto& p : presets()) s += (s.empty() ? "" : ", ") + std::string(p.name);
  return s;
}

// ---------------------------------------------------------------------------
// Formatting helpers (shared by to_toml and error messages)

std::string format_double(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[64];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, x);
    if (std::strtod(buf, nullptr) == x) break;
  }
  std::string s = buf;
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default:
        if (ch < 0x20 || ch == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", ch);
          out += buf;
        } else {
          out += static_cast<char>(ch);
        }
    }
  }
  return out + "\"";
}

std::string format_ref(const Ref& r) {
  struct V {
    std::string operator()(int* p) const { return std::to_string(*p); }
    std::string operator()(int64_t* p) const { return std::to_string(*p); }
    std::string operator()(uint64_t* p) const { return std::to_string(*p); }
    std::string operator()(double* p) const { return format_double(*p); }
    std::string operator()(std::string* p) const { return quote(*p); }
    std::string operator()(bool* p) const { return *p ? "true" : "false"; }
    std::string operator()(std::vector<std::string>* p) const {
      std::string out = "[";
      for (size_t i = 0; i < p->size(); ++i) out += (i ? ", " : "") + quote((*p)[i]);
      return out + "]";
    }
  };
  return std::visit(V{}, r);
}

std::string type_name(toml::value_t t) {
  switch (t) {
    case toml::value_t::boolean: return "boolean";
    case toml::value_t::integer: return "integer";
    case toml::value_t::floating: return "float";
    case toml::value_t::string: return "string";
    case toml::value_t::offset_datetime:
    case toml::value_t::local_datetime: return "datetime";
    case toml::value_t::local_date: return "date";
    case toml::value_t::local_time: return "time";
    case toml::value_t::array: return "array";
    case toml::value_t::table: return "table";
    default: return "empty value";
  }
}

// "string \"abc\"", "float 3.5", "array" ...
std::string describe(const toml::value& v) {
  std::string t = type_name(v.type());
  switch (v.type()) {
    case toml::value_t::boolean: return t + " " + (v.as_boolean() ? "true" : "false");
    case toml::value_t::integer: return t + " " + std::to_string(v.as_integer());
    case toml::value_t::floating: return t + " " + format_double(v.as_floating());
    case toml::value_t::string: return t + " " + quote(v.as_string().str);
    default: return t;
  }
}

// ---------------------------------------------------------------------------
// Suggestions

// Optimal-string-alignment distance: insertions, deletions, substitutions and
// adjacent transpositions each cost 1.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev2(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])  // transposition ("trian")
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
    }
    prev2 = prev;
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

bool close_enough(const std::string& typed, size_t d) { return d <= std::max<size_t>(1, std::min<size_t>(3, typed.size() / 3)); }

// Best match for an unknown key `leaf` found under [section] ("" = top level).
std::string suggest_key(const std::string& section, const std::string& leaf) {
  // The exact name under another section ("lr" in [train] -> optim.lr).
  for (const auto& f : fields())
    if (leaf == f.key && section != f.section) return std::string(f.section) + "." + f.key;
  std::string best;
  size_t best_d = SIZE_MAX;
  bool best_same = false;
  for (const auto& f : fields()) {
    const size_t d = edit_distance(leaf, f.key);
    const bool same = section == f.section;
    if (d < best_d || (d == best_d && same && !best_same)) {
      best_d = d;
      best_same = same;
      best = std::string(f.section) + "." + f.key;
    }
  }
  return close_enough(leaf, best_d) ? best : "";
}

std::string suggest_word(const std::string& typed, const std::vector<std::string>& options) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& o : options) {
    const size_t d = edit_distance(typed, o);
    if (d < best_d) best_d = d, best = o;
  }
  return close_enough(typed, best_d) ? best : "";
}

// ---------------------------------------------------------------------------
// The parser

class Parser {
 public:
  Parser(std::string origin, bool require_data) : origin_(std::move(origin)), require_data_(require_data) {}

  RunConfig parse(const std::string& text) {
    toml::value root;
    try {
      std::istringstream is(text, std::ios::in | std::ios::binary);
      root = toml::parse(is, origin_);
    } catch (const toml::exception& e) {
      throw Error(origin_ + ": TOML syntax error: " + e.what());
    } catch (const std::exception& e) {
      throw Error(origin_ + ": could not parse TOML: " + e.what());
    }
    if (!root.is_table()) throw Error(origin_ + ": the top level of the config must be a table");

    RunConfig cfg;
    // Deterministic order: sections in file order (then by name).
    for (const auto& [name, value] : sorted(root.as_table())) {
      if (std::find(sections().begin(), sections().end(), name) == sections().end()) unknown_top_level(name, *value);
      if (!value->is_table())
        fail(name, *value, "'" + name + "' must be a table (section [" + name + "]), found " + describe(*value));
    }

    // [model].preset first, so that explicit keys override it wherever they appear.
    if (root.contains("model") && root.at("model").contains("preset")) {
      const toml::value& v = root.at("model").at("preset");
      assign(cfg, *find_field("model", "preset"), v);
      apply_preset(cfg, v);
    }

    for (const auto& [section, table] : sorted(root.as_table())) {
      for (const auto& [key, value] : sorted(table->as_table())) {
        const Field* f = find_field(section, key);
        const std::string dotted = section + "." + key;
        if (!f) {
          std::string msg = "unknown key '" + dotted + "'";
          const std::string s = suggest_key(section, key);
          if (!s.empty()) msg += "; did you mean '" + s + "'?";
          fail(dotted, *value, msg);
        }
        assign(cfg, *f, *value);
      }
    }

    // train.epochs given without train.max_steps: the epochs decide (max_steps' default is for LM runs).
    if (lines_.count("train.epochs") && !lines_.count("train.max_steps")) cfg.train.max_steps = 0;
    validate(cfg);
    // The family sets the block configuration (norm, activation, positions, …); an explicit
    // model.pooler / model.type_vocab_size / model.pad_token_id given by the user wins.
    TransformerConfig& t = cfg.model.transformer;
    const TransformerConfig given = t;
    t.family = parse_family(cfg.model.family, origin_ + ": model.family");
    t.head = parse_head(cfg.model.head, origin_ + ": model.head");
    apply_family_defaults(t);
    t.attention = cfg.model.attention == "tiled" ? AttentionKind::Tiled : AttentionKind::Materialized;
    t.recompute = parse_recompute(cfg.train.recompute, origin_ + ": train.recompute");
    t.features.hidden = *parse_feature_hidden(cfg.model.feature_hidden);
    if (lines_.count("model.pooler")) t.pooler = given.pooler;
    if (lines_.count("model.type_vocab_size")) t.type_vocab_size = given.type_vocab_size;
    if (t.family == Family::BERT && !lines_.count("model.type_vocab_size")) t.type_vocab_size = 2;
    validate_transformer_config(t, origin_ + ": [model]");
    cfg.source_text = text;
    for (const auto& [k, line] : lines_) cfg.given.insert(k);
    return cfg;
  }

 private:
  using Entry = std::pair<std::string, const toml::value*>;

  static std::vector<Entry> sorted(const toml::table& t) {
    std::vector<Entry> out;
    for (const auto& kv : t) out.emplace_back(kv.first, &kv.second);
    std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) {
      const auto la = line_of(*a.second), lb = line_of(*b.second);
      return la != lb ? la < lb : a.first < b.first;
    });
    return out;
  }

  static uint32_t line_of(const toml::value& v) { return static_cast<uint32_t>(v.location().line()); }

  // Error about a key after parsing; the line is that of `dotted`, else of `related` (when given explicitly).
  [[noreturn]] void fail(const std::string& dotted, const std::string& msg, const std::string& related = "") const {
    auto it = lines_.find(dotted);
    if (it == lines_.end() && !related.empty()) it = lines_.find(related);
    throw Error(origin_ + ": " + msg + (it != lines_.end() && it->second > 0 ? " (line " + std::to_string(it->second) + ")" : ""));
  }
  [[noreturn]] void fail(const std::string&, const toml::value& v, const std::string& msg) const {
    const uint32_t line = line_of(v);
    throw Error(origin_ + ": " + msg + (line > 0 ? " (line " + std::to_string(line) + ")" : ""));
  }

  [[noreturn]] void unknown_top_level(const std::string& name, const toml::value& v) const {
    if (v.is_table()) {
      std::string msg = "unknown section '[" + name + "]'";
      const std::string s = suggest_word(name, sections());
      if (!s.empty()) {
        msg += "; did you mean '[" + s + "]'?";
      } else {
        std::string k = suggest_key("", name);
        if (!k.empty()) msg += "; did you mean '" + k + "'?";
      }
      msg += " (known sections: [model], [data], [train], [optim], [lora], [checkpoint], [run], [generate], [parallel], [prune])";
      fail(name, v, msg);
    }
    std::string msg = "unknown key '" + name + "' (keys belong in a section)";
    const std::string k = suggest_key("", name);
    if (!k.empty()) msg += "; did you mean '" + k + "'?";
    fail(name, v, msg);
  }

  [[noreturn]] void type_error(const std::string& dotted, const toml::value& v, const std::string& expected) const {
    fail(dotted, v, "key '" + dotted + "' must be " + expected + ", found " + describe(v));
  }

  int64_t get_integer(const std::string& dotted, const toml::value& v) const {
    if (!v.is_integer()) type_error(dotted, v, "an integer");
    return v.as_integer();
  }

  void assign(RunConfig& cfg, const Field& f, const toml::value& v) {
    const std::string dotted = std::string(f.section) + "." + f.key;
    lines_[dotted] = line_of(v);
    Ref r = f.ref(cfg);
    if (auto p = std::get_if<int*>(&r)) {
      const int64_t x = get_integer(dotted, v);
      if (x < INT_MIN || x > INT_MAX)
        fail(dotted, v, dotted + " = " + std::to_string(x) + " is out of range (must fit a 32-bit integer)");
      **p = static_cast<int>(x);
    } else if (auto p = std::get_if<int64_t*>(&r)) {
      **p = get_integer(dotted, v);
    } else if (auto p = std::get_if<uint64_t*>(&r)) {
      const int64_t x = get_integer(dotted, v);
      if (x < 0) fail(dotted, v, dotted + " = " + std::to_string(x) + " is out of range (must be >= 0)");
      **p = static_cast<uint64_t>(x);
    } else if (auto p = std::get_if<double*>(&r)) {
      if (v.is_floating()) **p = v.as_floating();
      else if (v.is_integer()) **p = static_cast<double>(v.as_integer());
      else type_error(dotted, v, "a number (float or integer)");
      if (!std::isfinite(**p)) fail(dotted, v, dotted + " = " + format_double(**p) + " is out of range (must be finite)");
    } else if (auto p = std::get_if<std::string*>(&r)) {
      if (!v.is_string()) type_error(dotted, v, "a string");
      **p = v.as_string().str;
    } else if (auto p = std::get_if<bool*>(&r)) {
      if (!v.is_boolean()) type_error(dotted, v, "a boolean (true or false)");
      **p = v.as_boolean();
    } else if (auto p = std::get_if<std::vector<std::string>*>(&r)) {
      if (!v.is_array()) type_error(dotted, v, "an array of strings");
      (*p)->clear();
      for (const toml::value& item : v.as_array()) {
        if (!item.is_string()) type_error(dotted, item, "an array of strings");
        (*p)->push_back(item.as_string().str);
      }
    }
  }

  void apply_preset(RunConfig& cfg, const toml::value& v) const {
    const std::string& name = cfg.model.preset;
    if (name.empty()) return;
    for (const auto& p : presets()) {
      if (name != p.name) continue;
      auto& g = cfg.model.transformer;
      g.n_layer = p.n_layer;
      g.n_head = p.n_head;
      g.n_embd = p.n_embd;
      g.n_positions = p.n_positions;
      g.vocab_size = p.vocab_size;
      return;
    }
    std::vector<std::string> names;
    for (const auto& p : presets()) names.push_back(p.name);
    std::string msg = "model.preset = " + quote(name) + " is not a known preset (known: " + known_presets() + ", or \"\" for none)";
    const std::string s = suggest_word(name, names);
    if (!s.empty()) msg += "; did you mean '" + s + "'?";
    fail("model.preset", v, msg);
  }

  // --- range checks -------------------------------------------------------

  std::string value_of(RunConfig& cfg, const std::string& dotted) const {
    const auto dot = dotted.find('.');
    const Field* f = find_field(dotted.substr(0, dot), dotted.substr(dot + 1));
    return f ? format_ref(f->ref(cfg)) : "?";
  }

  void check(RunConfig& cfg, bool ok, const std::string& dotted, const std::string& allowed,
             const std::string& related = "") const {
    if (!ok) fail(dotted, dotted + " = " + value_of(cfg, dotted) + " is out of range (must be " + allowed + ")", related);
  }

  void one_of(RunConfig& cfg, const std::string& value, const std::vector<std::string>& options, const std::string& dotted) const {
    if (std::find(options.begin(), options.end(), value) != options.end()) return;
    std::string list;
    for (const auto& o : options) list += (list.empty() ? "" : ", ") + quote(o);
    std::string msg = dotted + " = " + value_of(cfg, dotted) + " is out of range (must be one of " + list + ")";
    const std::string s = suggest_word(value, options);
    if (!s.empty()) msg += "; did you mean " + quote(s) + "?";
    fail(dotted, msg);
  }

  void validate(RunConfig& c) const {
    const auto& g = c.model.transformer;
    one_of(c, c.model.family, {"gpt2", "bert", "roberta", "llama"}, "model.family");
    one_of(c, c.model.head,
           {"causal_lm", "sequence_classification", "token_classification", "question_answering", "none"},
           "model.head");
    one_of(c, c.model.attention, {"materialized", "tiled"}, "model.attention");
    one_of(c, g.features.activation, {"relu", "gelu", "tanh"}, "model.feature_activation");
    check(c, g.features.dropout >= 0 && g.features.dropout < 1, "model.feature_dropout", "in [0, 1)");
    check(c, g.features.embedding_dim >= 1 && g.features.embedding_dim <= 4096, "model.categorical_embedding_dim",
          "in [1, 4096]");
    check(c, parse_feature_hidden(c.model.feature_hidden).has_value(), "model.feature_hidden",
          "a comma-separated list of widths in [1, 65536], e.g. \"64,32\" (\"\" = none)");
    check(c, g.n_kv_head >= 0 && (g.n_kv_head == 0 || g.n_head % g.n_kv_head == 0), "model.n_kv_head",
          "0 or a divisor of model.n_head = " + std::to_string(g.n_head), "model.n_head");
    check(c, g.n_inner >= 0, "model.n_inner", ">= 0 (0 = 4·n_embd)");
    check(c, g.type_vocab_size >= 0, "model.type_vocab_size", ">= 0");
    check(c, g.classifier_pdrop < 1, "model.classifier_pdrop", "< 1 (negative = resid_pdrop)");
    check(c, g.rope_theta > 0, "model.rope_theta", "> 0");
    check(c, g.num_labels >= 0, "model.num_labels", ">= 0");
    check(c, !(c.model.head == "sequence_classification" || c.model.head == "token_classification") ||
                 g.num_labels >= 2,
          "model.num_labels", ">= 2 for a classification head", "model.head");
    check(c, !(c.model.head == "causal_lm" && (c.model.family == "bert" || c.model.family == "roberta")),
          "model.head", "not causal_lm for an encoder family (bert, roberta)", "model.family");
    check(c, g.n_layer >= 1, "model.n_layer", ">= 1");
    check(c, g.n_head >= 1, "model.n_head", ">= 1");
    check(c, g.n_embd >= 1, "model.n_embd", ">= 1");
    check(c, g.n_embd % g.n_head == 0, "model.n_embd",
          "a multiple of model.n_head = " + std::to_string(g.n_head), "model.n_head");
    check(c, g.n_positions >= 1, "model.n_positions", ">= 1");
    check(c, g.vocab_size >= 1, "model.vocab_size", ">= 1");
    check(c, g.embd_pdrop >= 0 && g.embd_pdrop < 1, "model.embd_pdrop", "in [0, 1)");
    check(c, g.attn_pdrop >= 0 && g.attn_pdrop < 1, "model.attn_pdrop", "in [0, 1)");
    check(c, g.resid_pdrop >= 0 && g.resid_pdrop < 1, "model.resid_pdrop", "in [0, 1)");
    check(c, g.layer_norm_epsilon > 0, "model.layer_norm_epsilon", "> 0");
    check(c, g.initializer_range > 0, "model.initializer_range", "> 0");

    check(c, c.model.init_blocks.empty() || !c.model.init_from.empty(), "model.init_blocks",
          "\"\" unless model.init_from is set (it selects blocks of that checkpoint)", "model.init_from");
    check(c, c.model.heads_per_layer >= 0, "model.heads_per_layer", ">= 1 (or 0 = keep every head)");
    check(c, c.model.heads_per_layer == 0 || !c.model.init_from.empty(), "model.heads_per_layer",
          "0 unless model.init_from is set (head importance is measured on the pre-trained model)", "model.init_from");
    check(c, c.model.heads_per_layer == 0 || c.model.prune_heads.empty(), "model.heads_per_layer",
          "0 when model.prune_heads lists the heads", "model.prune_heads");

    if (c.data.path.empty() && require_data_) {
      if (!lines_.count("data.path"))
        fail("data.path", "missing required key 'data.path' (the tokenized HDF5 dataset written by `tessera prepare`)");
      check(c, false, "data.path", "a non-empty path");
    }
    check(c, !c.data.train_split.empty(), "data.train_split", "a non-empty split name");
    check(c, c.data.seq_len >= 1, "data.seq_len", ">= 1");
    check(c, !require_data_ || !lines_.count("data.seq_len") || c.data.seq_len <= g.n_positions, "data.seq_len",
          "<= model.n_positions = " + std::to_string(g.n_positions), "model.n_positions");

    const auto& t = c.train;
    check(c, t.max_steps >= 0, "train.max_steps", ">= 0");
    check(c, t.epochs >= 0, "train.epochs", ">= 0");
    check(c, t.max_steps > 0 || t.epochs > 0, "train.max_steps", "> 0 unless train.epochs > 0", "train.epochs");
    check(c, t.micro_batch_size >= 1, "train.micro_batch_size", ">= 1");
    check(c, t.grad_accum_steps >= 1, "train.grad_accum_steps", ">= 1");
    check(c, t.grad_clip >= 0, "train.grad_clip", ">= 0 (0 = off)");
    check(c, t.eval_interval >= 0, "train.eval_interval", ">= 0");
    check(c, t.eval_batches >= 0, "train.eval_batches", ">= 0");
    check(c, t.log_interval >= 1, "train.log_interval", ">= 1");
    one_of(c, t.device, {"auto", "host", "cuda"}, "train.device");
    one_of(c, t.precision, {"fp32", "bf16"}, "train.precision");
    one_of(c, t.bf16_fallback, {"error", "fp32"}, "train.bf16_fallback");
    check(c, t.max_time_s >= 0, "train.max_time_s", ">= 0 (0 = no limit)");
    check(c, t.peak_gflops >= 0, "train.peak_gflops", ">= 0 (0 = measure)");
    one_of(c, t.eval_metric,
           {"loss", "perplexity", "accuracy", "macro_f1", "micro_f1", "weighted_f1", "entity_f1", "exact_match", "f1"},
           "train.eval_metric");
    check(c, t.early_stopping_patience >= 0, "train.early_stopping_patience", ">= 0 (0 = off)");
    check(c, t.early_stopping_min_delta >= 0, "train.early_stopping_min_delta", ">= 0");
    check(c, t.label_smoothing >= 0 && t.label_smoothing < 1, "train.label_smoothing", "in [0, 1)");
    one_of(c, t.resample, {"none", "oversample", "undersample"}, "train.resample");
    one_of(c, t.recompute, {"none", "full", "selective"}, "train.recompute");
    check(c, t.smote_ratio >= 0 && t.smote_ratio <= 64, "train.smote_ratio", "in [0, 64] (0 = off)");
    check(c, t.smote_k >= 1, "train.smote_k", ">= 1");
    const LoraConfig& lo = c.model.transformer.lora;
    check(c, lo.r >= 0, "lora.r", ">= 0 (0 = no LoRA)");
    check(c, lo.alpha > 0, "lora.alpha", "> 0");
    check(c, lo.dropout >= 0 && lo.dropout < 1, "lora.dropout", "in [0, 1)");
    check(c, lo.r == 0 || !lo.targets.empty() || !c.model.adapter.empty(), "lora.targets",  // model.adapter: its targets
          "a non-empty list of module names when lora.r > 0", "lora.r");
    check(c, t.freeze_blocks >= 0, "train.freeze_blocks", ">= 0 (≤ n_layer, checked against the model)");
    for (const std::string& pattern : t.freeze)
      check(c, !pattern.empty(), "train.freeze", "a list of non-empty glob patterns");

    const auto& o = c.optim;
    check(c, o.lr > 0, "optim.lr", "> 0");
    check(c, o.min_lr_ratio >= 0 && o.min_lr_ratio <= 1, "optim.min_lr_ratio", "in [0, 1]");
    one_of(c, o.schedule, {"cosine", "linear", "constant"}, "optim.schedule");
    check(c, o.warmup_steps >= 0, "optim.warmup_steps", ">= 0");
    check(c, o.beta1 >= 0 && o.beta1 < 1, "optim.beta1", "in [0, 1)");
    check(c, o.beta2 >= 0 && o.beta2 < 1, "optim.beta2", "in [0, 1)");
    check(c, o.eps > 0, "optim.eps", "> 0");
    check(c, o.weight_decay >= 0, "optim.weight_decay", ">= 0");
    check(c, o.l1 >= 0, "optim.l1", ">= 0");

    check(c, c.checkpoint.interval >= 0, "checkpoint.interval", ">= 0");
    check(c, c.checkpoint.keep_last >= 0, "checkpoint.keep_last", ">= 0 (0 = keep all)");

    check(c, !c.run.dir.empty(), "run.dir", "a non-empty path");

    check(c, c.prune.final_sparsity >= 0 && c.prune.final_sparsity < 1, "prune.final_sparsity", "in [0, 1)");
    check(c, c.prune.initial_sparsity >= 0 && c.prune.initial_sparsity <= c.prune.final_sparsity,
          "prune.initial_sparsity", "in [0, prune.final_sparsity]");
    check(c, c.prune.start_step >= 0, "prune.start_step", ">= 0");
    check(c, c.prune.final_sparsity == 0 || c.prune.end_step > c.prune.start_step, "prune.end_step",
          "> prune.start_step");
    check(c, c.prune.frequency >= 1, "prune.frequency", ">= 1");

    check(c, c.generate.max_new_tokens >= 0, "generate.max_new_tokens", ">= 0");
    check(c, c.generate.temperature > 0, "generate.temperature", "> 0");
    check(c, c.generate.top_k >= 0, "generate.top_k", ">= 0 (0 = no top-k filtering)");

    const auto& par = c.parallel;
    check(c, par.dp >= 1, "parallel.dp", ">= 1");
    check(c, par.tp >= 1, "parallel.tp", ">= 1");
    check(c, par.pp >= 1, "parallel.pp", ">= 1");
    check(c, g.n_head % par.tp == 0, "parallel.tp", "a divisor of model.n_head = " + std::to_string(g.n_head),
          "model.n_head");
    check(c, g.kv_heads() % par.tp == 0, "parallel.tp",
          "a divisor of the key/value heads (model.n_kv_head = " + std::to_string(g.kv_heads()) +
              "): kv heads are split across tensor-parallel ranks",
          "model.n_kv_head");
    check(c, par.pp <= g.n_layer, "parallel.pp", "<= model.n_layer = " + std::to_string(g.n_layer), "model.n_layer");
    check(c, par.tp <= g.vocab_size, "parallel.tp", "<= model.vocab_size", "model.vocab_size");
    check(c, par.bucket_mb > 0, "parallel.bucket_mb", "> 0");
    check(c, par.timeout_s >= 0, "parallel.timeout_s", ">= 0 (0 = no timeout)");
    check(c, par.timeout_step_factor >= 0, "parallel.timeout_step_factor", ">= 0 (0 = no scaling)");
  }

  std::string origin_;
  std::map<std::string, uint32_t> lines_;  // dotted key -> line, for keys given explicitly
  bool require_data_ = true;
};

}  // namespace

RunConfig parse_run_config(const std::string& toml_text, const std::string& origin) {
  return Parser(origin, true).parse(toml_text);
}

RunConfig parse_model_config(const std::string& toml_text, const std::string& origin) {
  return Parser(origin, false).parse(toml_text);
}

void adopt_init_from_architecture(RunConfig& cfg, const std::string& stored_toml, const std::string& origin) {
  RunConfig base = parse_model_config(stored_toml, origin);
  static const char* kArch[] = {"family",          "n_layer",      "n_head",       "n_kv_head",
                                "n_embd",          "n_inner",      "n_positions",  "vocab_size",
                                "type_vocab_size", "pad_token_id", "layer_norm_epsilon", "rope_theta",
                                "tie_word_embeddings", "pooler"};
  for (const char* key : kArch) {
    const std::string dotted = std::string("model.") + key;
    const Field* f = find_field("model", key);
    if (!f || !cfg.given.count(dotted)) continue;
    const bool same = std::visit(
        [&](auto* mine) {
          using T = std::remove_pointer_t<decltype(mine)>;
          return *mine == *std::get<T*>(f->ref(base));
        },
        f->ref(cfg));
    if (!same)
      throw Error((cfg.source_path.empty() ? std::string("config") : cfg.source_path) + ": " + dotted +
                  " differs from the architecture of model.init_from (" + origin + "); leave it out to use the checkpoint's");
  }
  TransformerConfig t = base.model.transformer;
  const TransformerConfig& mine = cfg.model.transformer;
  t.head = mine.head;
  t.num_labels = mine.num_labels;
  t.lora = mine.lora;
  t.embd_pdrop = mine.embd_pdrop;
  t.attn_pdrop = mine.attn_pdrop;
  t.resid_pdrop = mine.resid_pdrop;
  t.classifier_pdrop = mine.classifier_pdrop;
  t.initializer_range = mine.initializer_range;
  t.attention = mine.attention;  // a choice of kernels, not architecture
  t.recompute = mine.recompute;  // a memory/time trade-off of training, not architecture
  t.features = mine.features;    // the feature head is the fine-tuning task's (its widths come from the dataset)
  validate_transformer_config(t, origin + " + " + (cfg.source_path.empty() ? "config" : cfg.source_path));
  cfg.model.family = base.model.family;
  cfg.model.transformer = t;
}

std::string model_toml(const TransformerConfig& t, const std::string& head) {
  RunConfig cfg;
  cfg.model.family = family_name(t.family);
  cfg.model.head = head.empty() ? head_name(t.head) : head;
  cfg.model.attention = t.attention == AttentionKind::Tiled ? "tiled" : "materialized";
  cfg.model.transformer = t;
  const std::string all = to_toml(cfg);
  // Only the [model] section.
  const size_t b = all.find("[model]");
  const size_t e = all.find("\n[", b + 1);
  return all.substr(b, e == std::string::npos ? std::string::npos : e + 1 - b);
}

RunConfig load_run_config(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error("config file '" + path + "' not found");
  if (fs::is_directory(path, ec)) throw Error("config file '" + path + "' is a directory, not a TOML file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("config file '" + path + "' could not be opened for reading");
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw Error("config file '" + path + "' could not be read");
  RunConfig cfg = parse_run_config(ss.str(), path);
  cfg.source_text = ss.str();
  cfg.source_path = path;
  return cfg;
}

std::string run_config_key_type(const std::string& dotted) {
  const auto dot = dotted.find('.');
  if (dot == std::string::npos) return "";
  const Field* f = find_field(dotted.substr(0, dot), dotted.substr(dot + 1));
  if (!f) return "";
  RunConfig probe;
  return std::visit(
      [](auto* p) -> std::string {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, bool>) return "bool";
        else if constexpr (std::is_same_v<T, std::string>) return "string";
        else if constexpr (std::is_floating_point_v<T>) return "float";
        else if constexpr (std::is_integral_v<T>) return "int";
        else return "other";
      },
      f->ref(probe));
}

std::string suggest_run_config_key(const std::string& dotted) {
  const auto dot = dotted.find('.');
  return dot == std::string::npos ? suggest_key("", dotted) : suggest_key(dotted.substr(0, dot), dotted.substr(dot + 1));
}

std::string to_toml(const RunConfig& cfg) {
  RunConfig& c = const_cast<RunConfig&>(cfg);  // Field::ref takes a mutable config; nothing is written
  std::string out = "# Tessera run config (every key; see docs/config.md)\n";
  std::string section;
  for (const auto& f : fields()) {
    if (section != f.section) {
      section = f.section;
      out += "\n[" + section + "]\n";
    }
    out += std::string(f.key) + " = " + format_ref(f.ref(c)) + "\n";
  }
  return out;
}

}  // namespace tessera
