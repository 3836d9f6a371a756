#include "io/adapter_file.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "io/checkpoint.hpp"
#include "io/hdf5_file.hpp"
#include "io/model_checkpoint.hpp"
#include "io/hf_config.hpp"
#include "io/hf_param_names.hpp"
#include "io/safetensors.hpp"
#include "src/config/run_config.hpp"
#include "src/model/lora_layer.hpp"
#include "src/parallel/root_call.hpp"
#include "src/runtime/error.hpp"

namespace fs = std::filesystem;

namespace tessera {

bool is_task_head_parameter(const std::string& name);  // src/model/transformer_lora.cpp

namespace {

std::vector<ParamInfo> full_infos(const std::vector<std::pair<std::string, std::vector<int64_t>>>& shapes) {
  std::vector<ParamInfo> infos;
  size_t offset = 0;
  for (const auto& [name, shape] : shapes) {
    ParamInfo info;
    info.name = name;
    info.full_shape = info.local_shape = shape;
    info.local_start.assign(shape.size(), 0);
    info.offset = offset;
    info.numel = size_t(product(shape));
    offset += info.numel;
    infos.push_back(std::move(info));
  }
  return infos;
}

std::string json_string(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o + "\"";
}

std::string json_double(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  std::string s = buf;
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

const char* peft_task_type(HeadKind h) {
  switch (h) {
    case HeadKind::CausalLM: return "CAUSAL_LM";
    case HeadKind::SequenceClassification: return "SEQ_CLS";
    case HeadKind::TokenClassification: return "TOKEN_CLS";
    case HeadKind::QuestionAnswering: return "QUESTION_ANS";
    case HeadKind::None: return "FEATURE_EXTRACTION";
  }
  return "CAUSAL_LM";
}

HeadKind head_of_peft_task(const std::string& task, const std::string& key) {
  if (task == "CAUSAL_LM") return HeadKind::CausalLM;
  if (task == "SEQ_CLS") return HeadKind::SequenceClassification;
  if (task == "TOKEN_CLS") return HeadKind::TokenClassification;
  if (task == "QUESTION_ANS") return HeadKind::QuestionAnswering;
  if (task == "FEATURE_EXTRACTION") return HeadKind::None;
  throw Error(key + " = \"" + task +
              "\": not supported (CAUSAL_LM, SEQ_CLS, TOKEN_CLS, QUESTION_ANS or FEATURE_EXTRACTION)");
}

// The module of a lora_A/lora_B tensor name ("h.0.attn.c_attn.lora_A.weight" -> "h.0.attn.c_attn").
std::string lora_module_of(const std::string& name) { return name.substr(0, name.rfind(".lora_")); }

}  // namespace

uint32_t base_fingerprint(const TransformerConfig& cfg) {
  TransformerConfig c = cfg;
  c.lora = LoraConfig{};
  uint32_t h = 2166136261u;
  for (const ParamShape& p : transformer_parameter_shapes(c)) {
    std::string s = p.name + ":";
    for (int64_t d : p.shape) s += std::to_string(d) + ",";
    s += ";";
    for (unsigned char ch : s) h = (h ^ ch) * 16777619u;
  }
  return h;
}

LoraAdapter adapter_from_checkpoint(const std::string& checkpoint, MPI_Comm comm) {
  const TrainingState st = read_checkpoint_state(checkpoint, comm);
  LoraAdapter a;
  a.origin = checkpoint;
  a.config_toml = st.config_toml;
  a.base = parse_model_config(st.config_toml, checkpoint + ": /run/config").model.transformer;
  require(a.base.lora.enabled(), checkpoint + ": not a LoRA run (/run/config has no [lora] with r > 0): it has no adapter to export");
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  {
    h5::File f = h5::File::open_read(checkpoint, comm);
    if (a.base.is_encoder()) a.base.pooler = f.is_dataset("/params/pooler.dense.weight");
    for (const std::string& n : f.list("/params"))
      if (is_lora_parameter(n) || is_task_head_parameter(n)) shapes.emplace_back(n, f.dataset_shape("/params/" + n));
  }
  require(!shapes.empty(), checkpoint + ": /params holds no lora_A/lora_B tensors");
  const std::vector<ParamInfo> infos = full_infos(shapes);
  std::vector<float> slab(std::max<size_t>(1, infos.back().offset + infos.back().numel));
  read_checkpoint<float>(checkpoint, infos, {{"params", slab.data()}}, comm);
  for (const ParamInfo& info : infos) {
    FloatTensor t;
    t.shape = info.full_shape;
    t.data.assign(slab.begin() + long(info.offset), slab.begin() + long(info.offset + info.numel));
    a.tensors.emplace(info.name, std::move(t));
  }
  return a;
}

void write_adapter_file(const std::string& path, const LoraAdapter& a, MPI_Comm comm) {
  std::string toml_text = a.config_toml;
  broadcast_string(toml_text, comm);
  // Every rank builds the same tensor list (names and shapes from rank 0).
  std::string listing;
  on_root(comm, [&] {
    std::ostringstream s;
    for (const auto& [name, t] : a.tensors) {
      s << name;
      for (int64_t d : t.shape) s << ' ' << d;
      s << '\n';
    }
    listing = s.str();
  });
  broadcast_string(listing, comm);
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  std::istringstream in(listing);
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    std::string name;
    ls >> name;
    std::vector<int64_t> shape;
    for (int64_t d; ls >> d;) shape.push_back(d);
    shapes.emplace_back(name, shape);
  }
  const std::vector<ParamInfo> infos = full_infos(shapes);
  std::vector<float> slab(1);
  if (h5::comm_rank(comm) == 0) {
    slab.resize(std::max<size_t>(1, infos.back().offset + infos.back().numel));
    for (const ParamInfo& info : infos) {
      const std::vector<float>& d = a.tensors.at(info.name).data;
      std::copy(d.begin(), d.end(), slab.begin() + long(info.offset));
    }
  }
  TrainingState st;
  st.model_family = family_name(a.base.family);
  st.config_toml = toml_text;
  st.scalars["adapter_format_version"] = 1;
  st.scalars["base_fingerprint"] = double(base_fingerprint(a.base));
  write_checkpoint_file(path, ".adapter.d", infos, slab.data(), st, comm);
}

std::string peft_adapter_config_json(const LoraAdapter& a) {
  const LoraConfig& lo = a.base.lora;
  std::vector<std::string> heads;
  for (const auto& [name, t] : a.tensors)
    if (is_task_head_parameter(name)) {
      const std::string module = name.substr(0, name.find('.'));
      if (heads.empty() || heads.back() != module) heads.push_back(module);
    }
  std::ostringstream j;
  j << "{\n";
  j << "  \"base_model_name_or_path\": null,\n";
  j << "  \"bias\": \"none\",\n";
  j << "  \"fan_in_fan_out\": " << (a.base.family == Family::GPT2 ? "true" : "false") << ",\n";
  j << "  \"inference_mode\": true,\n";
  j << "  \"init_lora_weights\": true,\n";
  j << "  \"lora_alpha\": " << json_double(lo.alpha) << ",\n";
  j << "  \"lora_dropout\": " << json_double(lo.dropout) << ",\n";
  j << "  \"modules_to_save\": ";
  if (heads.empty()) {
    j << "null";
  } else {
    j << "[";
    for (size_t i = 0; i < heads.size(); ++i) j << (i ? ", " : "") << json_string(heads[i]);
    j << "]";
  }
  j << ",\n";
  j << "  \"peft_type\": \"LORA\",\n";
  j << "  \"r\": " << lo.r << ",\n";
  j << "  \"target_modules\": [";
  for (size_t i = 0; i < lo.targets.size(); ++i) j << (i ? ", " : "") << json_string(lo.targets[i]);
  j << "],\n";
  j << "  \"task_type\": " << json_string(peft_task_type(a.base.head)) << ",\n";
  j << "  \"use_dora\": false,\n";
  j << "  \"use_rslora\": false\n";
  j << "}\n";
  return j.str();
}

void write_peft_directory(const std::string& dir, const LoraAdapter& a) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  require(!ec, dir + ": cannot create directory: " + ec.message());
  const std::string prefix = "base_model.model." + hf_backbone_prefix(a.base);
  std::map<std::string, SafetensorsTensor> out;
  for (const auto& [name, t] : a.tensors) {
    SafetensorsTensor s;
    s.shape = t.shape;
    s.data = t.data;
    const bool head = is_task_head_parameter(name);
    if (!head && hf_stores_transposed(a.base, name) && !is_lora_parameter(name)) s.data = transpose_2d(t.data, t.shape[0], t.shape[1]);
    out.emplace(head ? "base_model.model." + name : prefix + name, std::move(s));
  }
  write_safetensors((fs::path(dir) / "adapter_model.safetensors").string(), out, {{"format", "pt"}});
  const std::string path = (fs::path(dir) / "adapter_config.json").string();
  std::ofstream f(path);
  f << peft_adapter_config_json(a);
  f.close();
  require(bool(f), path + ": write failed");
}

LoraAdapter read_peft_directory(const std::string& dir, const TransformerConfig& model_in, bool adopt_head) {
  TransformerConfig model = model_in;
  const fs::path cfg_path = fs::path(dir) / "adapter_config.json";
  const fs::path st_path = fs::path(dir) / "adapter_model.safetensors";
  require(fs::is_regular_file(cfg_path), dir + ": not a PEFT adapter directory (no adapter_config.json)");
  require(fs::is_regular_file(st_path),
          dir + ": not a PEFT adapter directory (no adapter_model.safetensors; adapter_model.bin is not read: "
                "save with safe_serialization=True)");
  const std::string where = cfg_path.string();
  nlohmann::json j;
  {
    std::ifstream f(cfg_path);
    std::stringstream text;
    text << f.rdbuf();
    try {
      j = nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::exception& e) {
      throw Error(where + ": not valid JSON: " + e.what());
    }
  }
  require(j.is_object(), where + ": not a JSON object");
  auto key = [&](const char* k) { return where + ": " + k; };
  auto truthy = [&](const char* k) { return j.contains(k) && j[k].is_boolean() && j[k].get<bool>(); };
  auto non_empty = [&](const char* k) {
    return j.contains(k) && !j[k].is_null() && !(j[k].is_boolean() && !j[k].get<bool>()) &&
           !((j[k].is_object() || j[k].is_array()) && j[k].empty());
  };
  LoraAdapter a;
  a.origin = dir;
  a.base = model;
  a.base_known = false;
  LoraConfig& lo = a.base.lora;
  try {
    if (j.contains("peft_type") && !j["peft_type"].is_null())
      require(j["peft_type"].get<std::string>() == "LORA",
              key("peft_type") + " = \"" + j["peft_type"].get<std::string>() + "\": only LORA adapters are supported");
    require(!truthy("use_dora"), key("use_dora") + " = true: DoRA (weight-decomposed LoRA) is not supported");
    if (j.contains("bias") && j["bias"].is_string())
      require(j["bias"].get<std::string>() == "none",
              key("bias") + " = \"" + j["bias"].get<std::string>() + "\": only \"none\" is supported (no trained biases)");
    require(!truthy("lora_bias"), key("lora_bias") + " = true: a bias on lora_B is not supported");
    for (const char* k : {"rank_pattern", "alpha_pattern"})
      require(!non_empty(k), key(k) + ": per-layer ranks/alphas are not supported (one r and lora_alpha for every layer)");
    for (const char* k : {"target_parameters", "trainable_token_indices", "layer_replication", "alora_invocation_tokens",
                          "use_qalora", "use_bdlora"})
      require(!non_empty(k), key(k) + ": not supported (only plain LoRA on linear layers is)");
    require(j.contains("r") && j["r"].is_number_integer() && j["r"].get<int>() > 0, key("r") + ": a positive integer is required");
    lo.r = j["r"].get<int>();
    lo.alpha = j.contains("lora_alpha") && !j["lora_alpha"].is_null() ? j["lora_alpha"].get<double>() : 8.0;
    require(lo.alpha > 0, key("lora_alpha") + ": must be > 0");
    lo.dropout = j.contains("lora_dropout") && !j["lora_dropout"].is_null() ? j["lora_dropout"].get<double>() : 0.0;
    require(lo.dropout >= 0 && lo.dropout < 1, key("lora_dropout") + ": must be in [0, 1)");
    if (truthy("use_rslora")) {  // scale alpha/sqrt(r) = alpha'/r
      const double alpha = lo.alpha;
      lo.alpha = alpha * std::sqrt(double(lo.r));
      a.note = where + ": use_rslora: scale lora_alpha/sqrt(r) = " + json_double(alpha / std::sqrt(double(lo.r))) +
               " (alpha " + json_double(lo.alpha) + " over r " + std::to_string(lo.r) + ")";
    }
    if (truthy("fan_in_fan_out"))
      require(model.family == Family::GPT2, key("fan_in_fan_out") + " = true: only GPT-2's Conv1D layers store [in, out] weights; this " +
                                               family_name(model.family) + " model's layers are nn.Linear");
    if (j.contains("task_type") && j["task_type"].is_string()) {
      const HeadKind h = head_of_peft_task(j["task_type"].get<std::string>(), key("task_type"));
      if (adopt_head) model.head = a.base.head = h;
      require(h == model.head, key("task_type") + " = \"" + j["task_type"].get<std::string>() +
                                   "\" is for a model with head " + head_name(h) + ", but this model's head is " +
                                   head_name(model.head) + " (model.head)");
    }
    lo.targets.clear();
    if (j.contains("target_modules") && j["target_modules"].is_array())
      for (const auto& t : j["target_modules"]) lo.targets.push_back(t.get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": ill-typed value: " + e.what());
  }
  const std::string head_prefix = "base_model.model.";
  const std::string backbone = hf_backbone_prefix(model);
  const SafetensorsFile st = SafetensorsFile::open(st_path.string());
  std::set<std::string> modules;
  for (const std::string& key_name : st.names()) {
    require(key_name.compare(0, head_prefix.size(), head_prefix) == 0,
            st_path.string() + ": tensor " + key_name + " does not start with base_model.model. (not a PEFT LoRA state dict)");
    std::string name = key_name.substr(head_prefix.size());
    if (!backbone.empty() && name.compare(0, backbone.size(), backbone) == 0) name = name.substr(backbone.size());
    require(name.find(".lora_embedding_") == std::string::npos && name.find(".lora_magnitude_vector") == std::string::npos,
            st_path.string() + ": tensor " + key_name + ": LoRA on embeddings and DoRA magnitudes are not supported");
    if (is_lora_parameter(name)) modules.insert(lora_module_of(name));
    FloatTensor t;
    t.shape = st.info(key_name).shape;
    t.data = st.read_f32(key_name);
    require(a.tensors.emplace(name, std::move(t)).second, st_path.string() + ": tensor " + key_name + " maps to " + name + " twice");
  }
  require(!modules.empty(), st_path.string() + ": holds no lora_A/lora_B tensors");
  if (adopt_head && (model.head == HeadKind::SequenceClassification || model.head == HeadKind::TokenClassification))
    for (const char* w : {"classifier.weight", "score.weight"})
      if (a.tensors.count(w)) a.base.num_labels = int(a.tensors.at(w).shape.at(0));
  // A target_modules regex string ("all-linear", "q_proj|v_proj", ...): the adapted modules themselves.
  if (lo.targets.empty()) lo.targets.assign(modules.begin(), modules.end());
  return a;
}

LoraAdapter read_adapter(const std::string& path, const TransformerConfig& model, MPI_Comm comm) {
  std::error_code ec;
  require(fs::exists(path, ec), path + ": no such adapter file or directory");
  if (fs::is_directory(path, ec)) return read_peft_directory(path, model);
  {
    std::ifstream f(path, std::ios::binary);
    char sig[8] = {};
    f.read(sig, 8);
    require(f.gcount() == 8 && std::string(sig, 8) == std::string("\x89HDF\r\n\x1a\n", 8),
            path + ": not an adapter (neither an HDF5 adapter file from tessera export --adapter nor a PEFT directory)");
  }
  return adapter_from_checkpoint(path, comm);
}

}  // namespace tessera
