// Head pruning under tensor parallelism (`mpirun -np 2`, grid dp 1 × tp 2 × pp 1):
//  * head importance (∂L/∂ξ, heads split over the tp ranks, summed over the group)
//    equals the one-rank model's, for GPT-2 (fused c_attn, q|k|v blocks) and Llama
//    (GQA, kv heads split too), and BERT (separate q/k/v, post-norm, classification);
//  * head masks applied through SparsityMasks::add to each rank's slice give the loss
//    of the one-rank model with the same masks (and a different one than unpruned).
#include <gtest/gtest.h>
#include <mpi.h>
#include <cmath>
#include <random>
#include <vector>
#include "src/compress/head_pruning.hpp"
#include "src/compress/sparsity_masks.hpp"
#include "src/parallel/process_grid.hpp"

using namespace tessera;

namespace {

TransformerConfig tiny(Family f) {
  TransformerConfig c;
  c.family = f;
  c.head = f == Family::BERT ? HeadKind::SequenceClassification : HeadKind::CausalLM;
  c.num_labels = 3;
  if (f == Family::BERT) c.type_vocab_size = 2;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_embd = 16;
  c.n_inner = 24;
  c.n_positions = 12;
  c.vocab_size = 23;
  if (f == Family::Llama) {
    c.n_kv_head = 2;
    c.tie_word_embeddings = false;
  }
  apply_family_defaults(c);
  return c;
}

MicroBatch batch(const TransformerConfig& c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> tok(0, c.vocab_size - 1);
  MicroBatch b;
  b.B = 2;
  b.T = 6;
  for (int i = 0; i < 12; ++i) b.tokens.push_back(tok(rng));
  if (c.head == HeadKind::CausalLM)
    for (int i = 0; i < 12; ++i) b.labels.push_back(tok(rng));
  else
    b.labels = {int32_t(tok(rng) % 3), int32_t(tok(rng) % 3)};
  return b;
}

template <class S>
std::vector<double> importance(Transformer<S>& m, const TransformerConfig& c, MPI_Comm reduce) {
  int calls = 0;
  return head_importance<S>(m, [&](MicroBatch& mb) {
    if (calls == 3) return false;
    mb = batch(c, uint64_t(100 + calls++));
    return true;
  }, reduce);
}

void agree_no_failures() {
  int bad = ::testing::Test::HasFailure() ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  EXPECT_EQ(bad, 0) << "a failure on some rank";
}

}  // namespace

TEST(HeadPruningTp2, ImportanceEqualsOneRank) {
  ProcessGrid grid(MPI_COMM_WORLD, 1, 2, 1);
  const int r = grid.tp_rank();
  const ModelParallel mp{r, 2, 0, 1, 0, 1, &grid.tp()};
  for (Family f : {Family::GPT2, Family::BERT, Family::Llama}) {
    const TransformerConfig c = tiny(f);
    Transformer<double> full(c), shard(c, mp);
    full.init_weights(77);
    shard.init_weights(77);
    const std::vector<double> a = importance(full, c, MPI_COMM_NULL), b = importance(shard, c, MPI_COMM_WORLD);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_GT(a[i], 0.0);
      EXPECT_NEAR(a[i], b[i], 1e-10 * (1 + std::fabs(a[i]))) << family_name(f) << " head " << i;
    }
  }
  agree_no_failures();
}

TEST(HeadPruningTp2, MaskedSlicesGiveTheOneRankLoss) {
  ProcessGrid grid(MPI_COMM_WORLD, 1, 2, 1);
  const int r = grid.tp_rank();
  const ModelParallel mp{r, 2, 0, 1, 0, 1, &grid.tp()};
  for (Family f : {Family::GPT2, Family::Llama}) {
    const TransformerConfig c = tiny(f);
    GPT2<float> full(c), shard(c, mp);
    full.init_weights(5);
    shard.init_weights(5);
    for (GPT2<float>* m : {&full, &shard}) {  // larger weights: attention far from uniform, so q/k rows matter
      const View1<float> v = m->params().values();
      Kokkos::parallel_for(RangePolicy(0, int64_t(v.extent(0))), KOKKOS_LAMBDA(const int64_t i) { v(i) *= 10.0f; });
      Kokkos::fence();
    }
    const MicroBatch b = batch(c, 9);
    const float before = shard.forward(b.inputs(), b.B, b.T, ForwardOptions{});
    // Heads on both ranks (0,1 on rank 0; 2,3 on rank 1); layer 0 prunes a whole GQA group.
    const auto masks = head_masks(c, parse_prune_heads("0:2,3;1:1,2", c.n_layer, c.n_head, "test"));
    SparsityMasks mf, ms;
    mf.add(full, masks, "test");
    ms.add(shard, masks, "test");
    const float lf = full.forward(b.inputs(), b.B, b.T, ForwardOptions{});
    const float ls = shard.forward(b.inputs(), b.B, b.T, ForwardOptions{});
    EXPECT_NEAR(lf, ls, 1e-4f * (1 + std::fabs(lf))) << family_name(f);
    EXPECT_GT(std::fabs(ls - before), 1e-4f) << family_name(f) << ": the masks must change the model";
  }
  agree_no_failures();
}
