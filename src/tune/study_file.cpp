#include "src/tune/study_file.hpp"
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <toml.hpp>
#include "src/runtime/error.hpp"

namespace fs = std::filesystem;

namespace tessera {

namespace {

class StudyParser {
 public:
  explicit StudyParser(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& key, const toml::value* v, const std::string& msg) const {
    const auto line = v ? v->location().line() : 0;
    throw Error(path_ + ": " + key + ": " + msg + (line > 0 ? " (line " + std::to_string(line) + ")" : ""));
  }

  void only_keys(const std::string& table, const toml::value& t, const std::set<std::string>& allowed) const {
    for (const auto& [k, v] : t.as_table())
      if (!allowed.count(k)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        fail(table + "." + k, &v, "unknown key (known in [" + table + "]: " + list + ")");
      }
  }

  const toml::value* get(const toml::value& t, const std::string& k) const {
    return t.contains(k) ? &t.at(k) : nullptr;
  }
  std::string str(const toml::value& t, const std::string& table, const std::string& k, const std::string& def) const {
    const toml::value* v = get(t, k);
    if (!v) return def;
    if (!v->is_string()) fail(table + "." + k, v, "must be a string");
    return v->as_string().str;
  }
  double num(const toml::value& t, const std::string& table, const std::string& k, double def) const {
    const toml::value* v = get(t, k);
    if (!v) return def;
    if (v->is_floating()) return v->as_floating();
    if (v->is_integer()) return double(v->as_integer());
    fail(table + "." + k, v, "must be a number");
  }
  int64_t integer(const toml::value& t, const std::string& table, const std::string& k, int64_t def) const {
    const toml::value* v = get(t, k);
    if (!v) return def;
    if (!v->is_integer()) fail(table + "." + k, v, "must be an integer");
    return v->as_integer();
  }
  bool boolean(const toml::value& t, const std::string& table, const std::string& k, bool def) const {
    const toml::value* v = get(t, k);
    if (!v) return def;
    if (!v->is_boolean()) fail(table + "." + k, v, "must be true or false");
    return v->as_boolean();
  }
  void require_key(bool ok, const std::string& key, const toml::value* v, const std::string& msg) const {
    if (!ok) fail(key, v, msg);
  }

  nlohmann::json to_json(const toml::value& v, const std::string& key) const {
    if (v.is_integer()) return v.as_integer();
    if (v.is_floating()) return v.as_floating();
    if (v.is_string()) return v.as_string().str;
    if (v.is_boolean()) return v.as_boolean();
    fail(key, &v, "choices must be integers, floats, strings or booleans");
  }

  Param param(const std::string& name, const toml::value& t) const {
    const std::string table = "space.\"" + name + "\"";
    if (!t.is_table()) fail(table, &t, "must be a table (type = \"float\" | \"int\" | \"categorical\", …)");
    const std::string key_type = run_config_key_type(name);
    if (key_type.empty()) {
      const std::string s = suggest_run_config_key(name);
      fail(table, &t, "'" + name + "' is not a run-config key (docs/config.md)" + (s.empty() ? "" : "; did you mean '" + s + "'?"));
    }
    require_key(name.rfind("parallel.", 0) != 0, table, &t, "the parallel grid is fixed by ranks_per_trial; not searchable");
    require_key(name != "run.dir" && name != "checkpoint.dir", table, &t, "set by tune for each trial; not searchable");
    only_keys(table, t, {"type", "low", "high", "log", "step", "choices", "condition"});
    Param p;
    p.name = name;
    const std::string type = str(t, table, "type", "");
    require_key(!type.empty(), table + ".type", &t, "missing (\"float\", \"int\" or \"categorical\")");
    if (type == "float" || type == "int") {
      p.kind = type == "float" ? ParamKind::Float : ParamKind::Int;
      require_key(key_type == "float" || (key_type == "int" && type == "int"), table + ".type", get(t, "type"),
                  "\"" + type + "\" does not fit the " + key_type + " key '" + name + "'");
      const toml::value* lo = get(t, "low");
      const toml::value* hi = get(t, "high");
      require_key(lo && hi, table, &t, "a " + type + " parameter needs low and high");
      if (p.kind == ParamKind::Int)
        require_key(lo->is_integer() && hi->is_integer(), table + ".low", lo, "low and high must be integers");
      p.low = num(t, table, "low", 0);
      p.high = num(t, table, "high", 0);
      require_key(std::isfinite(p.low) && std::isfinite(p.high), table + ".low", lo, "low and high must be finite");
      require_key(p.low < p.high, table + ".high", hi,
                  "empty or inverted range [" + std::to_string(p.low) + ", " + std::to_string(p.high) + "] (need low < high)");
      p.log = boolean(t, table, "log", false);
      require_key(!p.log || p.low > 0, table + ".low", lo, "a log range must be > 0 (low = " + std::to_string(p.low) + ")");
      if (get(t, "step")) {
        require_key(p.kind == ParamKind::Int, table + ".step", get(t, "step"), "only int parameters have a step");
        p.step = integer(t, table, "step", 1);
        require_key(p.step >= 1, table + ".step", get(t, "step"), "must be >= 1");
        require_key(!p.log || p.step == 1, table + ".step", get(t, "step"), "a log int parameter has step 1");
      }
      require_key(!get(t, "choices"), table + ".choices", get(t, "choices"), "only categorical parameters have choices");
    } else if (type == "categorical") {
      p.kind = ParamKind::Categorical;
      const toml::value* c = get(t, "choices");
      require_key(c && c->is_array() && !c->as_array().empty(), table + ".choices", c ? c : &t,
                  "a categorical parameter needs a non-empty array of choices");
      for (const auto& v : c->as_array()) {
        nlohmann::json j = to_json(v, table + ".choices");
        const bool ok = (key_type == "string" && j.is_string()) || (key_type == "bool" && j.is_boolean()) ||
                        (key_type == "int" && j.is_number_integer()) || (key_type == "float" && j.is_number()) ||
                        key_type == "other";
        require_key(ok, table + ".choices", &v, "choice " + j.dump() + " does not fit the " + key_type + " key '" + name + "'");
        require_key(std::find(p.choices.begin(), p.choices.end(), j) == p.choices.end(), table + ".choices", &v,
                    "duplicate choice " + j.dump());
        p.choices.push_back(j);
      }
      for (const char* k : {"low", "high", "log", "step"})
        require_key(!get(t, k), table + "." + k, get(t, k), "categorical parameters have only choices");
    } else {
      fail(table + ".type", get(t, "type"), "\"" + type + "\" is not a parameter type (float, int, categorical)");
    }
    if (const toml::value* c = get(t, "condition")) {
      const std::string ct = table + ".condition";
      require_key(c->is_table(), ct, c, "must be a table { param = \"key\", values = [...] }");
      only_keys(ct, *c, {"param", "values"});
      p.parent = str(*c, ct, "param", "");
      require_key(!p.parent.empty(), ct + ".param", c, "missing (the parameter this one depends on)");
      const toml::value* vals = get(*c, "values");
      require_key(vals && vals->is_array() && !vals->as_array().empty(), ct + ".values", c,
                  "a non-empty array of the parent's values");
      for (const auto& v : vals->as_array()) p.parent_values.push_back(to_json(v, ct + ".values"));
    }
    return p;
  }

  StudySpec parse(const std::string& text) {
    toml::value root;
    try {
      std::istringstream is(text, std::ios::in | std::ios::binary);
      root = toml::parse(is, path_);
    } catch (const std::exception& e) {
      throw Error(path_ + ": TOML syntax error: " + e.what());
    }
    for (const auto& [k, v] : root.as_table())
      if (k != "study" && k != "sampler" && k != "pruner" && k != "space")
        fail(k, &v, "unknown section (known: [study], [sampler], [pruner], [space.\"key\"])");
    require_key(root.contains("study") && root.at("study").is_table(), "study", nullptr, "missing [study] section");
    const toml::value& st = root.at("study");
    only_keys("study", st,
              {"name", "dir", "base_config", "objective", "direction", "trials", "max_time_s", "sampler", "pruner",
               "ranks_per_trial", "seed", "lease_s", "keep_checkpoints"});
    StudySpec s;
    s.path = path_;
    const fs::path here = fs::path(path_).parent_path();
    s.name = str(st, "study", "name", fs::path(path_).stem().string());
    s.base_config = str(st, "study", "base_config", "");
    require_key(!s.base_config.empty(), "study.base_config", &st, "missing (the run config every trial starts from)");
    if (fs::path(s.base_config).is_relative() && !fs::exists(s.base_config)) s.base_config = (here / s.base_config).string();
    s.dir = str(st, "study", "dir", (here / ("study_" + s.name)).string());
    s.objective = str(st, "study", "objective", "");
    static const std::vector<std::string> metrics = {"loss", "perplexity", "accuracy", "macro_f1", "micro_f1",
                                                     "weighted_f1", "entity_f1", "exact_match", "f1"};
    require_key(std::find(metrics.begin(), metrics.end(), s.objective) != metrics.end(), "study.objective",
                get(st, "objective") ? get(st, "objective") : &st,
                "'" + s.objective + "' is not a metric eval reports (loss, perplexity, accuracy, macro_f1, micro_f1, "
                "weighted_f1, entity_f1, exact_match, f1)");
    const std::string lower_better = s.objective == "loss" || s.objective == "perplexity" ? "minimize" : "maximize";
    const std::string dir = str(st, "study", "direction", lower_better);
    require_key(dir == "minimize" || dir == "maximize", "study.direction", get(st, "direction"),
                "must be \"minimize\" or \"maximize\"");
    s.maximize = dir == "maximize";
    s.pruner.maximize = s.maximize;
    s.trials = integer(st, "study", "trials", 0);
    s.max_time_s = num(st, "study", "max_time_s", 0);
    require_key(s.trials >= 0, "study.trials", get(st, "trials"), "must be >= 0");
    require_key(s.max_time_s >= 0, "study.max_time_s", get(st, "max_time_s"), "must be >= 0");
    require_key(s.trials > 0 || s.max_time_s > 0, "study.trials", &st, "give a budget: trials > 0 and/or max_time_s > 0");
    s.ranks_per_trial = int(integer(st, "study", "ranks_per_trial", 1));
    require_key(s.ranks_per_trial >= 1, "study.ranks_per_trial", get(st, "ranks_per_trial"), "must be >= 1");
    s.seed = uint64_t(integer(st, "study", "seed", 0));
    s.lease_s = num(st, "study", "lease_s", 60);
    require_key(s.lease_s > 0, "study.lease_s", get(st, "lease_s"), "must be > 0");
    s.keep_checkpoints = boolean(st, "study", "keep_checkpoints", false);
    s.sampler.kind = str(st, "study", "sampler", "bo");
    require_key(s.sampler.kind == "random" || s.sampler.kind == "grid" || s.sampler.kind == "bo" || s.sampler.kind == "ga",
                "study.sampler", get(st, "sampler"), "must be random, grid, bo or ga");
    s.pruner.kind = str(st, "study", "pruner", "none");
    require_key(s.pruner.kind == "none" || s.pruner.kind == "median" || s.pruner.kind == "asha", "study.pruner",
                get(st, "pruner"), "must be none, median or asha");

    if (root.contains("sampler")) {
      const toml::value& t = root.at("sampler");
      require_key(t.is_table(), "sampler", &t, "must be a table");
      const std::map<std::string, std::set<std::string>> keys = {
          {"random", {}},
          {"grid", {"grid_points"}},
          {"bo", {"n_startup_trials", "restarts", "candidates", "local_starts", "xi", "liar"}},
          {"ga", {"population", "elite", "tournament", "crossover_prob", "mutation_prob", "mutation_sd", "generations"}}};
      for (const auto& [k, v] : t.as_table())
        if (!keys.at(s.sampler.kind).count(k))
          fail("sampler." + k, &v, "not a setting of sampler = \"" + s.sampler.kind + "\"");
      SamplerSettings& o = s.sampler;
      o.grid_points = int(integer(t, "sampler", "grid_points", o.grid_points));
      o.n_startup_trials = int(integer(t, "sampler", "n_startup_trials", o.n_startup_trials));
      o.restarts = int(integer(t, "sampler", "restarts", o.restarts));
      o.candidates = int(integer(t, "sampler", "candidates", o.candidates));
      o.local_starts = int(integer(t, "sampler", "local_starts", o.local_starts));
      o.xi = num(t, "sampler", "xi", o.xi);
      o.liar = str(t, "sampler", "liar", o.liar);
      o.population = int(integer(t, "sampler", "population", o.population));
      o.elite = int(integer(t, "sampler", "elite", o.elite));
      o.tournament = int(integer(t, "sampler", "tournament", o.tournament));
      o.crossover_prob = num(t, "sampler", "crossover_prob", o.crossover_prob);
      o.mutation_prob = num(t, "sampler", "mutation_prob", o.mutation_prob);
      o.mutation_sd = num(t, "sampler", "mutation_sd", o.mutation_sd);
      o.generations = int(integer(t, "sampler", "generations", o.generations));
      require_key(o.grid_points >= 1, "sampler.grid_points", get(t, "grid_points"), "must be >= 1");
      require_key(o.n_startup_trials >= 1, "sampler.n_startup_trials", get(t, "n_startup_trials"), "must be >= 1");
      require_key(o.restarts >= 0 && o.candidates >= 1 && o.local_starts >= 1, "sampler.restarts", &t,
                  "restarts >= 0, candidates >= 1, local_starts >= 1");
      require_key(o.liar == "worst" || o.liar == "mean" || o.liar == "best" || o.liar == "kriging", "sampler.liar",
                  get(t, "liar"), "must be worst, mean, best or kriging");
      require_key(o.population >= 2, "sampler.population", get(t, "population"), "must be >= 2");
      require_key(o.elite >= 0 && o.elite <= o.population, "sampler.elite", get(t, "elite"), "must be in [0, population]");
      require_key(o.tournament >= 1, "sampler.tournament", get(t, "tournament"), "must be >= 1");
      require_key(o.crossover_prob >= 0 && o.crossover_prob <= 1, "sampler.crossover_prob", get(t, "crossover_prob"), "in [0, 1]");
      require_key(o.mutation_prob >= 0 && o.mutation_prob <= 1, "sampler.mutation_prob", get(t, "mutation_prob"), "in [0, 1]");
      require_key(o.mutation_sd > 0, "sampler.mutation_sd", get(t, "mutation_sd"), "must be > 0");
      require_key(o.generations >= 0, "sampler.generations", get(t, "generations"), "must be >= 0");
      if (o.generations > 0 && s.trials == 0) s.trials = int64_t(o.generations) * o.population;
    }
    if (root.contains("pruner")) {
      const toml::value& t = root.at("pruner");
      require_key(t.is_table(), "pruner", &t, "must be a table");
      const std::map<std::string, std::set<std::string>> keys = {
          {"none", {}}, {"median", {"n_startup_trials", "n_warmup_steps"}}, {"asha", {"min_resource", "reduction_factor"}}};
      for (const auto& [k, v] : t.as_table())
        if (!keys.at(s.pruner.kind).count(k)) fail("pruner." + k, &v, "not a setting of pruner = \"" + s.pruner.kind + "\"");
      s.pruner.min_resource = integer(t, "pruner", "min_resource", s.pruner.min_resource);
      s.pruner.reduction_factor = int(integer(t, "pruner", "reduction_factor", s.pruner.reduction_factor));
      s.pruner.n_startup_trials = int(integer(t, "pruner", "n_startup_trials", s.pruner.n_startup_trials));
      s.pruner.n_warmup_steps = integer(t, "pruner", "n_warmup_steps", s.pruner.n_warmup_steps);
      require_key(s.pruner.min_resource >= 1, "pruner.min_resource", get(t, "min_resource"), "must be >= 1 (steps)");
      require_key(s.pruner.reduction_factor >= 2, "pruner.reduction_factor", get(t, "reduction_factor"), "must be >= 2");
      require_key(s.pruner.n_startup_trials >= 0 && s.pruner.n_warmup_steps >= 0, "pruner.n_startup_trials", &t, "must be >= 0");
    }

    // The search space, parents before children.
    require_key(root.contains("space") && root.at("space").is_table() && !root.at("space").as_table().empty(), "space",
                nullptr, "missing [space.\"section.key\"] tables (the parameters to search)");
    std::vector<Param> raw;
    std::vector<const toml::value*> where;
    for (const auto& [k, v] : root.at("space").as_table()) {
      raw.push_back(param(k, v));
      where.push_back(&v);
    }
    std::vector<Param> ordered;
    std::set<std::string> placed;
    while (ordered.size() < raw.size()) {
      bool progress = false;
      for (size_t i = 0; i < raw.size(); ++i) {
        const Param& p = raw[i];
        if (placed.count(p.name) || (!p.parent.empty() && !placed.count(p.parent))) continue;
        ordered.push_back(p), placed.insert(p.name), progress = true;
      }
      if (progress) continue;
      for (size_t i = 0; i < raw.size(); ++i)
        if (!placed.count(raw[i].name)) {
          const bool exists = std::any_of(raw.begin(), raw.end(), [&](const Param& q) { return q.name == raw[i].parent; });
          fail("space.\"" + raw[i].name + "\".condition.param", where[i],
               exists ? "conditions form a cycle through '" + raw[i].parent + "'"
                      : "'" + raw[i].parent + "' is not a parameter of this space");
        }
    }
    for (size_t i = 0; i < ordered.size(); ++i) {
      const Param& p = ordered[i];
      if (p.parent.empty()) continue;
      const Param& parent = *std::find_if(ordered.begin(), ordered.end(), [&](const Param& q) { return q.name == p.parent; });
      if (parent.kind == ParamKind::Categorical)
        for (const auto& v : p.parent_values)
          if (std::find(parent.choices.begin(), parent.choices.end(), v) == parent.choices.end())
            fail("space.\"" + p.name + "\".condition.values", nullptr,
                 v.dump() + " is not a choice of '" + p.parent + "'");
    }
    s.space = SearchSpace(std::move(ordered));
    return s;
  }

 private:
  std::string path_;
};

std::string read_text(const std::string& path, const std::string& what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(what + " '" + path + "' not found or not readable");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

StudySpec parse_study(const std::string& text, const std::string& path) {
  StudySpec s = StudyParser(path).parse(text);
  s.base_text = read_text(s.base_config, path + ": study.base_config:");
  s.base = parse_run_config(s.base_text, s.base_config);
  const ParallelSection& par = s.base.parallel;
  if (par.dp * par.tp * par.pp != s.ranks_per_trial)
    throw Error(path + ": study.ranks_per_trial = " + std::to_string(s.ranks_per_trial) +
                " does not fit the trial grid of " + s.base_config + " (parallel.dp × tp × pp = " +
                std::to_string(par.dp * par.tp * par.pp) + ")");
  // Every parameter's extreme values must give a valid run config (e.g. a dropout of 1).
  for (const Param& p : s.space.params()) {
    std::vector<nlohmann::json> probes;
    if (p.kind == ParamKind::Categorical) probes = p.choices;
    else probes = {s.space.snap(p, p.low), s.space.snap(p, p.high)};
    for (const auto& v : probes) {
      try {
        parse_run_config(trial_toml(s, {{p.name, v}}, s.base.run.dir), s.base_config);
      } catch (const Error& e) {
        throw Error(path + ": space.\"" + p.name + "\": value " + v.dump() + " gives an invalid run config: " + e.what());
      }
    }
  }
  return s;
}

StudySpec load_study(const std::string& path) { return parse_study(read_text(path, "study file"), path); }

void check_world_size(const StudySpec& s, int world) {
  if (world % s.ranks_per_trial != 0)
    throw Error(s.path + ": study.ranks_per_trial = " + std::to_string(s.ranks_per_trial) +
                " does not divide the job's " + std::to_string(world) + " ranks");
}

std::string trial_toml(const StudySpec& s, const nlohmann::json& params, const std::string& run_dir) {
  toml::value root;
  {
    std::istringstream is(s.base_text, std::ios::in | std::ios::binary);
    root = toml::parse(is, s.base_config);
  }
  auto set = [&](const std::string& dotted, const nlohmann::json& v) {
    const auto dot = dotted.find('.');
    toml::value& sec = root[dotted.substr(0, dot)];
    if (!sec.is_table()) sec = toml::table{};
    const std::string key = dotted.substr(dot + 1);
    const std::string type = run_config_key_type(dotted);
    if (v.is_boolean()) sec[key] = v.get<bool>();
    else if (v.is_string()) sec[key] = v.get<std::string>();
    else if (type == "float") sec[key] = v.get<double>();
    else if (v.is_number_integer()) sec[key] = v.get<int64_t>();
    else sec[key] = v.get<double>();
  };
  for (const auto& [k, v] : params.items()) set(k, v);
  set("run.dir", run_dir);
  std::ostringstream out;
  out << "# Tessera run config written by `tessera tune` (study " << s.name << ")\n" << root;
  return out.str();
}

}  // namespace tessera
