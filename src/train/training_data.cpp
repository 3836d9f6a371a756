#include "src/train/training_data.hpp"
#include <algorithm>
#include <cmath>
#include <sstream>
#include "src/runtime/error.hpp"
#include "src/tensor/ignore_index.hpp"
#include "src/model/smote_rows.hpp"
#include "src/train/class_balance.hpp"
#include "src/train/resampling_sampler.hpp"
#include "src/train/task_batch_loader.hpp"
#include "src/train/token_batch_loader.hpp"

namespace tessera {

namespace {

void open_task_data(TrainingData& d, const RunConfig& cfg, const ProcessGrid& grid, MPI_Comm comm) {
  const TransformerConfig& mc = cfg.model.transformer;
  d.task_data = std::make_unique<TaskDataset>(cfg.data.path, comm);
  const TaskDatasetInfo& info = d.task_data->info();
  const HeadKind want = info.task == "sequence-classification" ? HeadKind::SequenceClassification
                        : info.task == "token-classification"  ? HeadKind::TokenClassification
                                                                : HeadKind::QuestionAnswering;
  require(mc.head == want, "dataset '" + cfg.data.path + "' is a " + info.task + " dataset but model.head = " +
                               head_name(mc.head) + " (use model.head = \"" + head_name(want) + "\")");
  if (want != HeadKind::QuestionAnswering)
    require(mc.num_labels == int(info.label_names.size()),
            "dataset '" + cfg.data.path + "' has " + std::to_string(info.label_names.size()) +
                " labels but model.num_labels = " + std::to_string(mc.num_labels));
  require(info.vocab_size <= mc.vocab_size, "dataset '" + cfg.data.path + "' has vocab_size " +
                                                std::to_string(info.vocab_size) + " (tokenizer " + info.tokenizer +
                                                ") but the model's vocab_size is " + std::to_string(mc.vocab_size));
  d.seq_len = int(info.max_len);
  require(d.seq_len <= mc.n_positions, "dataset '" + cfg.data.path + "' has max_len " + std::to_string(d.seq_len) +
                                           " > model.n_positions = " + std::to_string(mc.n_positions));
  const ResampleMode mode = parse_resample_mode(cfg.train.resample);
  require(mode == ResampleMode::None || want == HeadKind::SequenceClassification,
          "train.resample = \"" + cfg.train.resample + "\" needs a sequence-classification dataset");
  d.loader = std::make_unique<TaskBatchLoader>(*d.task_data, cfg.data.train_split, cfg.train.micro_batch_size,
                                               cfg.data.shuffle, cfg.train.seed, grid.dp_rank(), grid.dp_size(), mode);
  d.has_validation = !cfg.data.validation_split.empty() && d.task_data->has_split(cfg.data.validation_split);
  if (cfg.train.smote_ratio > 0) {
    require(want == HeadKind::SequenceClassification,
            "train.smote_ratio needs a sequence-classification dataset and model.head = \"sequence_classification\"");
    d.smote_minority = minority_classes(d.task_data->read_split(cfg.data.train_split).labels, int(mc.num_labels));
    bool any = false;
    for (char m : d.smote_minority) any = any || m;
    require(any, "train.smote_ratio: the training split of '" + cfg.data.path +
                     "' has no minority class (every class has the same count)");
  }
  if (cfg.train.class_weights.empty()) return;
  require(want != HeadKind::QuestionAnswering, "train.class_weights needs a classification dataset");
  if (cfg.train.class_weights == "balanced") {
    const TaskFeatures f = d.task_data->read_split(cfg.data.train_split);
    d.class_weights = class_weights_balanced(class_counts(f.labels, mc.num_labels, kIgnoreIndex));
  } else {
    std::vector<std::string> items;
    std::stringstream ss(cfg.train.class_weights);
    for (std::string item; std::getline(ss, item, ',');) items.push_back(item);
    d.class_weights = parse_class_weights(items, info.label_names, "train.class_weights");
  }
}

void open_token_data(TrainingData& d, const RunConfig& cfg, const ProcessGrid& grid, MPI_Comm comm) {
  const TransformerConfig& mc = cfg.model.transformer;
  d.seq_len = cfg.data.seq_len;
  require(mc.head == HeadKind::CausalLM, "dataset '" + cfg.data.path +
                                             "' is a token (language-model) dataset but model.head = " +
                                             head_name(mc.head) + "; prepare a task dataset with `tessera prepare --task`");
  require(d.seq_len <= mc.n_positions, "data.seq_len = " + std::to_string(d.seq_len) +
                                           " exceeds the model's n_positions = " + std::to_string(mc.n_positions));
  d.lm = std::make_unique<TokenDataset>(cfg.data.path, comm);
  require(d.lm->info().vocab_size <= mc.vocab_size,
          "dataset '" + cfg.data.path + "' has vocab_size " + std::to_string(d.lm->info().vocab_size) +
              " (tokenizer " + d.lm->info().tokenizer + ") but the model's vocab_size is " +
              std::to_string(mc.vocab_size));
  d.loader = std::make_unique<TokenBatchLoader>(*d.lm, cfg.data.train_split, d.seq_len, cfg.train.micro_batch_size,
                                                cfg.data.shuffle, cfg.train.seed, grid.dp_rank(), grid.dp_size());
  d.has_validation = !cfg.data.validation_split.empty() && d.lm->has_split(cfg.data.validation_split);
}

}  // namespace

TrainingData open_training_data(const RunConfig& cfg, const ProcessGrid& grid, MPI_Comm comm) {
  TrainingData d;
  d.task = is_task_dataset(cfg.data.path);
  if (d.task) open_task_data(d, cfg, grid, comm);
  else open_token_data(d, cfg, grid, comm);
  return d;
}

int64_t total_training_steps(const RunConfig& cfg, const TrainingData& data) {
  if (cfg.train.max_steps > 0) return cfg.train.max_steps;
  return std::max<int64_t>(
      1, int64_t(std::ceil(cfg.train.epochs * double(data.loader->batches_per_epoch()) / cfg.train.grad_accum_steps)));
}

}  // namespace tessera
