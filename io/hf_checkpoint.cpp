#include "io/hf_checkpoint.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "io/hf_config.hpp"
#include "io/hf_param_names.hpp"
#include "io/safetensors.hpp"
#include "src/runtime/error.hpp"

namespace fs = std::filesystem;

namespace tessera {

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Tensors HF checkpoints may carry that are not parameters.
bool is_buffer(Family f, const std::string& n) {
  if (f == Family::GPT2) return ends_with(n, ".attn.bias") || ends_with(n, ".attn.masked_bias");
  if (f == Family::Llama) return ends_with(n, ".rotary_emb.inv_freq");
  return ends_with(n, "embeddings.position_ids") || ends_with(n, "embeddings.token_type_ids");
}

bool is_head_name(const std::string& n) {
  return n == "lm_head.weight" || starts_with(n, "classifier.") || starts_with(n, "score.") ||
         starts_with(n, "qa_outputs.");
}

// BERT/RoBERTa pre-training heads (BertForMaskedLM / BertForPreTraining / RobertaForMaskedLM).
bool is_pretraining_head(Family f, const std::string& n) {
  return (f == Family::BERT && starts_with(n, "cls.")) || (f == Family::RoBERTa && starts_with(n, "lm_head."));
}

std::vector<std::string> backbone_prefixes(Family f) {
  switch (f) {
    case Family::GPT2: return {"transformer.", ""};
    case Family::BERT: return {"bert.", ""};
    case Family::RoBERTa: return {"roberta.", ""};
    case Family::Llama: return {"model.", "transformer.", ""};
  }
  return {""};
}

const char* embedding_name(Family f) {
  switch (f) {
    case Family::GPT2: return "wte.weight";
    case Family::BERT:
    case Family::RoBERTa: return "embeddings.word_embeddings.weight";
    case Family::Llama: return "embed_tokens.weight";
  }
  return "";
}

// The safetensors files of a HF directory, and which holds each tensor.
struct SafetensorsSet {
  std::vector<SafetensorsFile> files;
  std::map<std::string, size_t> where;
  const SafetensorsFile& file_of(const std::string& name) const { return files[where.at(name)]; }
};

SafetensorsSet open_safetensors(const std::string& dir) {
  SafetensorsSet set;
  const fs::path single = fs::path(dir) / "model.safetensors";
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  std::error_code ec;
  if (fs::exists(single, ec)) {
    set.files.push_back(SafetensorsFile::open(single.string()));
    for (const std::string& n : set.files[0].names()) set.where[n] = 0;
    return set;
  }
  if (!fs::exists(index, ec)) {
    const bool bin = fs::exists(fs::path(dir) / "pytorch_model.bin", ec);
    throw Error(dir + ": no model.safetensors or model.safetensors.index.json" +
                (bin ? std::string(" (pytorch_model.bin is not supported: convert it to safetensors)") : ""));
  }
  std::ifstream in(index, std::ios::binary);
  require(bool(in), index.string() + ": cannot open");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(index.string() + ": not valid JSON: " + e.what());
  }
  require(j.is_object() && j.contains("weight_map") && j["weight_map"].is_object(),
          index.string() + ": weight_map: missing or not an object {tensor: shard file}");
  std::map<std::string, size_t> shard_index;
  std::map<std::string, std::string> mapped;
  for (const auto& [name, v] : j["weight_map"].items()) {
    require(v.is_string(), index.string() + ": weight_map: '" + name + "' must map to a file name");
    const std::string shard = v.get<std::string>();
    require(!shard.empty() && shard.find('/') == std::string::npos && shard != "." && shard != "..",
            index.string() + ": weight_map: '" + name + "' maps to '" + shard + "', not a file in " + dir);
    mapped[name] = shard;
    if (!shard_index.count(shard)) {
      shard_index[shard] = set.files.size();
      set.files.push_back(SafetensorsFile::open((fs::path(dir) / shard).string()));
    }
  }
  for (size_t i = 0; i < set.files.size(); ++i)
    for (const std::string& n : set.files[i].names()) {
      auto [it, fresh] = set.where.emplace(n, i);
      if (!fresh)
        throw Error(set.files[i].path() + ": tensor '" + n + "' is also in " + set.files[it->second].path());
    }
  for (const auto& [name, shard] : mapped) {
    auto it = set.where.find(name);
    if (it == set.where.end() || it->second != shard_index.at(shard))
      throw Error(index.string() + ": weight_map: tensor '" + name + "' is not in " + shard);
  }
  return set;
}

std::vector<int64_t> reversed(std::vector<int64_t> s) { return {s.rbegin(), s.rend()}; }

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

}  // namespace

ImportedModel import_hf_directory(const std::string& dir) {
  std::error_code ec;
  require(fs::is_directory(dir, ec), dir + ": not a directory (expected a Hugging Face model directory or a .gguf file)");
  ImportedModel m;
  TransformerConfig& cfg = m.config;
  const std::string config_path = (fs::path(dir) / "config.json").string();
  cfg = load_hf_config(config_path);
  const SafetensorsSet st = open_safetensors(dir);
  const std::string where = st.files.size() == 1 ? st.files[0].path() : dir + " (safetensors shards)";

  std::string prefix;
  bool found = false;
  for (const std::string& p : backbone_prefixes(cfg.family))
    if (st.where.count(p + embedding_name(cfg.family))) {
      prefix = p;
      found = true;
      break;
    }
  if (!found)
    throw Error(where + ": no token embedding '" + backbone_prefixes(cfg.family)[0] + embedding_name(cfg.family) +
                "' (is this a " + family_name(cfg.family) + " checkpoint, as " + config_path + " says?)");

  // Source name → Tessera name.
  std::map<std::string, std::string> source_of;
  for (const auto& [name, idx] : st.where) {
    (void)idx;
    if (is_buffer(cfg.family, name)) {
      m.dropped.push_back(name);
      continue;
    }
    std::string rest;
    if (!prefix.empty() && starts_with(name, prefix)) {
      rest = name.substr(prefix.size());
    } else if (prefix.empty() || is_head_name(name) || is_pretraining_head(cfg.family, name)) {
      rest = name;
    } else {
      throw Error(st.file_of(name).path() + ": unexpected tensor '" + name + "' (not under the " +
                  family_name(cfg.family) + " model prefix '" + prefix + "')");
    }
    if (cfg.is_encoder() && is_pretraining_head(cfg.family, rest)) {
      m.dropped.push_back(name);
      continue;
    }
    if (ends_with(rest, "LayerNorm.gamma")) rest = rest.substr(0, rest.size() - 5) + "weight";
    else if (ends_with(rest, "LayerNorm.beta")) rest = rest.substr(0, rest.size() - 4) + "bias";
    auto [it, fresh] = source_of.emplace(rest, name);
    if (!fresh)
      throw Error(where + ": tensors '" + it->second + "' and '" + name + "' are both parameter '" + rest + "'");
  }
  if (cfg.is_encoder()) cfg.pooler = source_of.count("pooler.dense.weight") > 0;

  const std::vector<ParamShape> expected = transformer_parameter_shapes(cfg);
  std::set<std::string> wanted;
  for (const ParamShape& p : expected) wanted.insert(p.name);
  for (const auto& [rest, name] : source_of) {
    if (wanted.count(rest)) continue;
    if (rest == "lm_head.weight" && cfg.tie_word_embeddings && cfg.head == HeadKind::CausalLM) {
      m.dropped.push_back(name);  // tied: HF uses the embedding
      continue;
    }
    throw Error(st.file_of(name).path() + ": unexpected tensor '" + name + "' (not a parameter of " +
                hf_architecture(cfg) + " as " + config_path + " describes it)");
  }

  for (const ParamShape& p : expected) {
    const std::string hf_name = p.head ? p.name : prefix + p.name;
    auto it = source_of.find(p.name);
    if (it == source_of.end())
      throw Error(where + ": tensor '" + hf_name + "' is missing (" + config_path + " implies shape " +
                  shape_string(p.shape) + ")");
    const SafetensorsFile& f = st.file_of(it->second);
    const SafetensorsTensorInfo& info = f.info(it->second);
    const bool transposed = hf_stores_transposed(cfg, p.name);
    const std::vector<int64_t> hf_shape = transposed ? reversed(p.shape) : p.shape;
    if (info.shape != hf_shape)
      throw Error(f.path() + ": tensor '" + it->second + "' has shape " + shape_string(info.shape) + " but " +
                  config_path + " implies " + shape_string(hf_shape));
    if (info.dtype != StDtype::F32 && info.dtype != StDtype::F16 && info.dtype != StDtype::BF16)
      throw Error(f.path() + ": tensor '" + it->second + "' has dtype " + st_dtype_name(info.dtype) +
                  " (only F32, F16 and BF16 weights are imported)");
    FloatTensor t;
    t.shape = p.shape;
    t.data = f.read_f32(it->second);
    if (transposed) t.data = transpose_2d(t.data, hf_shape[0], hf_shape[1]);
    m.tensors.emplace(p.name, std::move(t));
  }
  return m;
}

ImportedModel import_pretrained(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return import_hf_directory(path);
  require(fs::exists(path, ec), path + ": no such file or directory");
  char magic[4] = {0, 0, 0, 0};
  std::ifstream in(path, std::ios::binary);
  in.read(magic, 4);
  if (in.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0) return import_gguf(path);
  throw Error(path + ": neither a Hugging Face model directory (config.json + model.safetensors) nor a GGUF file");
}

void check_model_tensors(const ImportedModel& m, const std::string& origin) {
  const std::vector<ParamShape> expected = transformer_parameter_shapes(m.config);
  std::set<std::string> wanted;
  for (const ParamShape& p : expected) {
    wanted.insert(p.name);
    auto it = m.tensors.find(p.name);
    require(it != m.tensors.end(), origin + ": parameter '" + p.name + "' is missing (expected shape " +
                                       shape_string(p.shape) + ")");
    require(it->second.shape == p.shape, origin + ": parameter '" + p.name + "' has shape " +
                                             shape_string(it->second.shape) + " but the config implies " +
                                             shape_string(p.shape));
    require(int64_t(it->second.data.size()) == numel(p.shape),
            origin + ": parameter '" + p.name + "' holds " + std::to_string(it->second.data.size()) +
                " values, its shape " + shape_string(p.shape) + " needs " + std::to_string(numel(p.shape)));
  }
  for (const auto& [name, t] : m.tensors)
    require(wanted.count(name) > 0, origin + ": parameter '" + name + "' is not part of a " +
                                        family_name(m.config.family) + " model with head " + head_name(m.config.head));
}

void export_hf_directory(const std::string& dir, const ImportedModel& m, StDtype dtype) {
  require(dtype == StDtype::F32 || dtype == StDtype::BF16 || dtype == StDtype::F16,
          dir + ": export dtype " + st_dtype_name(dtype) + " is not supported (F32, BF16, F16)");
  check_model_tensors(m, dir);
  const TransformerConfig& cfg = m.config;
  const std::string prefix = hf_backbone_prefix(cfg);
  std::map<std::string, SafetensorsTensor> out;
  for (const ParamShape& p : transformer_parameter_shapes(cfg)) {
    const FloatTensor& t = m.tensors.at(p.name);
    SafetensorsTensor s;
    s.dtype = dtype;
    if (hf_stores_transposed(cfg, p.name)) {
      s.shape = reversed(p.shape);
      s.data = transpose_2d(t.data, p.shape[0], p.shape[1]);
    } else {
      s.shape = p.shape;
      s.data = t.data;
    }
    out.emplace(p.head ? p.name : prefix + p.name, std::move(s));
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  require(!ec, dir + ": cannot create directory: " + ec.message());
  write_safetensors((fs::path(dir) / "model.safetensors").string(), out, {{"format", "pt"}});
  const std::string config_path = (fs::path(dir) / "config.json").string();
  {
    std::ofstream f(config_path + ".tmp", std::ios::binary | std::ios::trunc);
    f << hf_config_json(cfg, dtype == StDtype::BF16 ? "bfloat16" : dtype == StDtype::F16 ? "float16" : "float32");
    f.close();
    require(bool(f), config_path + ".tmp: write failed");
  }
  fs::rename(config_path + ".tmp", config_path, ec);
  require(!ec, config_path + ": cannot rename from .tmp: " + ec.message());
}

}  // namespace tessera
