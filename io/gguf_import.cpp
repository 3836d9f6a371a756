// GGUF (llama.cpp) → Tessera Llama: config from <arch>.* metadata, tensors renamed from
// llama.cpp's names, dequantised, and attn_q / attn_k rows un-permuted (io/hf_checkpoint.hpp).
#include <cmath>
#include <set>

#include "io/dequantize.hpp"
#include "io/gguf.hpp"
#include "io/hf_checkpoint.hpp"
#include "io/hf_param_names.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

namespace {

constexpr int64_t kMaxDim = int64_t(1) << 30;

int gguf_dim(const GgufFile& f, const std::string& key, int64_t lo = 1) {
  const int64_t v = f.get_int(key);
  require(v >= lo && v <= kMaxDim, f.path() + ": " + key + " = " + std::to_string(v) + " is out of range [" +
                                       std::to_string(lo) + ", 2^30]");
  return int(v);
}

double gguf_float(const GgufFile& f, const std::string& key, double def) {
  if (!f.has(key)) return def;
  const double v = f.get_float(key);
  require(std::isfinite(v) && v > 0, f.path() + ": " + key + " must be a positive number");
  return v;
}

// GPT-2 (general.architecture = gpt2, as llama.cpp's convert_hf_to_gguf.py writes it).
TransformerConfig gguf_gpt2_config(const GgufFile& f) {
  TransformerConfig c;
  c.family = Family::GPT2;
  c.head = HeadKind::CausalLM;
  c.n_layer = gguf_dim(f, "gpt2.block_count");
  c.n_embd = gguf_dim(f, "gpt2.embedding_length");
  c.n_head = gguf_dim(f, "gpt2.attention.head_count");
  c.n_inner = gguf_dim(f, "gpt2.feed_forward_length");
  c.n_positions = gguf_dim(f, "gpt2.context_length");
  c.layer_norm_epsilon = gguf_float(f, "gpt2.attention.layer_norm_epsilon", 1e-5);
  return c;
}

// Llama (general.architecture = llama).
TransformerConfig gguf_llama_config(const GgufFile& f) {
  TransformerConfig c;
  c.family = Family::Llama;
  c.head = HeadKind::CausalLM;
  c.n_layer = gguf_dim(f, "llama.block_count");
  c.n_embd = gguf_dim(f, "llama.embedding_length");
  c.n_head = gguf_dim(f, "llama.attention.head_count");
  c.n_kv_head = f.has("llama.attention.head_count_kv") ? gguf_dim(f, "llama.attention.head_count_kv") : c.n_head;
  c.n_inner = gguf_dim(f, "llama.feed_forward_length");
  c.n_positions = gguf_dim(f, "llama.context_length");
  c.rope_theta = gguf_float(f, "llama.rope.freq_base", 10000.0);
  c.layer_norm_epsilon = gguf_float(f, "llama.attention.layer_norm_rms_epsilon", 1e-6);
  if (f.has("llama.rope.scaling.type")) {
    const std::string t = f.get_string("llama.rope.scaling.type");
    require(t == "none", f.path() + ": llama.rope.scaling.type '" + t + "' is not supported (plain RoPE only)");
  }
  if (f.has("llama.rope.scaling.factor"))
    require(f.get_float("llama.rope.scaling.factor") == 1.0,
            f.path() + ": llama.rope.scaling.factor is not supported (plain RoPE only)");
  return c;
}

TransformerConfig gguf_config(const GgufFile& f) {
  const std::string arch = f.get_string("general.architecture");
  require(arch == "llama" || arch == "gpt2",
          f.path() + ": general.architecture '" + arch + "' is not supported (llama, gpt2)");
  TransformerConfig c = arch == "gpt2" ? gguf_gpt2_config(f) : gguf_llama_config(f);
  c.embd_pdrop = c.attn_pdrop = c.resid_pdrop = 0.0;
  require(f.contains("token_embd.weight"), f.path() + ": tensor 'token_embd.weight' is missing");
  const std::vector<int64_t> emb = f.tensor("token_embd.weight").shape();
  require(emb.size() == 2 && emb[1] == c.n_embd,
          f.path() + ": tensor 'token_embd.weight' has shape " + shape_string(emb) + ", expected [vocab, " + arch +
              ".embedding_length = " + std::to_string(c.n_embd) + "]");
  require(emb[0] >= 1 && emb[0] <= kMaxDim, f.path() + ": token_embd.weight: vocabulary out of range");
  c.vocab_size = int(emb[0]);
  if (f.has(arch + ".vocab_size"))
    require(f.get_int(arch + ".vocab_size") == c.vocab_size,
            f.path() + ": " + arch + ".vocab_size differs from token_embd.weight's " + std::to_string(c.vocab_size) +
                " rows");
  c.tie_word_embeddings = !f.contains("output.weight");
  if (f.has("tokenizer.ggml.padding_token_id")) {
    const int64_t pad = f.get_int("tokenizer.ggml.padding_token_id");
    if (pad >= 0 && pad < c.vocab_size) c.pad_token_id = int(pad);
  }
  const bool tie = c.tie_word_embeddings;
  apply_family_defaults(c);
  c.tie_word_embeddings = tie;
  validate_transformer_config(c, f.path());
  if (c.family == Family::Llama && f.has("llama.rope.dimension_count"))
    require(f.get_int("llama.rope.dimension_count") == c.head_dim(),
            f.path() + ": llama.rope.dimension_count " + std::to_string(f.get_int("llama.rope.dimension_count")) +
                " differs from the head dimension " + std::to_string(c.head_dim()) + " (partial RoPE is not supported)");
  return c;
}

}  // namespace

namespace {
// Row hf = h·hd + j·half + i of the HF layout is row gg = h·hd + 2i + j of llama.cpp's
// (j ∈ {0,1} the rotary half, i < half = hd/2). to_gguf: copy hf → gg, else gg → hf.
std::vector<float> move_rope_rows(const std::vector<float>& w, int64_t rows, int64_t cols, int n_head, bool to_gguf,
                                  const char* what) {
  require(n_head > 0 && rows % (2 * int64_t(n_head)) == 0 && int64_t(w.size()) == rows * cols,
          std::string(what) + ": rows must be a multiple of 2·n_head");
  const int64_t hd = rows / n_head, half = hd / 2;
  std::vector<float> out(w.size());
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t j = 0; j < 2; ++j)
      for (int64_t i = 0; i < half; ++i) {
        const int64_t hf = h * hd + j * half + i, gg = h * hd + 2 * i + j;
        const int64_t from = to_gguf ? hf : gg, to = to_gguf ? gg : hf;
        std::copy(w.begin() + from * cols, w.begin() + (from + 1) * cols, out.begin() + to * cols);
      }
  return out;
}
}  // namespace

std::vector<float> permute_rope_rows(const std::vector<float>& w, int64_t rows, int64_t cols, int n_head) {
  return move_rope_rows(w, rows, cols, n_head, true, "permute_rope_rows");
}

std::vector<float> unpermute_rope_rows(const std::vector<float>& w, int64_t rows, int64_t cols, int n_head) {
  return move_rope_rows(w, rows, cols, n_head, false, "unpermute_rope_rows");
}

std::map<std::string, std::string> gguf_llama_tensor_names(int n_layer) {
  std::map<std::string, std::string> m = {
      {"embed_tokens.weight", "token_embd.weight"},
      {"norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
  };
  const std::pair<const char*, const char*> block[] = {
      {"input_layernorm.weight", "attn_norm.weight"},       {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},         {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},    {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},          {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  for (int i = 0; i < n_layer; ++i)
    for (const auto& [t, g] : block)
      m["layers." + std::to_string(i) + "." + t] = "blk." + std::to_string(i) + "." + g;
  return m;
}

std::map<std::string, std::string> gguf_gpt2_tensor_names(int n_layer) {
  std::map<std::string, std::string> m = {
      {"wte.weight", "token_embd.weight"},   {"wpe.weight", "position_embd.weight"},
      {"ln_f.weight", "output_norm.weight"}, {"ln_f.bias", "output_norm.bias"},
      {"lm_head.weight", "output.weight"},
  };
  const std::pair<const char*, const char*> block[] = {
      {"ln_1", "attn_norm"}, {"attn.c_attn", "attn_qkv"}, {"attn.c_proj", "attn_output"},
      {"ln_2", "ffn_norm"},  {"mlp.c_fc", "ffn_up"},      {"mlp.c_proj", "ffn_down"},
  };
  for (int i = 0; i < n_layer; ++i)
    for (const auto& [t, g] : block)
      for (const char* part : {".weight", ".bias"})
        m["h." + std::to_string(i) + "." + t + part] = "blk." + std::to_string(i) + "." + g + part;
  return m;
}

std::map<std::string, std::string> gguf_tensor_names(const TransformerConfig& c) {
  require(c.family == Family::Llama || c.family == Family::GPT2,
          std::string("GGUF tensor names exist for the llama and gpt2 architectures, not '") + family_name(c.family) + "'");
  return c.family == Family::GPT2 ? gguf_gpt2_tensor_names(c.n_layer) : gguf_llama_tensor_names(c.n_layer);
}

ImportedModel import_gguf(const std::string& path) {
  const GgufFile f = GgufFile::open(path);
  ImportedModel m;
  m.config = gguf_config(f);
  const TransformerConfig& c = m.config;
  const std::map<std::string, std::string> names = gguf_tensor_names(c);
  const std::vector<ParamShape> expected = transformer_parameter_shapes(c);
  std::set<std::string> wanted;
  for (const ParamShape& p : expected) wanted.insert(names.at(p.name));
  for (const GgufTensorInfo& t : f.tensors())
    require(wanted.count(t.name) > 0, path + ": unexpected tensor '" + t.name + "' (not part of a " +
                                          std::string(family_name(c.family)) + " with " +
                                          std::to_string(c.n_layer) + " blocks)");
  for (const ParamShape& p : expected) {
    const std::string& g = names.at(p.name);
    require(f.contains(g), path + ": tensor '" + g + "' is missing (expected shape " + shape_string(p.shape) + ")");
    const GgufTensorInfo& info = f.tensor(g);
    require(info.shape() == p.shape, path + ": tensor '" + g + "' has shape " + shape_string(info.shape()) +
                                         " but the metadata implies " + shape_string(p.shape));
    require(ggml_type_traits(info.type).dequantizable,
            path + ": tensor '" + g + "' has ggml type " + ggml_type_name(info.type) +
                ", which Tessera cannot dequantise (supported: F32, F16, BF16, F64, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0)");
  }
  for (const ParamShape& p : expected) {
    const std::string& g = names.at(p.name);
    FloatTensor t;
    t.shape = p.shape;
    t.data = f.read_f32(g);
    if (c.family != Family::Llama) {
    } else if (g.size() > 13 && g.compare(g.size() - 13, 13, "attn_q.weight") == 0)
      t.data = unpermute_rope_rows(t.data, p.shape[0], p.shape[1], c.n_head);
    else if (g.size() > 13 && g.compare(g.size() - 13, 13, "attn_k.weight") == 0)
      t.data = unpermute_rope_rows(t.data, p.shape[0], p.shape[1], c.kv_heads());
    m.tensors.emplace(p.name, std::move(t));
  }
  return m;
}

}  // namespace tessera
