// Bad study files: each is an error naming the study file and the key, the CLI
// exits non-zero, and nothing is started (no study directory appears).
#include <gtest/gtest.h>
#include "src/runtime/error.hpp"
#include "src/tune/study_file.hpp"
#include "test_support.hpp"

using namespace tessera;

namespace {

const char* kBase = R"([model]
n_layer = 2
n_head = 2
n_embd = 32
n_positions = 32
vocab_size = 257
[data]
path = "unused.h5"
seq_len = 32
)";

std::string study(const std::string& study_extra, const std::string& space) {
  std::string head = "[study]\nbase_config = \"base.toml\"\n";
  if (study_extra.find("objective =") == std::string::npos) head += "objective = \"loss\"\n";
  if (study_extra.find("trials =") == std::string::npos) head += "trials = 4\n";
  return head + study_extra + "\n" + space;
}

const std::string kLr = "[space.\"optim.lr\"]\ntype = \"float\"\nlow = 1e-4\nhigh = 1e-2\nlog = true\n";

// The error message of loading `text`, "" if it loads.
std::string error_of(const std::string& text, const std::string& base = kBase) {
  // One directory per test: ctest runs the tests of this file in parallel.
  const auto dir = tessera_test::fresh_dir(std::string("tune_study_file_") +
                                           ::testing::UnitTest::GetInstance()->current_test_info()->name());
  tessera_test::write_file(dir / "base.toml", base);
  tessera_test::write_file(dir / "study.toml", text);
  try {
    load_study((dir / "study.toml").string());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_error(const std::string& text, const std::string& key, const std::string& words) {
  const std::string e = error_of(text);
  EXPECT_NE(e.find("study.toml"), std::string::npos) << e;
  EXPECT_NE(e.find(key), std::string::npos) << "key '" << key << "' not named: " << e;
  EXPECT_NE(e.find(words), std::string::npos) << e;
}

}  // namespace

TEST(StudyFile, AValidStudyLoads) {
  EXPECT_EQ(error_of(study("sampler = \"ga\"", kLr +
                                                   "[space.\"optim.schedule\"]\ntype = \"categorical\"\nchoices = "
                                                   "[\"cosine\", \"constant\"]\n[space.\"optim.min_lr_ratio\"]\ntype = "
                                                   "\"float\"\nlow = 0.0\nhigh = 0.5\ncondition = { param = "
                                                   "\"optim.schedule\", values = [\"cosine\"] }\n")),
            "");
}

TEST(StudyFile, BadInputsNameTheFileAndKey) {
  expect_error(study("", "[space.\"optim.lrr\"]\ntype = \"float\"\nlow = 1\nhigh = 2\n"), "optim.lrr", "did you mean 'optim.lr'");
  expect_error(study("", "[space.\"optim.lr\"]\ntype = \"float\"\nlow = 1e-2\nhigh = 1e-2\n"), "optim.lr", "empty or inverted");
  expect_error(study("", "[space.\"optim.lr\"]\ntype = \"float\"\nlow = 1e-2\nhigh = 1e-4\n"), "optim.lr", "empty or inverted");
  expect_error(study("", "[space.\"optim.weight_decay\"]\ntype = \"float\"\nlow = 0.0\nhigh = 0.1\nlog = true\n"),
               "optim.weight_decay", "log range must be > 0");
  expect_error(study("", "[space.\"optim.schedule\"]\ntype = \"categorical\"\nchoices = []\n"), "optim.schedule",
               "non-empty array of choices");
  expect_error(study("", "[space.\"optim.schedule\"]\ntype = \"categorical\"\n"), "optim.schedule", "choices");
  expect_error(study("", "[space.\"train.micro_batch_size\"]\ntype = \"float\"\nlow = 1\nhigh = 4\n"),
               "train.micro_batch_size", "does not fit the int key");
  expect_error(study("", "[space.\"model.attn_pdrop\"]\ntype = \"float\"\nlow = 0.0\nhigh = 1.0\n"), "model.attn_pdrop",
               "invalid run config");
  expect_error(study("ranks_per_trial = 2", kLr), "study.ranks_per_trial", "does not fit the trial grid");
  expect_error(study("objective = \"bleu\"", kLr), "study.objective", "not a metric");
  expect_error(study("sampler = \"tpe\"", kLr), "study.sampler", "random, grid, bo or ga");
  expect_error(study("", kLr + "[sampler]\npopulation = 4\n"), "sampler.population", "not a setting of sampler = \"bo\"");
  expect_error(study("pruner = \"asha\"", kLr + "[pruner]\nreduction_factor = 1\n"), "pruner.reduction_factor", ">= 2");
  expect_error(study("colour = 1", kLr), "study.colour", "unknown key");
  expect_error(study("", "[space.\"optim.min_lr_ratio\"]\ntype = \"float\"\nlow = 0.0\nhigh = 0.5\ncondition = { param = "
                         "\"optim.schedule\", values = [\"cosine\"] }\n"),
               "optim.min_lr_ratio", "not a parameter of this space");
  expect_error(study("", "[space.\"optim.warmup_steps\"]\ntype = \"int\"\nlow = 0\nhigh = 10\nstep = 0\n"),
               "optim.warmup_steps", ">= 1");
  expect_error(study("trials = 0", kLr), "study.trials", "budget");
  const std::string e = error_of(study("", kLr), std::string(kBase) + "[parallel]\ndp = 2\n");
  EXPECT_NE(e.find("ranks_per_trial"), std::string::npos) << e;
}

TEST(StudyFile, CliRejectsBadStudiesBeforeStartingAnything) {
  const auto dir = tessera_test::fresh_dir("tune_study_cli");
  tessera_test::write_file(dir / "base.toml", kBase);
  tessera_test::write_file(dir / "study.toml", study("dir = \"" + (dir / "st").string() + "\"",
                                                     "[space.\"optim.lr\"]\ntype = \"float\"\nlow = 0.0\nhigh = 1e-2\nlog = true\n"));
  const auto r = tessera_test::run_tessera("tune " + (dir / "study.toml").string());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("study.toml"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("optim.lr"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "st"));
  // ranks_per_trial that does not divide the world
  tessera_test::write_file(dir / "study.toml", study("dir = \"" + (dir / "st").string() + "\"\nranks_per_trial = 2",
                                                     kLr));
  tessera_test::write_file(dir / "base.toml", std::string(kBase) + "[parallel]\ndp = 2\n");
  const auto r3 = tessera_test::run_mpi(3, "tune " + (dir / "study.toml").string());
  EXPECT_NE(r3.exit_code, 0) << r3.output;
  EXPECT_NE(r3.output.find("does not divide the job's 3 ranks"), std::string::npos) << r3.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "st"));
}
