#include "src/parallel/root_call.hpp"
#include "io/model_checkpoint.hpp"
#include "src/config/run_config.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "io/checkpoint.hpp"
#include "io/hdf5_file.hpp"
#include "io/hf_param_names.hpp"
#include "src/runtime/error.hpp"

namespace fs = std::filesystem;

namespace tessera {

namespace {



std::vector<ParamInfo> param_infos(const std::vector<ParamShape>& shapes) {
  std::vector<ParamInfo> infos;
  size_t offset = 0;
  for (const ParamShape& p : shapes) {
    ParamInfo info;
    info.name = p.name;
    info.full_shape = info.local_shape = p.shape;
    info.local_start.assign(p.shape.size(), 0);
    info.offset = offset;
    info.numel = size_t(product(p.shape));
    offset += info.numel;
    infos.push_back(std::move(info));
  }
  return infos;
}

size_t total_numel(const std::vector<ParamInfo>& infos) {
  return infos.empty() ? 0 : infos.back().offset + infos.back().numel;
}

}  // namespace

std::string imported_model_toml(const TransformerConfig& c) { return model_toml(c); }

// The run-config parser (every [model] key, presets, family defaults, ranges); a
// training run's whole stored config is accepted too ([data] optional).
TransformerConfig parse_imported_model_toml(const std::string& text, const std::string& origin) {
  return parse_model_config(text, origin).model.transformer;
}

void write_model_checkpoint(const std::string& path, const ImportedModel& m, MPI_Comm comm) {
  // Rank 0 describes the model; every rank builds the same parameter list from it.
  std::string toml_text;
  on_root(comm, [&] {
    check_model_tensors(m, path);
    toml_text = imported_model_toml(m.config);
  });
  broadcast_string(toml_text, comm);
  TransformerConfig cfg = parse_imported_model_toml(toml_text, path + ": /run/config");
  int pooler = m.config.pooler ? 1 : 0;
  MPI_Bcast(&pooler, 1, MPI_INT, 0, comm);
  cfg.pooler = pooler != 0;
  const std::vector<ParamShape> shapes = transformer_parameter_shapes(cfg);
  const std::vector<ParamInfo> infos = param_infos(shapes);

  std::vector<float> slab(1);
  if (h5::comm_rank(comm) == 0) {
    slab.resize(std::max<size_t>(1, total_numel(infos)));
    for (const ParamInfo& info : infos) {
      const std::vector<float>& d = m.tensors.at(info.name).data;
      std::copy(d.begin(), d.end(), slab.begin() + info.offset);
    }
  }
  TrainingState st;
  st.model_family = family_name(cfg.family);
  st.config_toml = toml_text;
  write_checkpoint_file(path, ".import.d", infos, slab.data(), st, comm);
}

void write_checkpoint_file(const std::string& path, const std::string& scratch_suffix,
                           const std::vector<ParamInfo>& infos, const float* params, const TrainingState& st,
                           MPI_Comm comm) {
  const std::string tmp_dir = path + scratch_suffix;
  on_root(comm, [&] {
    std::error_code ec;
    fs::remove_all(tmp_dir, ec);
    const fs::path parent = fs::path(path).parent_path();
    if (!parent.empty()) fs::create_directories(parent, ec);
    require(!ec, parent.string() + ": cannot create directory: " + ec.message());
  });
  const std::string written = write_checkpoint<float>(tmp_dir, infos, {{"params", params}}, st, 0, comm);
  on_root(comm, [&] {
    std::error_code ec;
    fs::rename(written, path, ec);
    require(!ec, written + ": cannot rename to " + path + ": " + ec.message());
    fs::remove_all(tmp_dir, ec);
  });
  MPI_Barrier(comm);
}

namespace {

// A checkpoint trained with LoRA: W ← W + (alpha/r)·B·A for every adapted layer, so
// the returned model is the merged base model (export, HF parity) and has no [lora].
void merge_lora_adapters(ImportedModel& m, const std::string& path, MPI_Comm comm) {
  const std::string suffix = ".lora_A.weight";
  std::vector<ParamShape> shapes;
  {
    h5::File f = h5::File::open_read(path, comm);
    for (const std::string& n : f.list("/params")) {
      if (n.size() <= suffix.size() || n.compare(n.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
      const std::string module = n.substr(0, n.size() - suffix.size());
      shapes.push_back({n, f.dataset_shape("/params/" + n), false});
      shapes.push_back({module + ".lora_B.weight", f.dataset_shape("/params/" + module + ".lora_B.weight"), false});
    }
  }
  require(!shapes.empty(), path + ": /run/config has lora.r > 0 but /params holds no lora_A/lora_B tensors");
  const std::vector<ParamInfo> infos = param_infos(shapes);
  std::vector<float> slab(total_numel(infos));
  read_checkpoint<float>(path, infos, {{"params", slab.data()}}, comm);
  const double s = m.config.lora.scale();
  for (size_t k = 0; k + 1 < infos.size(); k += 2) {
    const ParamInfo &a = infos[k], &b = infos[k + 1];
    const std::string module = a.name.substr(0, a.name.size() - suffix.size());
    auto it = m.tensors.find(module + ".weight");
    require(it != m.tensors.end(), path + ": LoRA tensor " + a.name + " has no base weight " + module + ".weight");
    const int64_t R = a.full_shape[0], in = a.full_shape[1], out = b.full_shape[0];
    require(b.full_shape[1] == R && it->second.shape == std::vector<int64_t>{out, in},
            path + ": LoRA tensors of " + module + " do not fit its weight " + shape_string(it->second.shape));
    const float* A = slab.data() + a.offset;
    const float* B = slab.data() + b.offset;
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) {
        double acc = 0;
        for (int64_t q = 0; q < R; ++q) acc += double(B[o * R + q]) * double(A[q * in + i]);
        it->second.data[size_t(o * in + i)] += float(s * acc);
      }
  }
  m.config.lora = LoraConfig{};
}

}  // namespace

ImportedModel read_model_checkpoint(const std::string& path, MPI_Comm comm) {
  const TrainingState st = read_checkpoint_state(path, comm);
  ImportedModel m;
  m.config = parse_imported_model_toml(st.config_toml, path + ": /run/config");
  require(st.model_family == family_name(m.config.family),
          path + ": /@model_family '" + st.model_family + "' differs from /run/config model.family '" +
              family_name(m.config.family) + "'");
  if (m.config.is_encoder()) {
    h5::File f = h5::File::open_read(path, comm);
    m.config.pooler = f.is_dataset("/params/pooler.dense.weight");
  }
  const std::vector<ParamShape> shapes = transformer_parameter_shapes(m.config);
  const std::vector<ParamInfo> infos = param_infos(shapes);
  std::vector<float> slab(std::max<size_t>(1, total_numel(infos)));
  read_checkpoint<float>(path, infos, {{"params", slab.data()}}, comm);
  for (const ParamInfo& info : infos) {
    FloatTensor t;
    t.shape = info.full_shape;
    t.data.assign(slab.begin() + info.offset, slab.begin() + info.offset + info.numel);
    m.tensors.emplace(info.name, std::move(t));
  }
  if (m.config.lora.enabled()) merge_lora_adapters(m, path, comm);
  return m;
}

}  // namespace tessera
