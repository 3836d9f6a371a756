// Attention-head importance and masks (see head_pruning.hpp).
#include "src/compress/head_pruning.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>
#include "src/model/transformer_internals.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

namespace {

int parse_index(const std::string& text, const std::string& what, const std::string& spec) {
  size_t used = 0;
  int v = -1;
  try {
    v = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  require(used > 0 && used == text.size(),
          what + " = \"" + spec + "\": '" + text + "' is not an index (format \"layer:head,head;layer:head\")");
  return v;
}

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

}  // namespace

HeadLists parse_prune_heads(const std::string& spec, int n_layer, int n_head, const std::string& what) {
  HeadLists out(static_cast<size_t>(n_layer), std::vector<int>{});
  if (trim(spec).empty()) return out;
  std::stringstream groups(spec);
  std::string group;
  while (std::getline(groups, group, ';')) {
    group = trim(group);
    if (group.empty()) continue;
    const size_t colon = group.find(':');
    require(colon != std::string::npos,
            what + " = \"" + spec + "\": '" + group + "' is not layer:heads (e.g. \"0:1,3;2:0\")");
    const int l = parse_index(trim(group.substr(0, colon)), what, spec);
    require(l >= 0 && l < n_layer, what + " = \"" + spec + "\": layer " + std::to_string(l) + " is outside [0, " +
                                       std::to_string(n_layer) + ") (the model has " + std::to_string(n_layer) +
                                       " layers)");
    std::stringstream heads(group.substr(colon + 1));
    std::string h;
    int count = 0;
    while (std::getline(heads, h, ',')) {
      const int hi = parse_index(trim(h), what, spec);
      require(hi >= 0 && hi < n_head, what + " = \"" + spec + "\": head " + std::to_string(hi) + " of layer " +
                                          std::to_string(l) + " is outside [0, " + std::to_string(n_head) +
                                          ") (the model has " + std::to_string(n_head) + " heads per layer)");
      out[size_t(l)].push_back(hi);
      ++count;
    }
    require(count > 0, what + " = \"" + spec + "\": layer " + std::to_string(l) + " lists no heads");
  }
  for (auto& v : out) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  }
  return out;
}

std::string format_prune_heads(const HeadLists& heads) {
  std::string s;
  for (size_t l = 0; l < heads.size(); ++l) {
    if (heads[l].empty()) continue;
    if (!s.empty()) s += ";";
    s += std::to_string(l) + ":";
    for (size_t i = 0; i < heads[l].size(); ++i) s += (i ? "," : "") + std::to_string(heads[l][i]);
  }
  return s;
}

int64_t count_heads(const HeadLists& heads) {
  int64_t n = 0;
  for (const auto& v : heads) n += int64_t(v.size());
  return n;
}

template <class S>
std::vector<double> head_importance(Transformer<S>& model, const std::function<bool(MicroBatch&)>& next,
                                    MPI_Comm reduce) {
  const TransformerConfig& c = model.config();
  require(model.parallel().pp_size == 1, "head importance: needs pp = 1 (the whole model on each rank group)");
  const size_t n = size_t(c.n_layer) * size_t(c.n_head);
  std::vector<double> importance(n, 0.0);
  const auto hook = model.grads_ready_hook();  // no gradient all-reduce during the importance passes
  model.set_grads_ready_hook(nullptr);
  model.set_head_gates(std::vector<double>(n, 1.0));
  model.set_head_gate_grad(true);
  MicroBatch mb;
  try {
    while (next(mb)) {
      // A micro-batch without targets (e.g. the dummy samples that pad a data-parallel
      // evaluation pass) has no loss to differentiate.
      if (std::all_of(mb.labels.begin(), mb.labels.end(), [](int32_t v) { return v == kIgnoreIndex; })) continue;
      model.zero_head_gate_grad();
      model.forward(mb.inputs(), mb.B, mb.T, ForwardOptions{});
      model.backward(S(1));
      const std::vector<double> g = model.head_gate_grad();
      for (size_t i = 0; i < n; ++i) importance[i] += std::fabs(g[i]);
    }
  } catch (...) {
    model.set_head_gates({});
    model.set_head_gate_grad(false);
    model.set_grads_ready_hook(hook);
    throw;
  }
  model.set_head_gates({});
  model.set_head_gate_grad(false);
  model.set_grads_ready_hook(hook);
  if (model.params().grads().extent(0) > 0) model.params().zero_grads();
  Kokkos::fence();
  if (reduce != MPI_COMM_NULL)  // collective, so a non-finite value fails every rank alike
    MPI_Allreduce(MPI_IN_PLACE, importance.data(), int(n), MPI_DOUBLE, MPI_SUM, reduce);
  for (size_t i = 0; i < n; ++i)
    require(std::isfinite(importance[i]), "head importance: non-finite ∂L/∂ξ for layer " +
                                              std::to_string(i / size_t(c.n_head)) + " head " +
                                              std::to_string(i % size_t(c.n_head)) + " (is the loss finite?)");
  return importance;
}

template std::vector<double> head_importance<float>(Transformer<float>&, const std::function<bool(MicroBatch&)>&,
                                                    MPI_Comm);
template std::vector<double> head_importance<double>(Transformer<double>&, const std::function<bool(MicroBatch&)>&,
                                                     MPI_Comm);

std::vector<double> normalize_head_importance(const std::vector<double>& imp, int n_layer, int n_head) {
  std::vector<double> out = imp;
  for (int l = 0; l < n_layer; ++l) {
    double ss = 0;
    for (int h = 0; h < n_head; ++h) ss += imp[size_t(l * n_head + h)] * imp[size_t(l * n_head + h)];
    if (ss > 0)
      for (int h = 0; h < n_head; ++h) out[size_t(l * n_head + h)] /= std::sqrt(ss);
  }
  return out;
}

HeadLists least_important_heads(const std::vector<double>& imp, int n_layer, int n_head, int keep,
                                const std::string& what) {
  require(keep >= 1 && keep <= n_head, what + " = " + std::to_string(keep) + " is outside [1, " +
                                           std::to_string(n_head) + "] (the model has " + std::to_string(n_head) +
                                           " heads per layer)");
  require(int64_t(imp.size()) == int64_t(n_layer) * n_head, what + ": importance has the wrong size");
  HeadLists out(static_cast<size_t>(n_layer), std::vector<int>{});
  std::vector<int> idx(static_cast<size_t>(n_head), 0);
  for (int l = 0; l < n_layer; ++l) {
    std::iota(idx.begin(), idx.end(), 0);
    const double* s = &imp[size_t(l * n_head)];
    // most important first; ties: the lower index first (kept)
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return s[a] > s[b]; });
    out[size_t(l)].assign(idx.begin() + keep, idx.end());
    std::sort(out[size_t(l)].begin(), out[size_t(l)].end());
  }
  return out;
}

std::map<std::string, std::vector<uint8_t>> head_masks(const TransformerConfig& c, const HeadLists& heads) {
  const FamilyNames nm(c);
  const int64_t C = c.n_embd, NH = c.n_head, NKV = c.kv_heads(), hd = c.head_dim(), group = NH / NKV;
  std::map<std::string, std::vector<uint8_t>> out;
  auto rows_mask = [&](const std::string& name, int64_t rows, int64_t cols, const std::vector<int64_t>& row0s) {
    std::vector<uint8_t>& m = out[name];
    if (m.empty()) m.assign(size_t(rows * cols), 1);
    for (int64_t r0 : row0s)
      for (int64_t r = r0; r < r0 + hd; ++r) std::fill_n(m.begin() + r * cols, cols, uint8_t(0));
  };
  for (size_t l = 0; l < heads.size(); ++l) {
    if (heads[l].empty()) continue;
    const int li = int(l);
    std::vector<int64_t> q0, kv0;
    for (int h : heads[l]) q0.push_back(int64_t(h) * hd);
    for (int64_t g = 0; g < NKV; ++g) {  // kv heads all of whose query heads are pruned
      int64_t pruned = 0;
      for (int h : heads[l]) pruned += int64_t(h) / group == g;
      if (pruned == group) kv0.push_back(g * hd);
    }
    if (!nm.qkv.empty()) {  // GPT-2 c_attn [3C, C]: q | k | v blocks of C rows
      std::vector<int64_t> r;
      for (int64_t b = 0; b < 3; ++b)
        for (int64_t x : (b == 0 ? q0 : kv0)) r.push_back(b * C + x);
      rows_mask(nm.layer(li, nm.qkv, "weight"), 3 * C, C, r);
      if (c.bias) rows_mask(nm.layer(li, nm.qkv, "bias"), 3 * C, 1, r);
    } else {
      rows_mask(nm.layer(li, nm.q, "weight"), NH * hd, C, q0);
      if (c.bias) rows_mask(nm.layer(li, nm.q, "bias"), NH * hd, 1, q0);
      if (!kv0.empty())
        for (const std::string& p : {nm.k, nm.v}) {
          rows_mask(nm.layer(li, p, "weight"), NKV * hd, C, kv0);
          if (c.bias) rows_mask(nm.layer(li, p, "bias"), NKV * hd, 1, kv0);
        }
    }
    // o_proj [C, NH·hd]: the head's columns
    std::vector<uint8_t>& m = out[nm.layer(li, nm.o, "weight")];
    m.assign(size_t(C * NH * hd), 1);
    for (int64_t r = 0; r < C; ++r)
      for (int64_t x : q0) std::fill_n(m.begin() + r * NH * hd + x, hd, uint8_t(0));
  }
  return out;
}

}  // namespace tessera
