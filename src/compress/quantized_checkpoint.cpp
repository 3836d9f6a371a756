// Quantised checkpoint files and the packed inference model (see quantized_checkpoint.hpp).
#include "src/compress/quantized_checkpoint.hpp"

#include <filesystem>
#include <set>
#include "io/checkpoint.hpp"
#include "io/hdf5_file.hpp"
#include "src/parallel/root_call.hpp"
#include "src/runtime/error.hpp"
#include "src/train/trainer.hpp"

namespace fs = std::filesystem;

namespace tessera {

void write_quantized_checkpoint(const std::string& path, const CompressedModel& m,
                                const std::map<std::string, std::vector<int64_t>>& shapes, MPI_Comm comm) {
  on_root(comm, [&] {
    std::vector<ParamInfo> infos;
    std::vector<float> slab;
    for (const auto& [name, data] : m.fp32) {
      ParamInfo info;
      info.name = name;
      info.full_shape = info.local_shape = shapes.at(name);
      info.local_start.assign(info.full_shape.size(), 0);
      info.offset = slab.size();
      info.numel = data.size();
      require(int64_t(data.size()) == product(info.full_shape), path + ": tensor " + name + " has the wrong size");
      slab.insert(slab.end(), data.begin(), data.end());
      infos.push_back(std::move(info));
    }
    if (slab.empty()) slab.resize(1);
    TrainingState st;
    st.model_family = m.model_family;
    st.config_toml = m.config_toml;
    const std::string tmp_dir = path + ".quantize.d";
    std::error_code ec;
    fs::remove_all(tmp_dir, ec);
    const fs::path parent = fs::path(path).parent_path();
    if (!parent.empty()) fs::create_directories(parent, ec);
    const std::string written = write_checkpoint<float>(tmp_dir, infos, {{"params", slab.data()}}, st, 0, MPI_COMM_SELF);
    {
      h5::File f = h5::File::open_write(written, MPI_COMM_SELF);
      if (!m.method.empty()) f.write_attr_string("/", "quantization", m.method);
      if (!m.sparsity.empty()) f.write_attr_string("/", "sparsity", m.sparsity);
      for (const auto& [name, mask] : m.masks) {
        const std::vector<int64_t>& shape = shapes.at(name);
        require(int64_t(mask.size()) == product(shape), path + ": mask of " + name + " has the wrong size");
        const std::string obj = "/masks/" + name;
        h5::Handle d = f.create_dataset(obj, H5T_NATIVE_UINT8, shape);
        h5::write_box(f, d, obj, H5T_NATIVE_UINT8, std::vector<int64_t>(shape.size(), 0), shape, mask.data(), true,
                      true);  // collective on MPI_COMM_SELF: HDF5 writes filtered (checksummed) data only collectively
      }
      for (const auto& [name, t] : m.packed) {
        const std::string g = "/quantized/" + name;
        const int64_t rb = packed_row_bytes(t.format, t.cols);
        require(int64_t(t.blocks.size()) == t.rows * rb, path + ": packed tensor " + name + " has the wrong size");
        f.create_group(g);
        f.write_attr_string(g, "format", packed_format_name(t.format));
        f.write_attr_i64(g, "rows", t.rows);
        f.write_attr_i64(g, "cols", t.cols);
        h5::Handle d = f.create_dataset(g + "/blocks", H5T_NATIVE_UINT8, {t.rows, rb});
        h5::write_box(f, d, g + "/blocks", H5T_NATIVE_UINT8, {0, 0}, {t.rows, rb}, t.blocks.data(), true, true);
        if (t.format == PackedFormat::Int8) {
          h5::Handle s = f.create_dataset(g + "/scale", H5T_NATIVE_FLOAT, {t.rows});
          h5::write_box(f, s, g + "/scale", H5T_NATIVE_FLOAT, {0}, {t.rows}, t.row_scale.data(), true, true);
        }
      }
      f.close();
    }
    fs::rename(written, path, ec);
    require(!ec, written + ": cannot rename to " + path + ": " + ec.message());
    fs::remove_all(tmp_dir, ec);
  });
  MPI_Barrier(comm);
}

std::string checkpoint_quantization(const std::string& path, MPI_Comm comm) {
  h5::File f = h5::File::open_read(path, comm);
  return f.has_attr("/", "quantization") ? f.read_attr_string("/", "quantization") : "";
}

namespace {

// This rank's slice of one packed tensor, read from /quantized/<name>.
PackedMatrix read_packed_slice(const h5::File& f, const ParamInfo& info) {
  const std::string g = "/quantized/" + info.name;
  const std::string what = f.path() + ": " + g;
  const PackedFormat fmt = parse_packed_format(f.read_attr_string(g, "format"), what);
  const int64_t rows = f.read_attr_i64(g, "rows"), cols = f.read_attr_i64(g, "cols");
  require(info.full_shape.size() == 2 && rows == info.full_shape[0] && cols == info.full_shape[1],
          what + ": shape [" + std::to_string(rows) + ", " + std::to_string(cols) + "] differs from the model's [" +
              std::to_string(info.full_shape[0]) + ", " + std::to_string(info.full_shape[1]) + "]");
  const int64_t rb = packed_row_bytes(fmt, cols), bc = packed_block_cols(fmt), bb = packed_block_bytes(fmt);
  const std::vector<int64_t> shape = f.dataset_shape(g + "/blocks");
  require(shape == std::vector<int64_t>{rows, rb}, what + "/blocks: not [rows, row bytes] of a " +
                                                       std::string(packed_format_name(fmt)) + " matrix");
  const int64_t r0 = info.local_start[0], rl = info.local_shape[0];
  const int64_t c0 = info.local_start[1], cl = info.local_shape[1];
  // Row-parallel slices split the reduction dimension: only along whole blocks.
  require(c0 % bc == 0 && cl % bc == 0, what + ": tensor-parallel slice of columns [" + std::to_string(c0) + ", " +
                                            std::to_string(c0 + cl) + ") is not aligned to the " +
                                            packed_format_name(fmt) + " block of " + std::to_string(bc));
  PackedMatrix m;
  m.format = fmt;
  m.rows = rl;
  m.cols = cl;
  const int64_t lrb = cl / bc * bb;
  std::vector<uint8_t> host(size_t(rl * lrb));
  {
    h5::Handle d = f.open_dataset(g + "/blocks");
    h5::read_box(f, d, g + "/blocks", H5T_NATIVE_UINT8, {r0, c0 / bc * bb}, {rl, lrb}, host.data(), true, false,
                 info.shard_groups);
  }
  m.bytes = View1<uint8_t>("packed_" + info.name, host.size());
  Kokkos::deep_copy(m.bytes, HostView1<uint8_t>(host.data(), host.size()));
  if (fmt == PackedFormat::Int8) {
    std::vector<float> s(static_cast<size_t>(rl));
    h5::Handle d = f.open_dataset(g + "/scale");
    h5::read_box(f, d, g + "/scale", H5T_NATIVE_FLOAT, {r0}, {rl}, s.data(), true, false, info.shard_groups);
    m.row_scale = View1<float>("packed_scale_" + info.name, s.size());
    Kokkos::deep_copy(m.row_scale, HostView1<float>(s.data(), s.size()));
  }
  return m;
}

}  // namespace

std::unique_ptr<GPT2<float>> load_inference_model(const TransformerConfig& cfg, const std::string& path, MPI_Comm comm,
                                                  const ModelParallel& mp) {
  std::set<std::string> packed;
  {
    h5::File f = h5::File::open_read(path, comm);
    if (f.is_group("/quantized"))
      for (const std::string& n : f.list("/quantized")) packed.insert(n);
  }
  auto model = std::make_unique<GPT2<float>>(cfg, mp, packed);
  for (const std::string& n : packed)
    require(model->params().contains(n) || mp.pp_size > 1,
            path + ": /quantized/" + n + " is not a parameter of the model");
  if (packed.empty()) {
    const auto missing = load_model_weights(*model, path, comm);
    std::string names;
    for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
    require(missing.empty(), path + ": has no weights for " + names + " (not a checkpoint of this model)");
    return model;
  }
  std::vector<ParamInfo> dense;
  for (const ParamInfo& info : model->params().infos())
    if (!info.packed) dense.push_back(info);
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model->params().values());
  read_checkpoint<float>(path, dense, {TensorGroupIn<float>{"params", host.data()}}, comm);
  Kokkos::deep_copy(model->params().values(), host);
  h5::File f = h5::File::open_read(path, comm);
  for (const ParamInfo& info : model->params().infos())
    if (info.packed) model->params().set_packed(info.name, read_packed_slice(f, info));
  return model;
}

}  // namespace tessera
