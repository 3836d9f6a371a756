// LoRA adapters of the transformer: which layers carry one, the per-call operands
// for the forward/backward (lora_layer.hpp), and merging into the base weights.
#include <fnmatch.h>
#include <string>
#include "src/model/transformer_internals.hpp"

namespace tessera {

bool lora_target_matches(const std::string& target, const std::string& module) {
  if (target == module) return true;
  if (module.size() > target.size() && module.compare(module.size() - target.size(), target.size(), target) == 0 &&
      module[module.size() - target.size() - 1] == '.')
    return true;
  return fnmatch(target.c_str(), module.c_str(), 0) == 0;
}

bool is_task_head_parameter(const std::string& name) {
  for (const char* p : {"classifier.", "score.", "qa_outputs.", "feature_head."})
    if (name.compare(0, std::char_traits<char>::length(p), p) == 0) return true;
  return false;
}

void validate_lora_targets(const TransformerConfig& cfg) {
  const LoraConfig& lo = cfg.lora;
  if (!lo.enabled()) return;
  require(!lo.targets.empty(), "lora.targets: needs at least one target module when lora.r > 0 (e.g. [\"q_proj\", "
                               "\"v_proj\"], [\"attn.c_attn\"], [\"query\", \"value\"])");
  require(lo.dropout >= 0 && lo.dropout < 1, "lora.dropout must be in [0, 1)");
  require(lo.alpha > 0, "lora.alpha must be > 0");
  const FamilyNames nm(cfg);
  std::vector<std::string> parts = {nm.qkv, nm.q, nm.k, nm.v, nm.o, nm.fc, nm.gate, nm.up, nm.proj};
  if (cfg.activation == Activation::SwiGLU) parts[5].clear();
  else parts[6].clear(), parts[7].clear();
  for (const std::string& t : lo.targets) {
    bool hit = false;
    for (int l = 0; l < cfg.n_layer && !hit; ++l)
      for (const std::string& part : parts)
        if (!part.empty() && lora_target_matches(t, nm.layer_prefix + std::to_string(l) + "." + part)) hit = true;
    if (hit) continue;
    std::string names;
    for (const std::string& part : parts)
      if (!part.empty()) names += (names.empty() ? "" : ", ") + part;
    throw Error("lora.targets: '" + t + "' matches no linear layer of the model (this " + family_name(cfg.family) +
                " model's block layers: " + names + ")");
  }
}

template <class S>
LoraCall<S> Transformer<S>::lora_call(const Activations& a, int64_t li, int site, int64_t in, int64_t out,
                                      int64_t in_full, int64_t col0) const {
  LoraCall<S> c;
  if (!cfg_.lora.enabled() || lora_merged_) return c;
  const std::string& module = lora_modules_[size_t(li)][size_t(site)];
  if (module.empty()) return c;
  const int64_t N = int64_t(a.B) * a.T, r = cfg_.lora.r;
  c.a = params_.value(lora_a_name(module));
  c.b = params_.value(lora_b_name(module));
  c.ga = params_.grad(lora_a_name(module));
  c.gb = params_.grad(lora_b_name(module));
  c.u = sub(a.lora_u, (a.mid_layer(li) * kLoraSites + site) * N * r, N * r);
  c.du_scratch = sub(a.lora_du, 0, N * r);
  c.N = N;
  c.in = in;
  c.out = out;
  c.r = r;
  c.scale = cfg_.lora.scale();
  c.dropout = a.opt.training ? cfg_.lora.dropout : 0.0;
  if (c.dropout > 0) {
    c.xd_scratch = sub(a.lora_xd, 0, N * in);
    c.dxd_scratch = sub(a.lora_dxd, 0, N * in);
    c.key = RngKey{a.opt.seed, a.opt.step, uint32_t(layer_begin_ + li + 1), uint32_t(10 + site)};
    c.drop_shape.rows = N;
    c.drop_shape.cols = in;
    c.drop_shape.row0 = uint64_t(mp_.dp_rank) * uint64_t(N);
    c.drop_shape.full_cols = in_full;
    c.drop_shape.col0 = col0;
  }
  return c;
}

// W ← W + sign·s·B·A on this rank's slices (column-parallel: B's rows; row-parallel: A's columns).
template <class S>
void Transformer<S>::lora_apply_merge(double sign) {
  const S s = S(sign * cfg_.lora.scale());
  const int64_t R = cfg_.lora.r;
  for (const auto& sites : lora_modules_)
    for (const std::string& module : sites) {
      if (module.empty()) continue;
      const View1<S> w = params_.value(module + ".weight");
      const ParamInfo& wi = params_.info(module + ".weight");
      const int64_t out = wi.local_shape[0], in = wi.local_shape[1];
      gemm<S>(Trans::No, Trans::No, out, in, R, s, params_.value(lora_b_name(module)).data(), R,
              params_.value(lora_a_name(module)).data(), in, S(1), w.data(), in);
    }
  Kokkos::fence();
}

template <class S>
void Transformer<S>::merge_lora() {
  require(cfg_.lora.enabled(), "merge_lora: the model has no LoRA adapters");
  require(!lora_merged_, "merge_lora: already merged");
  lora_apply_merge(+1.0);
  lora_merged_ = true;
}

template <class S>
void Transformer<S>::unmerge_lora() {
  require(lora_merged_, "unmerge_lora: not merged");
  lora_apply_merge(-1.0);
  lora_merged_ = false;
}

#define TESSERA_INSTANTIATE_LORA(S)                                                                              \
  template LoraCall<S> Transformer<S>::lora_call(const Activations&, int64_t, int, int64_t, int64_t, int64_t,   \
                                                 int64_t) const;                                               \
  template void Transformer<S>::lora_apply_merge(double);                                                       \
  template void Transformer<S>::merge_lora();                                                                   \
  template void Transformer<S>::unmerge_lora();
TESSERA_INSTANTIATE_LORA(float)
TESSERA_INSTANTIATE_LORA(double)

}  // namespace tessera
