// Shard equality under `mpirun -np 2`: a GPT2<float> built for a tensor-parallel
// or pipeline slice of the grid and initialised from a seed holds EXACTLY (bitwise)
// the matching elements of the one-rank model initialised from the same seed.
//   tp = 2 (ProcessGrid 1×2×1): every local tensor sits where Megatron's layout puts
//     it (c_attn column-parallel by heads with q|k|v blocks, c_fc column-parallel,
//     both c_proj row-parallel, wte vocab-parallel with the uneven 129/128 split of
//     vocab 257, the rest replicated), the two ranks' slices cover every element of
//     every sharded tensor exactly once, and each local element equals the full
//     tensor's element it maps to (ParamInfo local_start/local_shape/shard_groups:
//     rows [start, start + local/3) of each of the q, k, v blocks for c_attn).
//   pp = 2 (ProcessGrid 1×1×2): stage 0 holds wte, wpe, h.0, h.1; stage 1 holds h.2,
//     h.3, ln_f and its own copy of wte.weight; each equals the full model's
//     same-named tensor bitwise.
#include <gtest/gtest.h>
#include <mpi.h>
#include <Kokkos_Core.hpp>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>
#include "src/model/gpt2.hpp"
#include "src/parallel/process_grid.hpp"

using tessera::GPT2;
using tessera::GPT2Config;
using tessera::ModelParallel;
using tessera::ParamInfo;
using tessera::ProcessGrid;

namespace {

constexpr uint64_t kSeed = 20240611;

GPT2Config tiny() {
  GPT2Config c;
  c.n_layer = 4;
  c.n_head = 4;
  c.n_embd = 32;
  c.n_positions = 32;
  c.vocab_size = 257;
  c.embd_pdrop = c.attn_pdrop = c.resid_pdrop = 0.1;
  return c;
}

std::vector<float> host_values(const GPT2<float>& m, size_t i) {
  auto v = m.params().value(i);
  std::vector<float> out(v.extent(0));
  Kokkos::View<float*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> h(out.data(), out.size());
  Kokkos::deep_copy(h, v);
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void agree_no_failures() {
  int bad = ::testing::Test::HasFailure() ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  EXPECT_EQ(bad, 0) << "a failure on some rank (see that rank's output)";
}

// Where Megatron's layout puts tp rank r's slice of a tensor (written out here, not
// taken from the model): {local_start, local_shape, shard_groups}.
struct Expected {
  std::vector<int64_t> start, shape;
  int groups = 1;
};
Expected megatron_slice(const std::string& name, const std::vector<int64_t>& full, int r, int tp) {
  const int64_t C = 32, Cl = C / tp, Fl = 4 * C / tp;
  if (name == "wte.weight") {
    const int64_t V = full[0], base = V / tp, extra = V % tp;
    const int64_t v0 = r * base + std::min<int64_t>(r, extra), rows = base + (r < extra ? 1 : 0);
    return {{v0, 0}, {rows, C}, 1};
  }
  if (ends_with(name, "attn.c_attn.weight")) return {{r * Cl, 0}, {3 * Cl, C}, 3};
  if (ends_with(name, "attn.c_attn.bias")) return {{r * Cl}, {3 * Cl}, 3};
  if (ends_with(name, "attn.c_proj.weight")) return {{0, r * Cl}, {C, Cl}, 1};
  if (ends_with(name, "mlp.c_fc.weight")) return {{r * Fl, 0}, {Fl, C}, 1};
  if (ends_with(name, "mlp.c_fc.bias")) return {{r * Fl}, {Fl}, 1};
  if (ends_with(name, "mlp.c_proj.weight")) return {{0, r * Fl}, {C, Fl}, 1};
  return {std::vector<int64_t>(full.size(), 0), full, 1};  // replicated
}

// Index in the full tensor of local element i of a slice (row-major; for groups > 1
// the local rows are `groups` blocks, block g taking rows [start0, start0 + rows/groups)
// of full block g).
int64_t full_index(const ParamInfo& info, int64_t i) {
  const bool matrix = info.full_shape.size() == 2;
  const int64_t local_cols = matrix ? info.local_shape[1] : 1, full_cols = matrix ? info.full_shape[1] : 1;
  const int64_t r = i / local_cols, c = i % local_cols;
  const int64_t groups = info.shard_groups;
  const int64_t rows_per_group = info.local_shape[0] / groups, full_rows_per_group = info.full_shape[0] / groups;
  const int64_t g = r / rows_per_group, rr = r % rows_per_group;
  const int64_t full_r = g * full_rows_per_group + info.local_start[0] + rr;
  const int64_t full_c = (matrix ? info.local_start[1] : 0) + c;
  return full_r * full_cols + full_c;
}

TEST(ShardEquality, TensorParallelSlicesEqualOneRankInitBitwise) {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ASSERT_EQ(size, 2) << "run with mpirun -np 2";
  ProcessGrid grid(MPI_COMM_WORLD, 1, 2, 1);
  const int r = grid.tp_rank();
  ModelParallel mp{r, 2, 0, 1, 0, 1, &grid.tp()};
  GPT2<float> shard(tiny(), mp);
  GPT2<float> full(tiny());
  shard.init_weights(kSeed);
  full.init_weights(kSeed);

  EXPECT_EQ(shard.params().infos().size(), full.params().infos().size());
  int sharded = 0;
  // Loop over the full model's tensors (the same list on both ranks, so the
  // collective below is called equally often on both even when a check fails).
  for (size_t fi = 0; fi < full.params().infos().size(); ++fi) {
    const ParamInfo& finfo = full.params().info(fi);
    SCOPED_TRACE("tp rank " + std::to_string(r) + ", " + finfo.name);
    const std::vector<float> whole = host_values(full, fi);
    std::vector<int> hits(whole.size(), 0);
    const bool present = shard.params().contains(finfo.name);
    EXPECT_TRUE(present);
    bool layout_ok = false;
    if (present) {
      const size_t p = shard.params().index_of(finfo.name);
      const ParamInfo& info = shard.params().info(p);
      const Expected want = megatron_slice(info.name, info.full_shape, r, 2);
      EXPECT_EQ(info.full_shape, finfo.full_shape);
      EXPECT_EQ(info.local_start, want.start);
      EXPECT_EQ(info.local_shape, want.shape);
      EXPECT_EQ(info.shard_groups, want.groups);
      layout_ok = info.full_shape == finfo.full_shape && info.local_start == want.start &&
                  info.local_shape == want.shape && info.shard_groups == want.groups;
      if (layout_ok) {
        if (info.local_shape != info.full_shape) ++sharded;
        const std::vector<float> local = host_values(shard, p);
        EXPECT_EQ(int64_t(local.size()), tessera::product(info.local_shape));
        int64_t mismatches = 0, first_bad = -1;
        for (int64_t i = 0; i < int64_t(local.size()); ++i) {
          const int64_t e = full_index(info, i);
          ++hits[size_t(e)];
          if (std::memcmp(&local[size_t(i)], &whole[size_t(e)], sizeof(float)) != 0) {
            if (first_bad < 0) first_bad = i;
            ++mismatches;
          }
        }
        EXPECT_EQ(mismatches, 0) << "first at local element " << first_bad;
      }
    }
    // Coverage: the slices of both ranks hit every element of a sharded tensor once
    // (a replicated one twice).
    MPI_Allreduce(MPI_IN_PLACE, hits.data(), int(hits.size()), MPI_INT, MPI_SUM, grid.tp_comm());
    const auto want = megatron_slice(finfo.name, finfo.full_shape, r, 2);
    const int want_hits = want.shape == finfo.full_shape ? 2 : 1;
    int64_t wrong = 0;
    for (int h : hits) wrong += h != want_hits;
    EXPECT_EQ(wrong, 0) << "elements not covered exactly " << want_hits << " time(s)";
  }
  EXPECT_EQ(sharded, 1 + 4 * 6);  // wte + per block c_attn w/b, attn.c_proj.w, c_fc w/b, mlp.c_proj.w

  // Not vacuous: the weights are random, and another seed gives other values.
  const size_t w = shard.params().index_of("h.1.attn.c_attn.weight");
  GPT2<float> other(tiny(), mp);
  other.init_weights(kSeed + 1);
  EXPECT_NE(host_values(shard, w), host_values(other, w));
  agree_no_failures();
}

TEST(ShardEquality, PipelineStagesEqualOneRankInitBitwise) {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ASSERT_EQ(size, 2) << "run with mpirun -np 2";
  ProcessGrid grid(MPI_COMM_WORLD, 1, 1, 2);
  const int s = grid.pp_rank();
  ModelParallel mp{0, 1, s, 2, 0, 1, nullptr};
  GPT2<float> stage(tiny(), mp);
  GPT2<float> full(tiny());
  stage.init_weights(kSeed);
  full.init_weights(kSeed);

  std::set<std::string> want;
  const std::vector<std::string> block = {"ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
                                          "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
                                          "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"};
  want.insert("wte.weight");  // stage 0's embedding, stage 1's tied head copy
  if (s == 0) want.insert("wpe.weight");
  for (int l = 2 * s; l < 2 * s + 2; ++l)
    for (const auto& b : block) want.insert("h." + std::to_string(l) + "." + b);
  if (s == 1) {
    want.insert("ln_f.weight");
    want.insert("ln_f.bias");
  }
  std::set<std::string> got;
  for (const auto& info : stage.params().infos()) got.insert(info.name);
  EXPECT_EQ(got, want) << "stage " << s;
  EXPECT_EQ(stage.first_layer(), 2 * s);
  EXPECT_EQ(stage.end_layer(), 2 * s + 2);

  for (size_t p = 0; p < stage.params().infos().size(); ++p) {
    const ParamInfo& info = stage.params().info(p);
    SCOPED_TRACE("stage " + std::to_string(s) + ", " + info.name);
    EXPECT_TRUE(full.params().contains(info.name));
    if (!full.params().contains(info.name)) continue;
    const size_t fi = full.params().index_of(info.name);
    EXPECT_EQ(info.local_shape, full.params().info(fi).full_shape);
    const std::vector<float> a = host_values(stage, p), b = host_values(full, fi);
    EXPECT_EQ(a.size(), b.size());
    if (a.size() == b.size()) EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
  }

  // Both stages hold the same wte.weight (the tied head's copy equals the embedding).
  std::vector<float> wte(size_t(257) * 32, -1.0f);
  if (stage.params().contains("wte.weight")) wte = host_values(stage, stage.params().index_of("wte.weight"));
  EXPECT_EQ(wte.size(), size_t(257) * 32);
  wte.resize(size_t(257) * 32);
  std::vector<float> other(wte.size());
  MPI_Sendrecv(wte.data(), int(wte.size()), MPI_FLOAT, 1 - s, 7, other.data(), int(other.size()), MPI_FLOAT, 1 - s, 7,
               grid.pp_comm(), MPI_STATUS_IGNORE);
  EXPECT_EQ(0, std::memcmp(wte.data(), other.data(), wte.size() * sizeof(float)));
  agree_no_failures();
}

}  // namespace
