// Bad input through the CLI: each case exits non-zero with a message naming the
// problem (file, key, or step) — never a hang, a crash or a silent success.
#include <gtest/gtest.h>
#include <fstream>
#include "cli_fixture.hpp"

using namespace tessera_test;
namespace fs = std::filesystem;

namespace {

void expect_failure(const CommandResult& r, const std::vector<std::string>& needles) {
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_LT(r.exit_code, 128) << "crashed: " << r.output;  // a clean error exit, not a signal
  EXPECT_NE(r.output.find("tessera: error"), std::string::npos) << r.output;
  for (const auto& n : needles) EXPECT_NE(r.output.find(n), std::string::npos) << "'" << n << "' not in: " << r.output;
}

class CliBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fresh_dir(std::string("cli_bad_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    data = prepare_ruth(dir);
  }
  std::string config(std::map<std::string, std::string> overrides) {
    const fs::path p = dir / "c.toml";
    write_file(p, tiny_config(data, (dir / "run").string(), std::move(overrides)));
    return p.string();
  }
  fs::path dir;
  std::string data;
};

}  // namespace

TEST_F(CliBadInput, MissingConfigFile) {
  expect_failure(run_tessera("train " + (dir / "nope.toml").string()), {"nope.toml", "not found"});
}

TEST_F(CliBadInput, UnknownConfigKey) {
  expect_failure(run_tessera("train " + config({{"train.micro_bach_size", "4"}})), {"train.micro_bach_size", "c.toml"});
}

TEST_F(CliBadInput, IllTypedConfigValue) {
  expect_failure(run_tessera("train " + config({{"train.max_steps", "\"ten\""}})), {"train.max_steps"});
}

TEST_F(CliBadInput, MissingDataFile) {
  expect_failure(run_tessera("train " + config({{"data.path", "\"" + (dir / "absent.h5").string() + "\""}})),
                 {"absent.h5"});
}

TEST_F(CliBadInput, NonHdf5DataFile) {
  write_file(dir / "text.h5", "this is not an HDF5 file\n");
  expect_failure(run_tessera("train " + config({{"data.path", "\"" + (dir / "text.h5").string() + "\""}})),
                 {"text.h5", "not an HDF5 file"});
}

TEST_F(CliBadInput, TruncatedDataFile) {
  const std::string whole = read_file(data);
  write_file(dir / "half.h5", whole.substr(0, whole.size() / 2));
  expect_failure(run_tessera("train " + config({{"data.path", "\"" + (dir / "half.h5").string() + "\""}})),
                 {"half.h5"});
}

TEST_F(CliBadInput, DatasetVocabLargerThanModel) {
  expect_failure(run_tessera("train " + config({{"model.vocab_size", "100"}})), {"vocab_size", "257", "100"});
}

TEST_F(CliBadInput, NanLossReportsTheStep) {
  // A huge learning rate drives the weights to inf within a few steps.
  auto r = run_tessera("train " + config({{"optim.lr", "1e30"}, {"optim.warmup_steps", "0"}, {"train.grad_clip", "0"},
                                          {"train.max_steps", "50"}}));
  expect_failure(r, {"at step"});
  EXPECT_TRUE(r.output.find("loss is") != std::string::npos || r.output.find("gradient norm is") != std::string::npos)
      << r.output;
}

TEST_F(CliBadInput, InspectMissingAndForeignFiles) {
  expect_failure(run_tessera("inspect " + (dir / "missing.h5").string()), {"missing.h5"});
  write_file(dir / "foreign.h5", "plain text");
  expect_failure(run_tessera("inspect " + (dir / "foreign.h5").string()), {"foreign.h5", "not an HDF5 file"});
}

TEST_F(CliBadInput, EvalWithCorruptCheckpoint) {
  write_file(dir / "step_00000001.h5", "garbage");
  expect_failure(run_tessera("eval " + config({}) + " --checkpoint " + (dir / "step_00000001.h5").string()),
                 {"step_00000001.h5"});
}

TEST_F(CliBadInput, UnknownSubcommandAndMissingArgs) {
  auto r = run_tessera("frobnicate");
  EXPECT_NE(r.exit_code, 0) << r.output;
  auto r2 = run_tessera("prepare --output x.h5");
  EXPECT_NE(r2.exit_code, 0) << r2.output;
  EXPECT_NE(r2.output.find("--input"), std::string::npos) << r2.output;
}

TEST_F(CliBadInput, PrepareMissingInput) {
  expect_failure(run_tessera("prepare --input " + (dir / "none.txt").string() + " --output " + (dir / "o.h5").string()),
                 {"none.txt"});
}
