// Exact resume through the CLI: a run stopped at step k (--stop-at-step) and
// resumed (--resume) logs bitwise the same losses for steps k+1…n as the
// uninterrupted run — dropout, gradient accumulation, shuffled data order mid-epoch
// and AdamW moments included — and ends with bitwise-identical parameters.
#include <gtest/gtest.h>
#include <mpi.h>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <cstring>
#include <fstream>
#include "cli_fixture.hpp"
#include "io/checkpoint.hpp"
#include "io/hdf5_file.hpp"

using namespace tessera_test;
namespace fs = std::filesystem;

namespace {

// step → loss as logged (JSON number text, so the comparison is bitwise).
std::map<int64_t, std::string> train_losses(const fs::path& run_dir) {
  std::map<int64_t, std::string> out;
  std::ifstream f(run_dir / "metrics.jsonl");
  std::string line;
  while (std::getline(f, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["kind"] == "train") out[j["step"].get<int64_t>()] = j["loss"].dump();
  }
  return out;
}

std::vector<float> read_params(const std::string& file, const std::string& prefix) {
  tessera::h5::File f = tessera::h5::File::open_read(file, MPI_COMM_NULL);
  std::vector<float> all;
  for (const auto& name : f.list("/" + prefix)) {
    auto shape = f.dataset_shape("/" + prefix + "/" + name);
    int64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> buf(n);
    std::vector<int64_t> start(shape.size(), 0);
    const std::string obj = "/" + prefix + "/" + name;
    auto dset = f.open_dataset(obj);
    tessera::h5::read_box(f, dset.id(), obj, H5T_NATIVE_FLOAT, start, shape, buf.data(), true, false);
    all.insert(all.end(), buf.begin(), buf.end());
  }
  return all;
}

}  // namespace

TEST(Resume, StoppedAndResumedRunMatchesUninterruptedBitwise) {
  fs::path dir = fresh_dir("resume");
  const std::string data = prepare_ruth(dir);
  write_file(dir / "full.toml", tiny_config(data, (dir / "full").string()));
  write_file(dir / "split.toml", tiny_config(data, (dir / "split").string()));

  auto full = run_tessera("train " + (dir / "full.toml").string());
  ASSERT_EQ(full.exit_code, 0) << full.output;
  auto first = run_tessera("train " + (dir / "split.toml").string() + " --stop-at-step 3");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("stopping at step 3"), std::string::npos) << first.output;
  auto second = run_tessera("train " + (dir / "split.toml").string() + " --resume");
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("resumed from"), std::string::npos) << second.output;

  auto a = train_losses(dir / "full"), b = train_losses(dir / "split");
  ASSERT_EQ(a.size(), 8u);
  ASSERT_EQ(b.size(), 8u);  // steps 1-3 from the first part, 4-8 after resuming
  for (int64_t s = 1; s <= 8; ++s) EXPECT_EQ(a[s], b[s]) << "step " << s;
  EXPECT_NE(a[1], a[8]);  // it trained

  const std::string ca = tessera::find_latest_checkpoint((dir / "full/checkpoints").string());
  const std::string cb = tessera::find_latest_checkpoint((dir / "split/checkpoints").string());
  ASSERT_FALSE(ca.empty());
  ASSERT_FALSE(cb.empty());
  for (const char* group : {"params", "optimizer/exp_avg", "optimizer/exp_avg_sq"}) {
    auto pa = read_params(ca, group), pb = read_params(cb, group);
    ASSERT_EQ(pa.size(), pb.size());
    EXPECT_EQ(0, std::memcmp(pa.data(), pb.data(), pa.size() * sizeof(float))) << group;
  }
}

TEST(Resume, ResumeWithoutCheckpointStartsFresh) {
  fs::path dir = fresh_dir("resume_fresh");
  const std::string data = prepare_ruth(dir);
  write_file(dir / "c.toml", tiny_config(data, (dir / "run").string(), {{"train.max_steps", "2"}}));
  auto r = run_tessera("train " + (dir / "c.toml").string() + " --resume");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("starting fresh"), std::string::npos) << r.output;
}

TEST(Resume, KeepsOnlyLastKCheckpoints) {
  fs::path dir = fresh_dir("resume_keep");
  const std::string data = prepare_ruth(dir);
  write_file(dir / "c.toml", tiny_config(data, (dir / "run").string(),
                                         {{"train.max_steps", "6"}, {"checkpoint.interval", "1"}, {"checkpoint.keep_last", "2"}}));
  auto r = run_tessera("train " + (dir / "c.toml").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> names;
  for (auto& e : fs::directory_iterator(dir / "run/checkpoints")) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[0], "step_00000005.h5");
  EXPECT_EQ(names[1], "step_00000006.h5");
}
