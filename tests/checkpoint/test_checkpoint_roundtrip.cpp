// Checkpoint write -> read round trips (bitwise), state fields, retention and
// temporary-file handling.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstring>
#include <filesystem>
#include <random>

#include "io/checkpoint.hpp"
#include "src/tensor/parameter_set.hpp"
#include "test_support.hpp"

using namespace tessera;
namespace fs = std::filesystem;

namespace {

template <class S>
ParameterSet<S> make_params() {
  ParameterSet<S> p;
  p.add("wte.weight", {7, 5}, true);
  p.add("h.0.ln_1.weight", {13}, false);
  p.add("h.0.attn.c_attn.weight", {3, 11, 2}, true);
  p.add("h.0.mlp.c_proj.bias", {1}, false);
  p.allocate();
  return p;
}

template <class S>
std::vector<S> random_slab(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> dist(0.0, 1.0);
  std::vector<S> v(n);
  for (auto& x : v) x = static_cast<S>(dist(rng));
  return v;
}

TrainingState sample_state(int64_t step) {
  TrainingState st;
  st.step = step;
  st.tokens_seen = 123456789012LL;
  st.seed = 0xFEDCBA9876543210ULL;
  st.data_epoch = 3;
  st.data_cursor = 4242;
  st.config_toml = "[model]\nfamily = \"gpt2\"\n# unicode: é ∑\n";
  st.model_family = "gpt2";
  st.scalars = {{"best_val_loss", 2.718281828459045}, {"lr", 3e-4}};
  return st;
}

template <class S>
void roundtrip(const std::string& name) {
  auto dir = tessera_test::fresh_dir(name);
  ParameterSet<S> p = make_params<S>();
  const size_t n = p.numel();
  auto params = random_slab<S>(n, 1), m = random_slab<S>(n, 2), v = random_slab<S>(n, 3);
  TrainingState st = sample_state(17);
  std::string path = write_checkpoint<S>(dir.string(), p.infos(),
                                         {{"params", params.data()},
                                          {"optimizer/exp_avg", m.data()},
                                          {"optimizer/exp_avg_sq", v.data()}},
                                         st, 0, MPI_COMM_WORLD);
  EXPECT_EQ(fs::path(path).filename().string(), "step_00000017.h5");
  ASSERT_TRUE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));

  std::vector<S> p2(n, S(-1)), m2(n, S(-1)), v2(n, S(-1));
  TrainingState back = read_checkpoint<S>(
      path, p.infos(), {{"params", p2.data()}, {"optimizer/exp_avg", m2.data()}, {"optimizer/exp_avg_sq", v2.data()}},
      MPI_COMM_WORLD);
  EXPECT_EQ(0, std::memcmp(params.data(), p2.data(), n * sizeof(S)));
  EXPECT_EQ(0, std::memcmp(m.data(), m2.data(), n * sizeof(S)));
  EXPECT_EQ(0, std::memcmp(v.data(), v2.data(), n * sizeof(S)));
  EXPECT_EQ(back.step, st.step);
  EXPECT_EQ(back.tokens_seen, st.tokens_seen);
  EXPECT_EQ(back.seed, st.seed);
  EXPECT_EQ(back.data_epoch, st.data_epoch);
  EXPECT_EQ(back.data_cursor, st.data_cursor);
  EXPECT_EQ(back.config_toml, st.config_toml);
  EXPECT_EQ(back.model_family, st.model_family);
  EXPECT_EQ(back.scalars, st.scalars);

  TrainingState only = read_checkpoint_state(path, MPI_COMM_WORLD);
  EXPECT_EQ(only.step, 17);
  EXPECT_EQ(only.config_toml, st.config_toml);
}

}  // namespace

TEST(CheckpointRoundtrip, FloatBitwise) { roundtrip<float>("ckpt_float"); }
TEST(CheckpointRoundtrip, DoubleBitwise) { roundtrip<double>("ckpt_double"); }

TEST(CheckpointRoundtrip, EmptyConfigAndNoScalars) {
  auto dir = tessera_test::fresh_dir("ckpt_empty_state");
  ParameterSet<float> p = make_params<float>();
  auto params = random_slab<float>(p.numel(), 9);
  TrainingState st;
  st.step = 0;
  std::string path = write_checkpoint<float>(dir.string(), p.infos(), {{"params", params.data()}}, st, 0, MPI_COMM_WORLD);
  TrainingState back = read_checkpoint_state(path, MPI_COMM_WORLD);
  EXPECT_EQ(back.config_toml, "");
  EXPECT_TRUE(back.scalars.empty());
  EXPECT_EQ(back.model_family, "gpt2");
}

TEST(CheckpointRoundtrip, ReadsSliceOfFullTensor) {
  // Written by a replicated grid, read back by a "tensor-parallel" rank holding rows 2..4 of wte.
  auto dir = tessera_test::fresh_dir("ckpt_slice");
  ParameterSet<float> full = make_params<float>();
  auto params = random_slab<float>(full.numel(), 5);
  std::string path =
      write_checkpoint<float>(dir.string(), full.infos(), {{"params", params.data()}}, sample_state(1), 0, MPI_COMM_WORLD);
  ParamInfo slice = full.info("wte.weight");
  slice.local_start = {2, 0};
  slice.local_shape = {3, 5};
  slice.shard_dim = 0;
  slice.offset = 0;
  slice.numel = 15;
  std::vector<float> out(15);
  read_checkpoint<float>(path, {slice}, {{"params", out.data()}}, MPI_COMM_WORLD);
  const float* src = params.data() + full.info("wte.weight").offset;
  for (int i = 0; i < 15; ++i) EXPECT_EQ(out[i], src[2 * 5 + i]);
}

TEST(CheckpointRoundtrip, KeepLastDeletesOldAndTmpIgnored) {
  auto dir = tessera_test::fresh_dir("ckpt_keep_last");
  ParameterSet<float> p = make_params<float>();
  auto params = random_slab<float>(p.numel(), 4);
  EXPECT_EQ(find_latest_checkpoint(dir.string()), "");
  EXPECT_EQ(find_latest_checkpoint((dir / "does_not_exist").string()), "");
  for (int64_t step : {10, 20, 30, 40}) {
    write_checkpoint<float>(dir.string(), p.infos(), {{"params", params.data()}}, sample_state(step), 2,
                            MPI_COMM_WORLD);
  }
  EXPECT_FALSE(fs::exists(dir / "step_00000010.h5"));
  EXPECT_FALSE(fs::exists(dir / "step_00000020.h5"));
  EXPECT_TRUE(fs::exists(dir / "step_00000030.h5"));
  EXPECT_TRUE(fs::exists(dir / "step_00000040.h5"));
  EXPECT_EQ(find_latest_checkpoint(dir.string()), (dir / "step_00000040.h5").string());

  // A crashed later write leaves a .tmp: ignored by find_latest, removed by the next write.
  tessera_test::write_file(dir / "step_00000050.h5.tmp", "partial");
  EXPECT_EQ(find_latest_checkpoint(dir.string()), (dir / "step_00000040.h5").string());
  write_checkpoint<float>(dir.string(), p.infos(), {{"params", params.data()}}, sample_state(45), 0, MPI_COMM_WORLD);
  EXPECT_FALSE(fs::exists(dir / "step_00000050.h5.tmp"));
  EXPECT_EQ(find_latest_checkpoint(dir.string()), (dir / "step_00000045.h5").string());
  // keep_last = 0 keeps everything
  EXPECT_TRUE(fs::exists(dir / "step_00000030.h5"));
}
