// --resume is all or nothing and never trusts a bad checkpoint: a checkpoint
// missing any group/attribute a resumed run needs is refused naming it; a
// corrupt step attribute is refused naming the file and attribute; a truncated
// newest checkpoint is skipped (said so) and the previous complete one resumes.
#include <gtest/gtest.h>
#include <hdf5.h>

#include "cli_fixture.hpp"
#include "io/checkpoint.hpp"

using namespace tessera_test;
namespace fs = std::filesystem;

namespace {

// A run dir with a trained tiny model's checkpoints at steps 4 and 8 (once per test
// process; one directory per test, since ctest runs the tests as concurrent processes).
fs::path trained_run() {
  static fs::path dir;
  if (dir.empty()) {
    dir = fresh_dir(std::string("integrity_resume_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    const std::string data = prepare_ruth(dir);
    write_file(dir / "run.toml", tiny_config(data, (dir / "run").string()));
    auto r = run_tessera("train " + (dir / "run.toml").string());
    if (r.exit_code != 0) throw std::runtime_error(r.output);
  }
  return dir;
}

// Copies the trained run into <name>/ (checkpoints only: steps listed) and returns the config path.
std::string copy_run(const std::string& name, std::vector<int> steps, std::map<std::string, std::string> over = {}) {
  const fs::path src = trained_run();
  const fs::path dst = fresh_dir(name);
  fs::create_directories(dst / "run" / "checkpoints");
  for (int s : steps)
    fs::copy_file(tessera::checkpoint_path((src / "run" / "checkpoints").string(), s),
                  tessera::checkpoint_path((dst / "run" / "checkpoints").string(), s));
  over["train.max_steps"] = "12";
  write_file(dst / "run.toml", tiny_config((src / "ruth.h5").string(), (dst / "run").string(), over));
  return (dst / "run.toml").string();
}

std::string ckpt(const std::string& config, int step) {
  return tessera::checkpoint_path((fs::path(config).parent_path() / "run" / "checkpoints").string(), step);
}

}  // namespace

TEST(ResumeIntegrity, CheckpointMissingAnyRequiredPartIsRefusedNamingIt) {
  const std::vector<std::pair<std::string, std::string>> parts = {
      {"/params", ""}, {"/optimizer/exp_avg", ""}, {"/optimizer/exp_avg_sq", ""}, {"/run/scalars", ""},
      {"/", "step"},   {"/", "data_cursor"},       {"/", "data_epoch"},           {"/", "seed"},
      {"/run/scalars", "bad_evaluations"}};
  int k = 0;
  for (const auto& [obj, attr] : parts) {
    const std::string cfg = copy_run("integrity_missing_" + std::to_string(k++), {8});
    const std::string file = ckpt(cfg, 8);
    {
      hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
      ASSERT_GE(f, 0);
      if (attr.empty()) ASSERT_GE(H5Ldelete(f, obj.c_str(), H5P_DEFAULT), 0);
      else ASSERT_GE(H5Adelete_by_name(f, obj.c_str(), attr.c_str(), H5P_DEFAULT), 0);
      H5Fclose(f);
    }
    const std::string name = attr.empty() ? obj : (obj == "/" ? "/@" : obj + "/@") + attr;
    auto r = run_tessera("train " + cfg + " --resume");
    EXPECT_NE(r.exit_code, 0) << name << "\n" << r.output;
    EXPECT_NE(r.output.find(file), std::string::npos) << name << "\n" << r.output;
    EXPECT_NE(r.output.find(name), std::string::npos) << name << "\n" << r.output;
    EXPECT_EQ(r.output.find("step 9"), std::string::npos) << name << ": trained on\n" << r.output;
  }
}

TEST(ResumeIntegrity, NegativeStepIsRefusedNamingFileAndAttribute) {
  const std::string cfg = copy_run("integrity_negative_step", {8});
  const std::string file = ckpt(cfg, 8);
  {
    hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "step", H5P_DEFAULT);
    const int64_t v = -5;
    H5Awrite(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
    H5Fclose(f);
  }
  auto r = run_tessera("train " + cfg + " --resume");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(file + ": /@step: is -5"), std::string::npos) << r.output;
  auto e = run_tessera("inspect " + file);
  EXPECT_NE(e.exit_code, 0);
  EXPECT_NE(e.output.find("/@step"), std::string::npos) << e.output;
}

TEST(ResumeIntegrity, TruncatedNewestCheckpointFallsBackToPreviousAndSaysSo) {
  const std::string cfg = copy_run("integrity_truncated", {4, 8});
  const std::string newest = ckpt(cfg, 8);
  fs::resize_file(newest, fs::file_size(newest) / 2);
  auto v = run_tessera("inspect --verify " + newest);
  EXPECT_NE(v.exit_code, 0) << v.output;
  auto r = run_tessera("train " + cfg + " --resume");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("skipped " + newest + ":"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("resumed from " + ckpt(cfg, 4) + " at step 4"), std::string::npos) << r.output;
  auto ok = run_tessera("inspect --verify " + ckpt(cfg, 12));
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("; OK"), std::string::npos) << ok.output;
}
