#include "src/train/memory_estimate.hpp"
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include "src/runtime/error.hpp"

namespace tessera {

MemoryEstimate estimate_training_memory(const RunConfig& cfg) {
  const TransformerConfig& m = cfg.model.transformer;
  const ParallelSection& par = cfg.parallel;
  const double C = m.n_embd, L = m.n_layer, V = m.vocab_size, H = m.n_head;
  const double F = m.ffn_dim(), hd = m.head_dim(), kv = double(m.kv_heads()) * hd;
  const double tp = std::max(1, par.tp), pp = std::max(1, par.pp), dp = std::max(1, par.dp);
  const double b = m.bias ? 1 : 0;
  const double attn = C * (C + 2 * kv) + b * (C + 2 * kv) + C * C + b * C;
  const double mlp = m.activation == Activation::SwiGLU ? 3 * C * F : 2 * C * F + b * (F + C);
  const double block = attn + mlp + 4 * C;
  const double embed = V * C + (m.positions == PositionKind::Learned ? double(m.n_positions) * C : 0.0);
  // The largest stage: its share of the blocks plus the (vocab-parallel) token
  // embedding on the first stage and the LM head (an untied one, or the tied
  // copy a pipeline keeps) on the last; all split over tp.
  const double blocks = std::ceil(L / pp) * block;
  const double untied = (!m.tie_word_embeddings && m.head == HeadKind::CausalLM) ? V * C : 0.0;
  const double first = (blocks + embed + (pp == 1 ? untied : 0.0)) / tp;
  const double last = pp > 1 ? (blocks + (untied > 0 ? untied : V * C)) / tp : first;
  const double blocks_per_stage = std::ceil(L / pp);
  MemoryEstimate e;
  e.parameters = std::max(first, last);
  const double f = 4.0;  // float32
  e.params_bytes = f * e.parameters;
  e.grads_bytes = f * e.parameters;
  e.optimizer_bytes = 2 * f * e.parameters / (par.zero1 ? dp : 1.0);
  e.checkpoint_bytes = 3 * f * e.parameters;
  const double T = cfg.data.seq_len > 0 ? cfg.data.seq_len : m.n_positions;
  const double B = std::max(1, cfg.train.micro_batch_size);
  // Per block and micro-batch: ~ 16·C + 2·F floats per token (norms, q/k/v, attention
  // output, projections, MLP input/activation) plus the attention probabilities.
  // model.attention = tiled keeps one logsumexp per row instead of the probabilities (and their dropout copy).
  const bool tiled = m.attention == AttentionKind::Tiled;
  const double probs = tiled ? B * (H / tp) * T : 2 * B * (H / tp) * T * T;
  const double per_block = B * T * (16 * C + 2 * F) / tp + probs;
  const double logits = 2 * B * T * V / tp;  // logits and their gradient
  const double in_flight = std::min(pp, double(std::max(1, cfg.train.grad_accum_steps)));
  // train.recompute: full keeps each block's output (B·T·C, the next block's input) and one block's
  // intermediates; selective keeps one block's probabilities (a no-op with tiled attention).
  double per_stage = blocks_per_stage * per_block;
  if (m.recompute == RecomputeKind::Full) per_stage = blocks_per_stage * B * T * C + per_block;
  else if (m.recompute == RecomputeKind::Selective && !tiled) per_stage = blocks_per_stage * (per_block - probs) + probs;
  e.activation_bytes = f * (in_flight * per_stage + logits);
  e.recompute = m.recompute;
  return e;
}

namespace {

double read_number(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  if (!(in >> s) || s == "max") return -1;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  return end && *end == '\0' ? v : -1;
}

}  // namespace

double available_memory_bytes(std::string* source) {
  double avail = -1;
  std::string src;
  {
    std::ifstream in("/proc/meminfo");
    std::string key, unit;
    double kb = 0;
    while (in >> key >> kb) {
      std::getline(in, unit);
      if (key == "MemAvailable:") {
        avail = kb * 1024.0;
        src = "/proc/meminfo MemAvailable";
        break;
      }
    }
  }
  double limit = read_number("/sys/fs/cgroup/memory.max"), used = read_number("/sys/fs/cgroup/memory.current");
  std::string cg = "cgroup memory.max";
  if (limit < 0) {
    limit = read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes");
    used = read_number("/sys/fs/cgroup/memory/memory.usage_in_bytes");
    cg = "cgroup memory.limit_in_bytes";
    if (limit > 1e18) limit = -1;  // v1 "unlimited"
  }
  if (limit > 0) {
    const double room = std::max(0.0, limit - std::max(0.0, used));
    if (avail < 0 || room < avail) {
      avail = room;
      src = cg;
    }
  }
  if (source) *source = src;
  return avail;
}

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (std::fabs(bytes) >= 1024 && u < 6) {
    bytes /= 1024;
    ++u;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

std::string describe(const MemoryEstimate& m) {
  char params[32];
  std::snprintf(params, sizeof params, "%.4g", m.parameters);
  return "memory estimate per rank: " + format_bytes(m.total()) + " (" + params + " parameters on the largest stage: " +
         "weights " + format_bytes(m.params_bytes) + ", gradients " + format_bytes(m.grads_bytes) + ", AdamW moments " +
         format_bytes(m.optimizer_bytes) + ", checkpoint staging " + format_bytes(m.checkpoint_bytes) +
         ", activations " + format_bytes(m.activation_bytes) +
         (m.recompute == RecomputeKind::None ? std::string() : std::string(" with recompute ") + recompute_name(m.recompute)) +
         ")";
}

void check_training_memory(const RunConfig& cfg, MPI_Comm world) {
  const MemoryEstimate e = estimate_training_memory(cfg);
  std::string source;
  double avail = available_memory_bytes(&source);
  if (const char* env = std::getenv("TESSERA_MEMORY_LIMIT_BYTES"); env && *env) {
    avail = std::strtod(env, nullptr);
    source = "TESSERA_MEMORY_LIMIT_BYTES";
  }
  // Ranks on this node share its memory.
  MPI_Comm node = MPI_COMM_NULL;
  int local = 1;
  if (MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS && node != MPI_COMM_NULL) {
    MPI_Comm_size(node, &local);
    MPI_Comm_free(&node);
  }
  const double share = avail / local;
  int ok = !(avail >= 0 && e.total() > share) ? 1 : 0;
  int all_ok = ok;
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, world);
  if (all_ok) return;
  const std::string where = cfg.source_path.empty() ? std::string("config") : cfg.source_path;
  const std::string grid = "dp " + std::to_string(cfg.parallel.dp) + " × tp " + std::to_string(cfg.parallel.tp) +
                           " × pp " + std::to_string(cfg.parallel.pp);
  if (!ok)
    throw Error(where + ": the model cannot fit: " + describe(e) + " on grid " + grid + ", but only " +
                format_bytes(share) + " is available per rank (" + format_bytes(avail) + " from " + source + " shared by " +
                std::to_string(local) + (local == 1 ? " rank" : " ranks") +
                " on this node); shrink model.n_layer / n_embd / vocab_size or train.micro_batch_size, "
                "or spread the model over more ranks (parallel.tp, parallel.pp, parallel.zero1)");
  throw Error(where + ": the model cannot fit on another rank's node (" + describe(e) + " on grid " + grid +
              "); see that rank's error");
}

}  // namespace tessera
