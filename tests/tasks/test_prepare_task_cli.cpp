// `tessera prepare --task` end to end: each task file type becomes a task HDF5
// dataset whose rows and label map match the readers; a validation label the
// training file lacks is an error naming the file and line.
#include <gtest/gtest.h>
#include <mpi.h>
#include "io/task_dataset.hpp"
#include "io/task_readers.hpp"
#include "test_support.hpp"

using namespace tessera_test;

namespace {
std::string fixture(const std::string& name) { return source_dir() + "/tests/fixtures/tasks/" + name; }
}  // namespace

TEST(PrepareTaskCli, EachTaskWritesItsDataset) {
  const auto dir = fresh_dir("prepare_task_cli");
  struct Case {
    std::string task, input, extra, expect_task;
  };
  for (const Case& c : {Case{"classification", "classify.csv", "--max-len 16", "sequence-classification"},
                        Case{"ner", "ner.conll", "--max-len 32 --label-alignment all-subwords", "token-classification"},
                        Case{"qa", "squad.json", "--max-len 64 --doc-stride 16", "question-answering"}}) {
    const std::string out = (dir / (c.task + ".h5")).string();
    auto r = run_tessera("prepare --task " + c.task + " --input " + fixture(c.input) + " --validation-input " +
                         fixture(c.input) + " --vocab " + fixture("vocab.txt") + " --output " + out + " " + c.extra);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    tessera::TaskDataset d(out, MPI_COMM_SELF);
    EXPECT_EQ(d.info().task, c.expect_task);
    ASSERT_TRUE(d.has_split("train"));
    ASSERT_TRUE(d.has_split("validation"));
    EXPECT_GT(d.num_rows("train"), 0);
    EXPECT_EQ(d.num_rows("train"), d.num_rows("validation"));  // same file, same encoding
    if (c.task == "classification") {
      const auto data = tessera::read_classification(fixture(c.input));
      EXPECT_EQ(d.num_rows("train"), int64_t(data.examples.size()));
      EXPECT_EQ(d.info().label_names, data.label_names);
    }
    if (c.task == "ner") EXPECT_EQ(d.info().label_names, tessera::read_conll(fixture(c.input)).label_names);
    auto insp = run_tessera("inspect " + out);
    EXPECT_EQ(insp.exit_code, 0) << insp.output;
    EXPECT_NE(insp.output.find(c.expect_task), std::string::npos) << insp.output;
  }
}

TEST(PrepareTaskCli, ValidationLabelMissingFromTrainingIsAnError) {
  const auto dir = fresh_dir("prepare_task_cli_bad");
  write_file(dir / "train.csv", "text,label\nin the beginning,good\nand the earth,bad\n");
  write_file(dir / "val.csv", "text,label\nlet there be light,good\nand there was light,neutral\n");
  auto r = run_tessera("prepare --task classification --input " + (dir / "train.csv").string() +
                       " --validation-input " + (dir / "val.csv").string() + " --vocab " + fixture("vocab.txt") +
                       " --output " + (dir / "o.h5").string());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("val.csv:3"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("neutral"), std::string::npos) << r.output;
}

TEST(PrepareTaskCli, UnknownTaskAndMissingVocab) {
  auto r = run_tessera("prepare --task summarise --input x --output y.h5");
  EXPECT_NE(r.exit_code, 0) << r.output;
  auto r2 = run_tessera("prepare --task ner --input " + fixture("ner.conll") + " --output /tmp/none.h5");
  EXPECT_NE(r2.exit_code, 0) << r2.output;
  EXPECT_NE(r2.output.find("--vocab"), std::string::npos) << r2.output;
}
