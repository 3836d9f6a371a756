// model.init_blocks (layer dropping at init_from): a 2-block model initialised
// with blocks "1,3" of a trained 4-block checkpoint holds exactly those blocks'
// weights (and the same embeddings/head); `train` runs it; bad specs are errors.
#include <gtest/gtest.h>
#include <mpi.h>
#include "cli_fixture.hpp"
#include "io/checkpoint.hpp"
#include "src/config/run_config.hpp"
#include "src/runtime/error.hpp"
#include "src/train/block_subset.hpp"
#include "src/train/trainer.hpp"

namespace fs = std::filesystem;
using namespace tessera;
using namespace tessera_test;

TEST(InitBlocks, KeptBlocksCarryTheCheckpointsWeights) {
  const fs::path dir = fresh_dir("tune_init_blocks");
  const std::string data = prepare_ruth(dir);
  write_file(dir / "big.toml", tiny_config(data, (dir / "big").string(),
                                           {{"model.n_layer", "4"}, {"train.max_steps", "2"}, {"train.peak_gflops", "10"}}));
  ASSERT_EQ(run_tessera("train " + (dir / "big.toml").string()).exit_code, 0);
  const std::string ckpt = find_latest_checkpoint((dir / "big" / "checkpoints").string());
  ASSERT_FALSE(ckpt.empty());
  std::string small_text = tiny_config(data, (dir / "small").string(), {{"train.max_steps", "2"}, {"train.peak_gflops", "10"}});
  small_text.replace(small_text.find("n_layer = 2\n"), 12, "");
  small_text.replace(small_text.find("[model]\n"), 8, "[model]\ninit_from = \"" + ckpt + "\"\ninit_blocks = \"1,3\"\n");
  write_file(dir / "small.toml", small_text);
  RunConfig cfg = load_run_config((dir / "small.toml").string());
  resolve_init_from(cfg, MPI_COMM_WORLD);
  ASSERT_EQ(cfg.model.transformer.n_layer, 2);
  GPT2<float> small(cfg.model.transformer);
  EXPECT_TRUE(load_model_weights(small, ckpt, MPI_COMM_WORLD, {1, 3}).empty());
  RunConfig big_cfg = load_run_config((dir / "big.toml").string());
  GPT2<float> big(big_cfg.model.transformer);
  ASSERT_TRUE(load_model_weights(big, ckpt, MPI_COMM_WORLD).empty());
  auto hs = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), small.params().values());
  auto hb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), big.params().values());
  int compared = 0;
  for (const ParamInfo& s : small.params().infos()) {
    const std::string want = checkpoint_name_of(s.name, {1, 3});
    for (const ParamInfo& b : big.params().infos())
      if (b.name == want) {
        ASSERT_EQ(b.numel, s.numel);
        for (size_t i = 0; i < s.numel; ++i) ASSERT_EQ(hs(s.offset + i), hb(b.offset + i)) << s.name << " vs " << b.name;
        ++compared;
      }
  }
  EXPECT_EQ(compared, int(small.params().infos().size()));
  EXPECT_EQ(checkpoint_name_of("h.1.attn.c_attn.weight", {1, 3}), "h.3.attn.c_attn.weight");
  const auto r = run_tessera("train " + (dir / "small.toml").string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(": 2 layers"), std::string::npos) << r.output;
}

TEST(InitBlocks, BadSpecsAreErrors) {
  EXPECT_EQ(parse_block_subset("every:2", 6, "c"), (std::vector<int>{0, 2, 4}));
  EXPECT_EQ(parse_block_subset("first:3", 6, "c"), (std::vector<int>{0, 1, 2}));
  for (const char* bad : {"first:0", "first:7", "every:0", "2,1", "1,1", "0,9", "x", ""})
    EXPECT_THROW(parse_block_subset(bad, 6, "c"), Error) << bad;
  EXPECT_THROW(parse_run_config("[model]\ninit_blocks = \"first:2\"\n[data]\npath = \"x.h5\"\n", "c.toml"), Error);
}
