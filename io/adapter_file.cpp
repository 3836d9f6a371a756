#include "io/adapter_file.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/checkpoint.hpp"
#include "io/hdf5_file.hpp"
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
  const std::string tmp_dir = path + ".adapter.d";
  on_root(comm, [&] {
    std::error_code ec;
    fs::remove_all(tmp_dir, ec);
    const fs::path parent = fs::path(path).parent_path();
    if (!parent.empty()) fs::create_directories(parent, ec);
    require(!ec, parent.string() + ": cannot create directory: " + ec.message());
  });
  const std::string written = write_checkpoint<float>(tmp_dir, infos, {{"params", slab.data()}}, st, 0, comm);
  on_root(comm, [&] {
    std::error_code ec;
    fs::rename(written, path, ec);
    require(!ec, written + ": cannot rename to " + path + ": " + ec.message());
    fs::remove_all(tmp_dir, ec);
  });
  MPI_Barrier(comm);
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

}  // namespace tessera
