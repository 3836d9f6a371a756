// Issue #10's minor defects: a resumed run already at max_steps reports that no
// step ran (not "train loss 0"); a data-loader position that does not fit the
// dataset names the checkpoint file; `prepare --input DIR` says it is a directory.
#include <gtest/gtest.h>
#include "cli_fixture.hpp"

namespace fs = std::filesystem;
using namespace tessera_test;

namespace {

fs::path trained(const std::string& name) {
  const fs::path dir = fresh_dir(name);
  write_file(dir / "run.toml", tiny_config(prepare_ruth(dir), (dir / "run").string()));
  auto r = run_tessera("train " + (dir / "run.toml").string());
  if (r.exit_code != 0) throw std::runtime_error(r.output);
  return dir;
}

}  // namespace

TEST(MinorDefects, ResumeAtMaxStepsSaysNoStepRanInsteadOfTrainLossZero) {
  const fs::path dir = trained("minor_resume_done");
  auto r = run_tessera("train " + (dir / "run.toml").string() + " --resume");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("train loss 0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("already at step 8 of 8: no training step to run"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("done: 8 steps, no training step run (already at step 8)"), std::string::npos) << r.output;
}

TEST(MinorDefects, DataLoaderPositionOutsideTheDatasetNamesTheCheckpoint) {
  const fs::path dir = trained("minor_cursor");
  // A smaller dataset than the one the checkpoint's cursor (8 steps × 8 samples) counts in.
  write_file(dir / "small.txt", read_file(source_dir() + "/data/kjv/08_ruth.txt").substr(0, 1500));
  auto p = run_tessera("prepare --input " + (dir / "small.txt").string() + " --output " + (dir / "small.h5").string() +
                       " --validation-fraction 0.2 --doc-separator line");
  ASSERT_EQ(p.exit_code, 0) << p.output;
  write_file(dir / "small.toml", tiny_config((dir / "small.h5").string(), (dir / "run").string(), {{"train.max_steps", "12"}}));
  auto r = run_tessera("train " + (dir / "small.toml").string() + " --resume");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find((dir / "run" / "checkpoints" / "step_00000008.h5").string() +
                          ": invalid data loader position in checkpoint (data_epoch 0, data_cursor 64; the training split has "),
            std::string::npos) << r.output;
}

TEST(MinorDefects, PrepareInputDirectoryIsNamedAsADirectory) {
  const fs::path dir = fresh_dir("minor_prepare_dir");
  auto r = run_tessera("prepare --input " + dir.string() + " --output " + (dir / "x.h5").string());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("prepare --input " + dir.string() + ": is a directory, not a file"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("input is empty"), std::string::npos) << r.output;
  auto t = run_tessera("prepare --task classification --input " + dir.string() + " --output " + (dir / "x.h5").string());
  EXPECT_NE(t.exit_code, 0) << t.output;
  EXPECT_NE(t.output.find("is a directory"), std::string::npos) << t.output;
}
