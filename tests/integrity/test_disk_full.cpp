// Disk full: the checkpoint directory is a tmpfs (mounted by the test; it must
// run as root — a failed mount fails the test with the reason) with room for
// one checkpoint only. The second checkpoint fails clearly ("No space left on
// device", the directory and sizes), exit non-zero and no crash; the first
// checkpoint is intact, no partial file is left that a later resume could take,
// and after making room `--resume` continues from it with losses bitwise equal
// to an uninterrupted run's. Two fill levels: refused before writing (free
// space below the tensor bytes) and failing mid-write (HDF5 runs out of room).
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <cerrno>
#include <cstring>
#include <regex>
#include "cli_fixture.hpp"
#include "io/checkpoint.hpp"
#include "slurm/slurm_support.hpp"

namespace fs = std::filesystem;
using namespace tessera_test;

namespace {

// A tmpfs of `bytes` at `dir`, unmounted by the destructor.
struct Tmpfs {
  fs::path dir;
  std::string error;  // non-empty when the mount failed
  Tmpfs(const fs::path& d, long bytes) : dir(d) {
    fs::create_directories(dir);
    const std::string opts = "size=" + std::to_string(bytes);
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) != 0)
      error = "mount -t tmpfs -o " + opts + " tmpfs " + dir.string() + ": " + std::strerror(errno) +
              " (this test needs root or CAP_SYS_ADMIN)";
  }
  bool resize(long bytes) {
    const std::string opts = "size=" + std::to_string(bytes);
    return ::mount("tmpfs", dir.c_str(), "tmpfs", MS_REMOUNT, opts.c_str()) == 0;
  }
  ~Tmpfs() {
    if (error.empty()) ::umount2(dir.c_str(), MNT_DETACH);
  }
};

struct Reference {
  fs::path dir;
  std::string data;
  std::map<long, double> losses;
  long checkpoint_bytes = 0;  // one checkpoint file
  long tensor_bytes = 0;      // params + two AdamW moments, float32
};

std::map<std::string, std::string> overrides(const std::string& ckpt_dir = "") {
  std::map<std::string, std::string> o = {{"train.max_steps", "12"}, {"checkpoint.interval", "4"}};
  if (!ckpt_dir.empty()) o["checkpoint.dir"] = "\"" + ckpt_dir + "\"";
  return o;
}

const Reference& reference() {
  static Reference r;
  if (r.data.empty()) {
    r.dir = fresh_dir(std::string("disk_full_") +  // one per test: ctest runs tests as concurrent processes
                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    r.data = prepare_ruth(r.dir);
    write_file(r.dir / "ref.toml", tiny_config(r.data, (r.dir / "ref").string(), overrides()));
    auto run = run_tessera("train " + (r.dir / "ref.toml").string());
    if (run.exit_code != 0) throw std::runtime_error(run.output);
    r.losses = train_losses(r.dir / "ref" / "metrics.jsonl");
    r.checkpoint_bytes = long(fs::file_size(tessera::checkpoint_path((r.dir / "ref" / "checkpoints").string(), 4)));
    std::smatch m;
    if (!std::regex_search(run.output, m, std::regex(R"(, (\d+) parameters;)"))) throw std::runtime_error(run.output);
    r.tensor_bytes = 3 * 4 * std::stol(m[1].str());
  }
  return r;
}

void fill_and_resume(const std::string& name, long extra_room, const std::string& expect) {
  const Reference& ref = reference();
  ASSERT_EQ(ref.losses.size(), 12u);
  const fs::path dir = ref.dir / name;
  fs::remove_all(dir);
  Tmpfs disk(dir / "ckpt", ref.checkpoint_bytes + extra_room);
  ASSERT_TRUE(disk.error.empty()) << disk.error;
  const std::string cfg = (dir / "run.toml").string();
  write_file(cfg, tiny_config(ref.data, (dir / "run").string(), overrides(disk.dir.string())));
  auto r = run_tessera("train " + cfg);
  EXPECT_EQ(r.exit_code, 1) << r.output;  // a clean error, not a crash
  EXPECT_NE(r.output.find("No space left on device"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(expect), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("the previous checkpoints are intact"), std::string::npos) << r.output;
  std::vector<std::string> left;
  for (auto& e : fs::directory_iterator(disk.dir)) left.push_back(e.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"step_00000004.h5"}) << "a partial checkpoint was left behind";

  ASSERT_TRUE(disk.resize(64 << 20));
  auto res = run_tessera("train " + cfg + " --resume");
  ASSERT_EQ(res.exit_code, 0) << res.output;
  EXPECT_NE(res.output.find("resumed from " + tessera::checkpoint_path(disk.dir.string(), 4) + " at step 4"),
            std::string::npos) << res.output;
  EXPECT_EQ(train_losses(dir / "run" / "metrics.jsonl"), ref.losses);  // bitwise
}

}  // namespace

TEST(DiskFull, CheckpointRefusedBeforeWritingThenPreviousResumesExactly) {
  // Room for half the next checkpoint's tensors: refused before HDF5 writes anything.
  fill_and_resume("precheck", reference().tensor_bytes / 2, "cannot write the checkpoint: No space left on device");
}

TEST(DiskFull, CheckpointFailingMidWriteLeavesNoPartialFileThenPreviousResumesExactly) {
  // Room for the tensor bytes but not the whole file: HDF5 fails part way.
  fill_and_resume("midwrite", reference().tensor_bytes + 16384, "filled up while writing");
}

TEST(DiskFull, DatasetWriteFailsClearlyAndLeavesNoPartialFile) {
  const fs::path dir = fresh_dir("disk_full_dataset");
  Tmpfs disk(dir / "out", 64 * 1024);
  ASSERT_TRUE(disk.error.empty()) << disk.error;
  const std::string out = (disk.dir / "ruth.h5").string();
  auto r = run_tessera("prepare --input " + source_dir() + "/data/kjv/08_ruth.txt --output " + out +
                       " --validation-fraction 0.2 --doc-separator line");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(out), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("No space left on device"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::is_empty(disk.dir)) << "a partial dataset was left behind";
}
