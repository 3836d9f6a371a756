// The data source of a training run: the dataset named by data.path (a token
// stream for causal LMs or a tokenised task dataset), checked against the model's
// head, labels, vocabulary and positions; the training batch source of this
// data-parallel rank; and the class weights of train.class_weights.
#pragma once
#include <mpi.h>
#include <memory>
#include <vector>
#include "io/task_dataset.hpp"
#include "io/token_dataset.hpp"
#include "src/config/run_config.hpp"
#include "src/parallel/process_grid.hpp"
#include "src/train/batch_source.hpp"

namespace tessera {

struct TrainingData {
  bool task = false;                        // a task dataset (else a token stream)
  std::unique_ptr<TokenDataset> lm;         // token stream (task = false)
  std::unique_ptr<TaskDataset> task_data;   // task dataset (task = true)
  std::unique_ptr<BatchSource> loader;      // this rank's training micro-batches
  int seq_len = 0;                          // T: data.seq_len, or the task dataset's max_len
  bool has_validation = false;              // data.validation_split is present in the file
  std::vector<double> class_weights;        // empty = unweighted loss
  std::vector<char> smote_minority;         // train.smote_ratio > 0: the classes SMOTE augments
};

// Opens cfg.data.path for this rank of `grid` (collective over comm).
TrainingData open_training_data(const RunConfig& cfg, const ProcessGrid& grid, MPI_Comm comm);

// Optimizer steps of the run: train.max_steps, or train.epochs over the loader.
int64_t total_training_steps(const RunConfig& cfg, const TrainingData& data);

}  // namespace tessera
