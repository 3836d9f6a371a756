// `tessera explain` end-to-end setup: the tasks fixture's classification dataset,
// a tiny BERT classifier config and a random-init checkpoint (large init range so the
// attributions are visibly non-zero) in the run directory.
#pragma once
#include "io/task_dataset.hpp"  // first: see the kIgnoreIndex note there
#include <Kokkos_Core.hpp>
#include <gtest/gtest.h>
#include <mpi.h>

#include <sstream>

#include "io/checkpoint.hpp"
#include "src/config/run_config.hpp"
#include "src/model/transformer.hpp"
#include "initial_checkpoint.hpp"
#include "test_support.hpp"

namespace explain_test {

struct ExplainSetup {
  std::filesystem::path dir;
  std::string config, dataset;
  std::vector<std::string> labels;
};

inline ExplainSetup make_explain_setup(const std::string& name) {
  using namespace tessera_test;
  ExplainSetup s;
  s.dir = fresh_dir(name);
  const std::string fx = source_dir() + "/tests/fixtures/tasks/";
  s.dataset = (s.dir / "classify.h5").string();
  auto r = run_tessera("prepare --task classification --input " + fx + "classify.csv --vocab " + fx +
                       "vocab.txt --max-len 16 --output " + s.dataset);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  s.labels = tessera::TaskDataset(s.dataset, MPI_COMM_SELF).info().label_names;
  s.config = (s.dir / "run.toml").string();
  write_file(s.config, "[model]\nfamily = \"bert\"\nhead = \"sequence_classification\"\nnum_labels = 3\n"
                       "n_layer = 2\nn_head = 2\nn_embd = 16\nn_positions = 16\nvocab_size = 69\n"
                       "initializer_range = 0.5\n[data]\npath = \"" + s.dataset +
                       "\"\nseq_len = 16\n[train]\nmicro_batch_size = 4\n[run]\ndir = \"" + (s.dir / "run").string() +
                       "\"\n");
  write_initial_checkpoint(s.config, s.dir / "run", 5);
  return s;
}

// A tiny BERT question-answering model (random init) over the fixture SQuAD file prepared
// with max_len 48.
inline ExplainSetup make_qa_explain_setup(const std::string& name) {
  using namespace tessera_test;
  ExplainSetup s;
  s.dir = fresh_dir(name);
  const std::string fx = source_dir() + "/tests/fixtures/tasks/";
  s.dataset = (s.dir / "qa.h5").string();
  const std::string& dataset = s.dataset;
  auto r = run_tessera("prepare --task qa --input " + fx + "squad.json --vocab " + fx +
                       "vocab.txt --max-len 48 --doc-stride 16 --skip-bad-rows --output " + dataset);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  s.config = (s.dir / "run.toml").string();
  write_file(s.config, "[model]\nfamily = \"bert\"\nhead = \"question_answering\"\n"
                       "n_layer = 2\nn_head = 2\nn_embd = 16\nn_positions = 48\nvocab_size = 69\n"
                       "initializer_range = 0.5\n[data]\npath = \"" + dataset +
                       "\"\nseq_len = 48\n[train]\nmicro_batch_size = 4\n[run]\ndir = \"" + (s.dir / "run").string() +
                       "\"\n");
  write_initial_checkpoint(s.config, s.dir / "run", 5);
  return s;
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

}  // namespace explain_test
