// tessera export --format gguf (see gguf_export.hpp).
#include "src/compress/gguf_export.hpp"

#include <cstring>
#include <filesystem>
#include <memory>
#include "io/checkpoint.hpp"
#include "io/dequantize.hpp"
#include "io/gguf.hpp"
#include "io/gguf_bpe_metadata.hpp"
#include "io/gguf_writer.hpp"
#include "io/hdf5_file.hpp"
#include "io/hf_checkpoint.hpp"
#include "io/hf_param_names.hpp"
#include "io/model_checkpoint.hpp"
#include "src/compress/block_quantize.hpp"
#include "src/config/run_config.hpp"
#include "src/parallel/root_call.hpp"
#include "src/runtime/error.hpp"
#include "src/tensor/parameter_set.hpp"
#include "src/train/trainer.hpp"

namespace tessera {

namespace {

// One tensor as the checkpoint holds it: float32 values or packed rows.
struct Source {
  std::vector<int64_t> shape;
  std::vector<float> values;  // float tensors
  bool packed = false;
  PackedFormat format = PackedFormat::Q8_0;
  std::vector<uint8_t> blocks;   // packed: rows · packed_row_bytes
  std::vector<float> row_scale;  // int8
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Row r of the GGUF tensor is row src_row[r] of the Tessera (HF-order) tensor.
std::vector<int64_t> rope_source_rows(int64_t rows, int n_head, const std::string& what) {
  require(n_head > 0 && rows % (2 * int64_t(n_head)) == 0, what + ": rows are not a multiple of 2·heads");
  const int64_t hd = rows / n_head, half = hd / 2;
  std::vector<int64_t> src(static_cast<size_t>(rows));
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t j = 0; j < 2; ++j)
      for (int64_t i = 0; i < half; ++i) src[size_t(h * hd + 2 * i + j)] = h * hd + j * half + i;
  return src;
}

template <class T>
std::vector<T> permute_rows(const std::vector<T>& v, const std::vector<int64_t>& src_row, int64_t row_len) {
  std::vector<T> out(v.size());
  for (size_t r = 0; r < src_row.size(); ++r)
    std::copy(v.begin() + src_row[r] * row_len, v.begin() + (src_row[r] + 1) * row_len, out.begin() + int64_t(r) * row_len);
  return out;
}

std::vector<float> dequantize_packed(const Source& s) {
  const int64_t rows = s.shape[0], cols = s.shape[1], rb = packed_row_bytes(s.format, cols);
  std::vector<float> v(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    dequantize_row(s.format, &s.blocks[size_t(r * rb)], s.format == PackedFormat::Int8 ? s.row_scale[size_t(r)] : 0.f,
                   cols, &v[size_t(r * cols)]);
  return v;
}

// ggml's llama_ftype of the block weights' type.
uint32_t file_type_of(uint32_t t) {
  switch (GgmlType(t)) {
    case GgmlType::F32: return 0;
    case GgmlType::F16: return 1;
    case GgmlType::Q4_0: return 2;
    case GgmlType::Q4_1: return 3;
    case GgmlType::Q8_0: return 7;
    default: return 0;
  }
}

const char* file_type_name(uint32_t ft) {
  switch (ft) {
    case 0: return "ALL_F32";
    case 1: return "MOSTLY_F16";
    case 2: return "MOSTLY_Q4_0";
    case 3: return "MOSTLY_Q4_1";
    case 7: return "MOSTLY_Q8_0";
    default: return "?";
  }
}

TransformerConfig checkpoint_model_config(const std::string& path) {
  const TrainingState st = read_checkpoint_state(path, MPI_COMM_SELF);
  RunConfig cfg = parse_model_config(st.config_toml, path + " (stored config)");
  resolve_init_from(cfg, MPI_COMM_SELF);
  return cfg.model.transformer;
}

std::map<std::string, Source> read_sources(const std::string& path, const TransformerConfig& c,
                                           const std::vector<ParamShape>& shapes) {
  std::map<std::string, Source> out;
  if (c.lora.enabled()) {  // merged W + alpha/r·B·A, as export --format hf writes it
    ImportedModel m = read_model_checkpoint(path, MPI_COMM_SELF);
    for (const ParamShape& p : shapes) {
      Source s;
      s.shape = p.shape;
      s.values = std::move(m.tensors.at(p.name).data);
      out.emplace(p.name, std::move(s));
    }
    return out;
  }
  h5::File f = h5::File::open_read(path, MPI_COMM_SELF);
  for (const ParamShape& p : shapes) {
    Source s;
    s.shape = p.shape;
    const std::string q = "/quantized/" + p.name;
    if (f.is_group(q)) {
      const std::string what = path + ": " + q;
      s.packed = true;
      s.format = parse_packed_format(f.read_attr_string(q, "format"), what + " (attribute format)");
      require(p.shape.size() == 2 && f.read_attr_i64(q, "rows") == p.shape[0] && f.read_attr_i64(q, "cols") == p.shape[1],
              what + ": rows/cols differ from the model's " + shape_string(p.shape));
      const int64_t rb = packed_row_bytes(s.format, p.shape[1]);
      require(f.dataset_shape(q + "/blocks") == std::vector<int64_t>{p.shape[0], rb},
              what + "/blocks: not [rows, row bytes] of a " + packed_format_name(s.format) + " matrix");
      s.blocks.resize(size_t(p.shape[0] * rb));
      h5::Handle d = f.open_dataset(q + "/blocks");
      h5::read_box(f, d, q + "/blocks", H5T_NATIVE_UINT8, {0, 0}, {p.shape[0], rb}, s.blocks.data(), true, true);
      if (s.format == PackedFormat::Int8) {
        s.row_scale.resize(size_t(p.shape[0]));
        h5::Handle sd = f.open_dataset(q + "/scale");
        h5::read_box(f, sd, q + "/scale", H5T_NATIVE_FLOAT, {0}, {p.shape[0]}, s.row_scale.data(), true, true);
      }
    } else {
      const std::string obj = "/params/" + p.name;
      require(f.is_dataset(obj), path + ": " + obj + " is missing (not a checkpoint of this model)");
      require(f.dataset_shape(obj) == p.shape, path + ": " + obj + " has shape " + shape_string(f.dataset_shape(obj)) +
                                                   ", the model's is " + shape_string(p.shape));
      s.values.resize(size_t(product(p.shape)));
      h5::Handle d = f.open_dataset(obj);
      h5::read_box(f, d, obj, H5T_NATIVE_FLOAT, std::vector<int64_t>(p.shape.size(), 0), p.shape, s.values.data(),
                   true, true);
    }
    out.emplace(p.name, std::move(s));
  }
  return out;
}

}  // namespace

GgufExportSummary export_gguf(const std::string& checkpoint, const std::string& out, const GgufExportOptions& opt,
                              MPI_Comm comm) {
  const std::string& q = opt.quant;
  require(q.empty() || q == "f32" || q == "f16" || q == "q8_0" || q == "q4_0" || q == "q4_1",
          "export: --quant '" + q + "' is not one of f32, f16, q8_0, q4_0, q4_1");
  GgufExportSummary sum;
  on_root(comm, [&] {
    const TransformerConfig c = checkpoint_model_config(checkpoint);
    require(c.family == Family::Llama || c.family == Family::GPT2,
            checkpoint + ": export --format gguf supports the decoders llama.cpp runs (model.family = \"llama\" or "
                         "\"gpt2\"), not '" + std::string(family_name(c.family)) + "'");
    const bool llama = c.family == Family::Llama;
    const std::string arch = llama ? "llama" : "gpt2";
    require(c.head == HeadKind::CausalLM, checkpoint + ": export --format gguf needs a causal LM head (model.head = \"causal_lm\")");
    const std::vector<ParamShape> shapes = transformer_parameter_shapes(c);
    const std::map<std::string, std::string> names = gguf_tensor_names(c);
    for (const ParamShape& p : shapes)
      require(names.count(p.name) > 0, checkpoint + ": tensor " + p.name + " has no llama.cpp " + arch + " name");
    auto sources = std::make_shared<std::map<std::string, Source>>(read_sources(checkpoint, c, shapes));

    GgufWriter w;
    w.set_string("general.architecture", arch);
    sum.architecture = arch;
    w.set_string("general.name", opt.name.empty() ? std::filesystem::path(checkpoint).stem().string() : opt.name);
    std::map<uint32_t, int> block_types;  // ggml type of blk.* matrices
    bool any_quantized = false;
    for (const ParamShape& p : shapes) {
      const std::string g = names.at(p.name);
      const std::string what = checkpoint + ": tensor " + p.name;
      Source& s = sources->at(p.name);
      const int heads = !llama ? 0 : ends_with(g, "attn_q.weight") ? c.n_head : ends_with(g, "attn_k.weight") ? c.kv_heads() : 0;
      std::vector<uint64_t> dims(p.shape.rbegin(), p.shape.rend());
      const int64_t rows = p.shape[0], cols = p.shape.size() == 2 ? p.shape[1] : 0;
      std::vector<int64_t> src_rows;
      if (heads > 0) src_rows = rope_source_rows(rows, heads, what);
      // Decide the output type.
      bool as_is = false;
      std::string fmt = "f32";
      if (s.packed) {
        const std::string have = packed_format_name(s.format);
        require(s.format != PackedFormat::Int8 || !q.empty(),
                what + ": int8 per-channel weights have no GGUF type; pass --quant q8_0 (or f16, f32, q4_0, q4_1) to "
                       "requantise them");
        if (q.empty() || q == have) {
          as_is = true;
          fmt = have;
        } else {
          s.values = dequantize_packed(s);
          s.blocks.clear();
          s.packed = false;
          ++sum.requantized;
          fmt = q;
        }
      } else if (p.shape.size() == 2 && !q.empty()) {
        fmt = q;
      }
      uint32_t type = 0;
      uint64_t nbytes = 0;
      std::function<std::vector<uint8_t>()> produce;
      const std::string name = p.name;
      if (fmt == "f32" || fmt == "f16") {
        const bool half = fmt == "f16";
        type = uint32_t(half ? GgmlType::F16 : GgmlType::F32);
        nbytes = uint64_t(product(p.shape)) * (half ? 2 : 4);
        produce = [sources, name, src_rows, cols, half] {
          Source& s = sources->at(name);
          std::vector<float> v = src_rows.empty() ? std::move(s.values) : permute_rows(s.values, src_rows, cols);
          s.values = {};
          std::vector<uint8_t> b(v.size() * (half ? 2 : 4));
          if (half) {
            for (size_t i = 0; i < v.size(); ++i) {
              const uint16_t h = fp32_to_fp16(v[i]);
              b[2 * i] = uint8_t(h & 0xff);
              b[2 * i + 1] = uint8_t(h >> 8);
            }
          } else {
            std::memcpy(b.data(), v.data(), b.size());
          }
          return b;
        };
      } else {
        const PackedFormat pf = parse_packed_format(fmt, "export: --quant");
        type = uint32_t(packed_ggml_type(pf));
        require(cols % packed_block_cols(pf) == 0,
                what + ": " + std::to_string(cols) + " columns are not a multiple of the " + fmt + " block (32)");
        const int64_t rb = packed_row_bytes(pf, cols);
        nbytes = uint64_t(rows * rb);
        any_quantized = true;
        if (as_is) {
          produce = [sources, name, src_rows, rb] {
            Source& s = sources->at(name);
            std::vector<uint8_t> b = src_rows.empty() ? std::move(s.blocks) : permute_rows(s.blocks, src_rows, rb);
            s.blocks = {};
            return b;
          };
        } else {
          produce = [sources, name, src_rows, rows, cols, rb, pf] {
            Source& s = sources->at(name);
            std::vector<float> v = src_rows.empty() ? std::move(s.values) : permute_rows(s.values, src_rows, cols);
            s.values = {};
            std::vector<uint8_t> b(size_t(rows * rb));
            for (int64_t r = 0; r < rows; ++r) quantize_row(pf, &v[size_t(r * cols)], cols, &b[size_t(r * rb)], nullptr);
            return b;
          };
        }
      }
      if (p.shape.size() == 2 && g.rfind("blk.", 0) == 0) ++block_types[type];
      ++sum.tensors_by_type[ggml_type_name(type)];
      w.add_tensor(g, dims, type, nbytes, std::move(produce));
    }
    uint32_t main_type = 0;
    int most = -1;
    for (const auto& [t, n] : block_types)
      if (n > most) { most = n; main_type = t; }
    const uint32_t ft = file_type_of(main_type);
    sum.file_type = file_type_name(ft);
    w.set_u32("general.file_type", ft);
    if (any_quantized) w.set_u32("general.quantization_version", 2);
    w.set_u32(arch + ".context_length", uint32_t(c.n_positions));
    w.set_u32(arch + ".embedding_length", uint32_t(c.n_embd));
    w.set_u32(arch + ".block_count", uint32_t(c.n_layer));
    w.set_u32(arch + ".feed_forward_length", uint32_t(c.ffn_dim()));
    w.set_u32(arch + ".attention.head_count", uint32_t(c.n_head));
    if (llama) {
      w.set_u32("llama.attention.head_count_kv", uint32_t(c.kv_heads()));
      w.set_f32("llama.rope.freq_base", float(c.rope_theta));
      w.set_f32("llama.attention.layer_norm_rms_epsilon", float(c.layer_norm_epsilon));
      w.set_u32("llama.rope.dimension_count", uint32_t(c.head_dim()));
    } else {
      w.set_f32("gpt2.attention.layer_norm_epsilon", float(c.layer_norm_epsilon));
    }
    w.set_u32(arch + ".vocab_size", uint32_t(c.vocab_size));
    if (!opt.tokenizer.empty()) {
      // A GGUF (its tokenizer.* copied) or a GPT-2 tokenizer directory (vocab.json + merges.txt).
      std::vector<std::pair<std::string, GgufValue>> kv;
      if (std::filesystem::is_directory(opt.tokenizer)) {
        kv = gguf_bpe_metadata(opt.tokenizer);
      } else {
        const GgufFile tok = GgufFile::open(opt.tokenizer);
        require(tok.has("tokenizer.ggml.tokens"), opt.tokenizer + ": --tokenizer has no tokenizer.ggml.tokens");
        for (const auto& [key, v] : tok.metadata())
          if (key.rfind("tokenizer.", 0) == 0) kv.emplace_back(key, v);
      }
      size_t n = 0;
      for (const auto& [key, v] : kv)
        if (key == "tokenizer.ggml.tokens") n = v.strings.size();
      require(int64_t(n) == c.vocab_size, opt.tokenizer + ": --tokenizer has " + std::to_string(n) +
                                              " tokens, the model's vocabulary " + std::to_string(c.vocab_size));
      for (const auto& [key, v] : kv) w.set(key, v);
      sum.tokenizer = true;
    }
    std::error_code ec;
    const std::filesystem::path parent = std::filesystem::path(out).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    sum.bytes = w.write(out);
  });
  return sum;
}

}  // namespace tessera
