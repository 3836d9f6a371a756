// Activation recomputation on a grid (`mpirun -np 2`), double precision, dropout on everywhere:
//  * tp = 2 (ProcessGrid 1×2×1): GPT-2 (fused c_attn), BERT (sequence classification, padding mask)
//    and Llama (GQA: one kv head per rank, LoRA on every linear layer) with recompute = full and
//    selective give, on each rank's slice, the gradients of the one-rank model WITHOUT recompute
//    (≤ 1e-9 relative to the tensor's largest gradient, floor 1e-6: the row-parallel sums run in another
//    order), and bit for bit the gradients of the same tp = 2 model without recompute;
//  * pp = 2 (ProcessGrid 1×1×2): two micro-batches in two activation slots per stage (forward 0,
//    forward 1, backward 1, backward 0, as 1F1B holds them), stage outputs and input gradients sent
//    between the stages: every stage's gradients equal the one-rank no-recompute run's (the tied
//    embedding's two copies summed), and bit for bit the pp = 2 run without recompute.
#include <gtest/gtest.h>
#include <mpi.h>
#include <Kokkos_Core.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>
#include "src/model/transformer.hpp"
#include "src/parallel/process_grid.hpp"
#include "tiny_transformer_config.hpp"

using namespace tessera;

namespace {

constexpr int kB = 2, kT = 7;

TransformerConfig config_of(Family f, HeadKind head, bool lora) {
  tessera_test::TinySizes z;
  z.layers = 4;  // two blocks per pipeline stage: one recomputed, one still in the buffers
  TransformerConfig c = tessera_test::tiny_transformer_config(f, head, z);
  c.embd_pdrop = 0.1;
  c.attn_pdrop = 0.2;
  c.resid_pdrop = 0.15;
  c.classifier_pdrop = 0.1;
  if (lora) {
    c.lora.r = 2;
    c.lora.alpha = 4;
    c.lora.dropout = 0.2;
    c.lora.targets = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  }
  return c;
}

struct Batch {
  std::vector<int32_t> tokens, types, mask, labels;
  ModelInputs inputs(const TransformerConfig& c) const {
    ModelInputs in;
    in.tokens = tokens.data();
    in.token_types = c.type_vocab_size > 0 ? types.data() : nullptr;
    in.attention_mask = c.is_encoder() ? mask.data() : nullptr;
    in.labels = labels.data();
    return in;
  }
};

Batch make_batch(const TransformerConfig& c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> tok(1, c.vocab_size - 1), lab(0, c.num_labels - 1);
  Batch b;
  for (int i = 0; i < kB * kT; ++i) {
    b.tokens.push_back(tok(rng));
    b.types.push_back(i % kT >= 4 ? 1 : 0);
    b.mask.push_back(i >= kT && i % kT >= kT - 2 ? 0 : 1);
  }
  if (c.head == HeadKind::CausalLM) for (int i = 0; i < kB * kT; ++i) b.labels.push_back(tok(rng));
  else for (int i = 0; i < kB; ++i) b.labels.push_back(lab(rng));
  return b;
}

ForwardOptions opts(uint64_t step) {
  ForwardOptions o;
  o.training = true;
  o.seed = 31;
  o.step = step;
  return o;
}

// Index in the full tensor of local element i of a slice (ParamInfo's layout; q|k|v blocks for shard_groups > 1).
int64_t full_index(const ParamInfo& info, int64_t i) {
  const bool matrix = info.full_shape.size() == 2;
  const int64_t local_cols = matrix ? info.local_shape[1] : 1, full_cols = matrix ? info.full_shape[1] : 1;
  const int64_t r = i / local_cols, c = i % local_cols;
  const int64_t groups = info.shard_groups;
  const int64_t rows_per_group = info.local_shape[0] / groups, full_rows_per_group = info.full_shape[0] / groups;
  const int64_t g = r / rows_per_group, rr = r % rows_per_group;
  return (g * full_rows_per_group + info.local_start[0] + rr) * full_cols + (matrix ? info.local_start[1] : 0) + c;
}

std::vector<double> host(const View1<double>& v) {
  auto h = Kokkos::create_mirror(v);
  Kokkos::deep_copy(h, v);
  return std::vector<double>(h.data(), h.data() + h.extent(0));
}

// The same perturbation of every full-tensor element on every shard (LoRA B away from 0).
void perturb(Transformer<double>& m) {
  for (size_t p = 0; p < m.params().infos().size(); ++p) {
    const ParamInfo& info = m.params().info(p);
    std::vector<double> v = host(m.params().value(p));
    const RngKey key{9, 0, 0, param_rng_site(info.name)};
    for (size_t i = 0; i < v.size(); ++i) v[i] += 0.1 * rng_normal(key, uint64_t(full_index(info, int64_t(i))));
    Kokkos::View<double*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> h(v.data(), v.size());
    Kokkos::deep_copy(m.params().value(p), h);
  }
}

// One-rank reference: two micro-batches accumulated, no recompute.
std::unique_ptr<Transformer<double>> reference(const TransformerConfig& c) {
  auto m = std::make_unique<Transformer<double>>(c);
  m->init_weights(13);
  perturb(*m);
  m->params().zero_grads();
  for (uint64_t s = 1; s <= 2; ++s) {
    const Batch b = make_batch(c, 100 + s);
    m->forward(b.inputs(c), kB, kT, opts(s));
    m->backward(1.0);
  }
  Kokkos::fence();
  return m;
}

// This rank's gradient of each parameter, by name. sum_partial: LoRA's tp-partial gradients summed over tp.
std::vector<std::vector<double>> grads_of(Transformer<double>& m, MPI_Comm tp) {
  std::vector<std::vector<double>> out;
  for (size_t p = 0; p < m.params().infos().size(); ++p) {
    const ParamInfo& info = m.params().info(p);
    std::vector<double> g = info.trainable ? host(m.params().grad(p)) : std::vector<double>();
    if (info.tp_partial_grad && tp != MPI_COMM_NULL)
      MPI_Allreduce(MPI_IN_PLACE, g.data(), int(g.size()), MPI_DOUBLE, MPI_SUM, tp);
    out.push_back(std::move(g));
  }
  return out;
}

// Every local gradient element against the full model's element it maps to.
void expect_matches_reference(Transformer<double>& shard, const std::vector<std::vector<double>>& got,
                              Transformer<double>& full, const std::string& what) {
  size_t checked = 0;
  for (size_t p = 0; p < shard.params().infos().size(); ++p) {
    const ParamInfo& info = shard.params().info(p);
    if (!info.trainable) continue;
    ASSERT_TRUE(full.params().contains(info.name)) << what << " " << info.name;
    const std::vector<double> ref = host(full.params().grad(info.name));
    double scale = 0;
    for (double x : ref) scale = std::max(scale, std::fabs(x));
    double worst = 0;
    for (size_t i = 0; i < got[p].size(); ++i)
      worst = std::max(worst, std::fabs(got[p][i] - ref[size_t(full_index(info, int64_t(i)))]));
    EXPECT_LE(worst, 1e-9 * std::max(scale, 1e-6)) << what << " " << info.name << " (max |g| " << scale << ")";
    checked += got[p].size();
  }
  EXPECT_GT(checked, 0u) << what;
}

void expect_bitwise(const std::vector<std::vector<double>>& a, const std::vector<std::vector<double>>& b,
                    Transformer<double>& m, const std::string& what) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t p = 0; p < a.size(); ++p) {
    ASSERT_EQ(a[p].size(), b[p].size());
    EXPECT_EQ(0, a[p].empty() ? 0 : std::memcmp(a[p].data(), b[p].data(), a[p].size() * sizeof(double)))
        << what << " " << m.params().info(p).name << " differs from the grid run without recompute";
  }
}

void agree_no_failures() {
  int bad = ::testing::Test::HasFailure() ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  EXPECT_EQ(bad, 0) << "a failure on some rank (see that rank's output)";
}

}  // namespace

TEST(RecomputeGrid, TensorParallelEqualsOneRankWithoutRecompute) {
  ProcessGrid grid(MPI_COMM_WORLD, 1, 2, 1);
  const ModelParallel mp{grid.tp_rank(), 2, 0, 1, 0, 1, &grid.tp()};
  struct Case { Family f; HeadKind h; bool lora; };
  for (const Case k : {Case{Family::GPT2, HeadKind::CausalLM, false},
                       Case{Family::BERT, HeadKind::SequenceClassification, false},
                       Case{Family::Llama, HeadKind::CausalLM, true}}) {
    const TransformerConfig base = config_of(k.f, k.h, k.lora);
    const auto full = reference(base);
    std::vector<std::vector<double>> none_grads;
    for (RecomputeKind mode : {RecomputeKind::None, RecomputeKind::Full, RecomputeKind::Selective}) {
      const std::string what = std::string(family_name(k.f)) + " tp=2 recompute=" + recompute_name(mode);
      TransformerConfig c = base;
      c.recompute = mode;
      Transformer<double> shard(c, mp);
      shard.init_weights(13);
      perturb(shard);
      shard.params().zero_grads();
      for (uint64_t s = 1; s <= 2; ++s) {
        const Batch b = make_batch(c, 100 + s);
        shard.forward(b.inputs(c), kB, kT, opts(s));
        shard.backward(1.0);
      }
      Kokkos::fence();
      const auto g = grads_of(shard, grid.tp_comm());
      expect_matches_reference(shard, g, *full, what);
      if (mode == RecomputeKind::None) none_grads = g;
      else expect_bitwise(g, none_grads, shard, what);
    }
  }
  agree_no_failures();
}

TEST(RecomputeGrid, PipelineStagesEqualOneRankWithoutRecompute) {
  ProcessGrid grid(MPI_COMM_WORLD, 1, 1, 2);
  const int s = grid.pp_rank();
  const ModelParallel mp{0, 1, s, 2, 0, 1, nullptr};
  for (Family f : {Family::GPT2, Family::Llama}) {
    const TransformerConfig base = config_of(f, f == Family::GPT2 ? HeadKind::CausalLM : HeadKind::SequenceClassification,
                                             f == Family::Llama);
    const auto full = reference(base);
    std::vector<std::vector<double>> none_grads;
    for (RecomputeKind mode : {RecomputeKind::None, RecomputeKind::Full, RecomputeKind::Selective}) {
      const std::string what = std::string(family_name(f)) + " pp=2 stage " + std::to_string(s) +
                               " recompute=" + recompute_name(mode);
      TransformerConfig c = base;
      c.recompute = mode;
      Transformer<double> stage(c, mp);
      stage.set_num_slots(2);
      stage.init_weights(13);
      perturb(stage);
      stage.params().zero_grads();
      const size_t NC = size_t(kB) * kT * size_t(c.n_embd);
      View1<double> recv_act("recv_act", NC), recv_grad("recv_grad", NC);
      for (int m = 0; m < 2; ++m) {  // forward micro-batches 0 and 1 into slots 0 and 1
        const Batch b = make_batch(c, uint64_t(101 + m));
        if (s == 0) {
          stage.forward_stage(m, b.inputs(c), kB, kT, opts(uint64_t(1 + m)), View1<double>());
          Kokkos::fence();
          MPI_Send(stage.stage_output(m).data(), int(NC), MPI_DOUBLE, 1, m, grid.pp_comm());
        } else {
          MPI_Recv(recv_act.data(), int(NC), MPI_DOUBLE, 0, m, grid.pp_comm(), MPI_STATUS_IGNORE);
          stage.forward_stage(m, b.inputs(c), kB, kT, opts(uint64_t(1 + m)), recv_act);
        }
      }
      for (int m = 1; m >= 0; --m) {  // backward in reverse
        if (s == 1) {
          stage.backward_stage(m, 1.0, View1<double>());
          Kokkos::fence();
          MPI_Send(stage.stage_input_grad(m).data(), int(NC), MPI_DOUBLE, 0, 10 + m, grid.pp_comm());
        } else {
          MPI_Recv(recv_grad.data(), int(NC), MPI_DOUBLE, 1, 10 + m, grid.pp_comm(), MPI_STATUS_IGNORE);
          stage.backward_stage(m, 1.0, recv_grad);
        }
      }
      Kokkos::fence();
      auto g = grads_of(stage, MPI_COMM_NULL);
      if (stage.has_tied_copy() || (s == 0 && c.tie_word_embeddings)) {  // the tied embedding: both copies summed
        const size_t p = stage.params().index_of(stage.token_embedding_name());
        MPI_Allreduce(MPI_IN_PLACE, g[p].data(), int(g[p].size()), MPI_DOUBLE, MPI_SUM, grid.pp_comm());
      }
      expect_matches_reference(stage, g, *full, what);
      if (mode == RecomputeKind::None) none_grads = g;
      else expect_bitwise(g, none_grads, stage, what);
    }
  }
  agree_no_failures();
}
