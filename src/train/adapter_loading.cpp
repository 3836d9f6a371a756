#include "src/train/adapter_loading.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "io/checkpoint.hpp"
#include "io/hdf5_file.hpp"
#include "io/hf_param_names.hpp"
#include "src/compress/quantized_checkpoint.hpp"
#include "src/model/lora_layer.hpp"
#include "src/runtime/error.hpp"
#include "src/train/trainer.hpp"

namespace tessera {

bool is_task_head_parameter(const std::string& name);  // src/model/transformer_lora.cpp

namespace {

std::string shape_text(const std::vector<int64_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
  return o + "]";
}

std::string list_text(const std::vector<std::string>& v) {
  std::string o = "[";
  for (size_t i = 0; i < v.size(); ++i) o += (i ? ", \"" : "\"") + v[i] + "\"";
  return o + "]";
}

std::map<std::string, std::vector<int64_t>> base_shapes(const TransformerConfig& cfg, bool with_head) {
  TransformerConfig c = cfg;
  c.lora = LoraConfig{};
  std::map<std::string, std::vector<int64_t>> m;
  for (const ParamShape& p : transformer_parameter_shapes(c))
    if (with_head || !p.head) m.emplace(p.name, p.shape);
  return m;
}

// A Tessera adapter records its base model: it must be this one (every parameter but
// the head and the pooler, which adapter files do not describe, with the same shape).
void check_adapter_base(const LoraAdapter& a, const TransformerConfig& model) {
  const std::string where = a.origin + " (model.adapter)";
  require(a.base.family == model.family, where + ": an adapter for a " + std::string(family_name(a.base.family)) +
                                             " base model; this model is " + family_name(model.family));
  const auto theirs = base_shapes(a.base, false), mine = base_shapes(model, false);
  auto skipped = [](const std::string& n) { return n.rfind("pooler.", 0) == 0; };
  TransformerConfig plain = model;
  plain.lora = LoraConfig{};
  for (const ParamShape& p : transformer_parameter_shapes(plain)) {  // in the model's order: embeddings first
    const std::string& name = p.name;
    const std::vector<int64_t>& shape = p.shape;
    if (p.head || skipped(name)) continue;
    const auto it = theirs.find(name);
    require(it != theirs.end(), where + ": base model differs: this model has " + name + " " + shape_text(shape) +
                                    ", the adapter's base model has no such tensor");
    require(it->second == shape, where + ": base model differs: " + name + " is " + shape_text(it->second) +
                                     " in the adapter's base model but " + shape_text(shape) + " in this model");
  }
  for (const auto& [name, shape] : theirs)
    require(skipped(name) || mine.count(name), where + ": base model differs: the adapter's base model has " + name +
                                                   " " + shape_text(shape) + ", this model has no such tensor");
}

std::string lora_module_of(const std::string& name) { return name.substr(0, name.rfind(".lora_")); }

}  // namespace

void resolve_adapter(RunConfig& cfg, MPI_Comm comm) {
  if (cfg.model.adapter.empty()) return;
  const std::string origin = cfg.source_path.empty() ? std::string("config") : cfg.source_path;
  const LoraAdapter a = read_adapter(cfg.model.adapter, cfg.model.transformer, comm);
  const LoraConfig& theirs = a.base.lora;
  LoraConfig& mine = cfg.model.transformer.lora;
  auto agree = [&](const char* key, bool same, const std::string& m, const std::string& t) {
    if (!cfg.given.count(std::string("lora.") + key) || same) return;
    throw Error(origin + ": lora." + key + " = " + m + " differs from the adapter's " + t + " (model.adapter = " +
                cfg.model.adapter + "); leave it out to use the adapter's");
  };
  agree("r", mine.r == theirs.r, std::to_string(mine.r), std::to_string(theirs.r));
  agree("alpha", mine.alpha == theirs.alpha, std::to_string(mine.alpha), std::to_string(theirs.alpha));
  agree("targets", mine.targets == theirs.targets, list_text(mine.targets), list_text(theirs.targets));
  mine.r = theirs.r;
  mine.alpha = theirs.alpha;
  mine.targets = theirs.targets;
  if (!cfg.given.count("lora.dropout")) mine.dropout = theirs.dropout;
  if (a.base_known) check_adapter_base(a, cfg.model.transformer);
  check_adapter_tensors(a, cfg.model.transformer);
}

std::string adapter_config_toml(const TransformerConfig& base) {
  RunConfig rc;
  rc.model.family = family_name(base.family);
  rc.model.head = head_name(base.head);
  rc.model.attention = base.attention == AttentionKind::Tiled ? "tiled" : "materialized";
  rc.model.transformer = base;
  return to_toml(rc);
}

void check_adapter_tensors(const LoraAdapter& a, const TransformerConfig& cfg) {
  const std::string where = a.origin + " (model.adapter)";
  const auto full = base_shapes(cfg, true);
  const LoraConfig& lo = cfg.lora;
  for (const auto& [name, t] : a.tensors) {
    if (is_lora_parameter(name)) {
      const std::string module = lora_module_of(name);
      const auto w = full.find(module + ".weight");
      require(w != full.end() && w->second.size() == 2,
              where + ": tensor " + name + " " + shape_text(t.shape) + " is not a parameter of this model (it has no layer " +
                  module + "; its layers are named like " + (full.empty() ? std::string("?") : full.begin()->first) + ")");
      bool hit = false;
      for (const std::string& target : lo.targets) hit = hit || lora_target_matches(target, module);
      require(hit, where + ": tensor " + name + ": layer " + module + " is not adapted by lora.targets = " +
                       list_text(lo.targets));
      const bool is_a = name.find(".lora_A.") != std::string::npos;
      const std::vector<int64_t> want = is_a ? std::vector<int64_t>{lo.r, w->second[1]} : std::vector<int64_t>{w->second[0], lo.r};
      require(t.shape == want, where + ": tensor " + name + " is " + shape_text(t.shape) + " but this model's is " +
                                   shape_text(want) + " (layer " + module + " " + shape_text(w->second) + ", r = " +
                                   std::to_string(lo.r) + "): the adapter was made for another base model");
    } else {
      const auto it = full.find(name);
      require(it != full.end(), where + ": tensor " + name + " " + shape_text(t.shape) +
                                    " is not a parameter of this model (" + (is_task_head_parameter(name) ? "model.head = " + std::string(head_name(cfg.head)) : "names look like " + full.begin()->first) + ")");
      require(it->second == t.shape, where + ": tensor " + name + " is " + shape_text(t.shape) + " but this model's is " +
                                         shape_text(it->second));
    }
    require(t.data.size() == size_t(product(t.shape)), where + ": tensor " + name + ": data size does not match its shape");
  }
}

std::vector<std::string> apply_adapter(GPT2<float>& model, const LoraAdapter& a, const TransformerConfig& cfg) {
  const std::string where = a.origin + " (model.adapter)";
  const LoraConfig& lo = cfg.lora;
  check_adapter_tensors(a, cfg);
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.params().values());
  std::vector<std::string> applied;
  for (const ParamInfo& info : model.params().infos()) {
    const auto it = a.tensors.find(info.name);
    if (it == a.tensors.end()) {
      require(!is_lora_parameter(info.name), where + ": has no tensor " + info.name + ", a LoRA factor of layer " +
                                                 lora_module_of(info.name) + " (adapted by lora.targets = " +
                                                 list_text(lo.targets) + ")");
      continue;
    }
    require(!info.packed, where + ": tensor " + info.name + " is packed (quantised) in this model");
    const FloatTensor& t = it->second;
    // This rank's slice: rows (dim 0, in shard_groups equal blocks) × columns.
    const int64_t rows_full = t.shape[0], cols_full = t.shape.size() > 1 ? t.shape[1] : 1;
    const int64_t rows = info.local_shape[0], cols = info.local_shape.size() > 1 ? info.local_shape[1] : 1;
    const int64_t col0 = info.local_start.size() > 1 ? info.local_start[1] : 0;
    const int64_t g = std::max(1, info.shard_groups), rows_per_group = rows / g, block = rows_full / g;
    float* dst = host.data() + info.offset;
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t src_row = (i / rows_per_group) * block + info.local_start[0] + i % rows_per_group;
      std::copy_n(t.data.data() + size_t(src_row * cols_full + col0), size_t(cols), dst + size_t(i * cols));
    }
    applied.push_back(info.name);
  }
  Kokkos::deep_copy(model.params().values(), host);
  return applied;
}

bool checkpoint_has_lora(const std::string& checkpoint, MPI_Comm comm) {
  h5::File f = h5::File::open_read(checkpoint, comm);
  if (!f.is_group("/params")) return false;
  for (const std::string& n : f.list("/params"))
    if (is_lora_parameter(n)) return true;
  return false;
}

std::unique_ptr<GPT2<float>> load_inference_model(const RunConfig& cfg, const std::string& file, MPI_Comm comm,
                                                  const ModelParallel& mp) {
  return load_inference_model(cfg.model.transformer, cfg.model.adapter, file, comm, mp);
}

std::unique_ptr<GPT2<float>> load_inference_model(const TransformerConfig& mc, const std::string& adapter,
                                                  const std::string& file, MPI_Comm comm, const ModelParallel& mp) {
  if (adapter.empty() || checkpoint_has_lora(file, comm)) return load_inference_model(mc, file, comm, mp);
  require(checkpoint_quantization(file, comm).empty(),
          file + ": a quantised checkpoint cannot take model.adapter (merge the adapter before quantising)");
  const LoraAdapter a = read_adapter(adapter, mc, comm);
  auto model = std::make_unique<GPT2<float>>(mc, mp);
  const std::vector<std::string> missing = load_model_weights(*model, file, comm);
  const std::vector<std::string> applied = apply_adapter(*model, a, mc);
  const std::set<std::string> from_adapter(applied.begin(), applied.end());
  std::string names;
  for (const std::string& m : missing)
    if (!from_adapter.count(m)) names += (names.empty() ? "" : ", ") + m;
  require(names.empty(), file + ": has no weights for " + names + " (and the adapter " + adapter +
                             " has none either: not a base checkpoint of this model)");
  return model;
}

std::string adapter_base_checkpoint(const RunConfig& cfg) {
  return cfg.model.adapter.empty() ? std::string() : cfg.model.init_from;
}

}  // namespace tessera
