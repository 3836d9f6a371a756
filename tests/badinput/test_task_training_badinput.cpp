// Fine-tuning bad inputs through the CLI: each is a clear error (naming the file /
// key / tensor) and a non-zero exit, never a silently wrong run.
#include <gtest/gtest.h>
#include "test_support.hpp"

using namespace tessera_test;
namespace fs = std::filesystem;

namespace {

std::string vocab() { return source_dir() + "/tests/fixtures/tasks/vocab.txt"; }

// A 2-label classification dataset (vocabulary of 69 WordPiece tokens).
std::string prepare(const fs::path& dir) {
  std::string csv = "text,label\n";
  for (int i = 0; i < 8; ++i) csv += "god created heaven and earth,good\nmoses went to egypt,bad\n";
  write_file(dir / "train.csv", csv);
  const std::string out = (dir / "data.h5").string();
  auto r = run_tessera("prepare --task classification --input " + (dir / "train.csv").string() +
                       " --validation-input " + (dir / "train.csv").string() + " --vocab " + vocab() +
                       " --max-len 12 --output " + out);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return out;
}

std::string config(const fs::path& dir, const std::string& data, const std::string& run, const std::string& model,
                   const std::string& train_extra = "") {
  return "[model]\n" + model + "\n[data]\npath = \"" + data + "\"\n[train]\nmax_steps = 1\nmicro_batch_size = 2\n" +
         train_extra + "\n[run]\ndir = \"" + (dir / run).string() + "\"\n";
}

const char* kTinyBert =
    "family = \"bert\"\nhead = \"sequence_classification\"\nnum_labels = 2\nn_layer = 2\nn_head = 2\n"
    "n_embd = 16\nn_positions = 16\nvocab_size = 69";

void expect_fails(const fs::path& dir, const std::string& name, const std::string& toml,
                  std::initializer_list<std::string> needles) {
  write_file(dir / (name + ".toml"), toml);
  auto r = run_tessera("train " + (dir / (name + ".toml")).string());
  EXPECT_NE(r.exit_code, 0) << name << ": " << r.output;
  for (const std::string& n : needles) EXPECT_NE(r.output.find(n), std::string::npos) << name << ": " << r.output;
}

}  // namespace

TEST(TaskTrainingBadInput, DatasetAndModelMustAgree) {
  const fs::path dir = fresh_dir("task_training_badinput");
  const std::string data = prepare(dir);
  std::string m = kTinyBert;
  expect_fails(dir, "head", config(dir, data, "r1", std::string(m).replace(m.find("sequence_classification"), 23,
                                                                            "token_classification")),
               {"sequence-classification dataset", "model.head"});
  expect_fails(dir, "labels", config(dir, data, "r2", std::string(m).replace(m.find("num_labels = 2"), 14,
                                                                              "num_labels = 3")),
               {"2 labels", "model.num_labels = 3"});
  expect_fails(dir, "vocab", config(dir, data, "r3", std::string(m).replace(m.find("vocab_size = 69"), 15,
                                                                             "vocab_size = 50")),
               {"vocab_size 69", "model's vocab_size is 50"});
  expect_fails(dir, "lm_head", config(dir, data, "r4", "family = \"gpt2\"\nn_layer = 1\nn_head = 2\nn_embd = 16\n"
                                                       "n_positions = 16\nvocab_size = 69"),
               {"sequence-classification dataset", "causal_lm"});
  expect_fails(dir, "metric", config(dir, data, "r5", m, "eval_metric = \"entity_f1\"\neval_interval = 1"),
               {"train.eval_metric", "entity_f1"});
  expect_fails(dir, "resample_weights", config(dir, data, "r6", m, "class_weights = \"good=1\""),
               {"train.class_weights"});
}

TEST(TaskTrainingBadInput, InitFromArchitectureAndHeadShapes) {
  const fs::path dir = fresh_dir("task_training_badinput_init");
  const std::string data = prepare(dir);
  write_file(dir / "base.toml", config(dir, data, "base", kTinyBert));
  auto b = run_tessera("train " + (dir / "base.toml").string());
  ASSERT_EQ(b.exit_code, 0) << b.output;
  const std::string ckpt = (dir / "base/checkpoints/step_00000001.h5").string();
  // A size that contradicts the checkpoint's architecture.
  expect_fails(dir, "conflict",
               config(dir, data, "c1", "init_from = \"" + ckpt + "\"\nhead = \"sequence_classification\"\n"
                                       "num_labels = 2\nn_layer = 4"),
               {"model.n_layer", "differs from the architecture of model.init_from", ckpt});
  // The checkpoint's 2-class head cannot load into a 3-class head of the same name.
  std::string csv3 = "text,label\n";
  for (int i = 0; i < 6; ++i) csv3 += "god created heaven,good\nmoses went to egypt,bad\nlet there be light,other\n";
  write_file(dir / "three.csv", csv3);
  auto p = run_tessera("prepare --task classification --input " + (dir / "three.csv").string() + " --vocab " +
                       vocab() + " --max-len 12 --output " + (dir / "three.h5").string());
  ASSERT_EQ(p.exit_code, 0) << p.output;
  expect_fails(dir, "shape",
               config(dir, (dir / "three.h5").string(), "c2",
                      "init_from = \"" + ckpt + "\"\nhead = \"sequence_classification\"\nnum_labels = 3"),
               {"classifier.weight", ckpt});
  // The same checkpoint with its own head size fine-tunes (control).
  write_file(dir / "ok.toml",
             config(dir, data, "ok", "init_from = \"" + ckpt + "\"\nhead = \"sequence_classification\"\nnum_labels = 2"));
  auto ok = run_tessera("train " + (dir / "ok.toml").string());
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
}
