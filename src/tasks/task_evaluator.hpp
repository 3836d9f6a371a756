// Task metrics over one split, batch by batch: feed each micro-batch with the host copy
// of the head's logits (Transformer::logits() layout), then finish() combines the data-
// parallel ranks (every rank returns the same numbers) and report() details them.
//   sequence classification  accuracy, macro_f1 / micro_f1 / weighted_f1 (+ macro_precision,
//                            macro_recall) and "precision/<label>", "recall/<label>",
//                            "f1/<label>" (scikit-learn, over every label of the map);
//                            report: per class precision / recall / F1 / support and
//                            the confusion matrix
//   token classification     entity_precision / entity_recall / entity_f1 (seqeval
//                            mode="strict", scheme=IOB2, micro average) on the tag
//                            sequences at the positions whose gold label is not
//                            ignored, "f1/<type>" per entity type, token_accuracy
//   question answering       exact_match and f1 (official SQuAD v1.1, in [0, 100]) of
//                            the best span over all windows of each example
//                            (src/tasks/span_decoding: n_best 20, max_answer_length 30)
// Predictions come from the argmax of the logits (lowest id on ties). Samples with
// example_index −1 (evaluation padding) are skipped; a dataset row seen twice counts
// once. Metrics are over the rows (QA: the examples) that were seen.
#pragma once
#include <mpi.h>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/model/transformer_config.hpp"

namespace tessera {

struct MicroBatch;
struct TaskDatasetInfo;
struct TaskFeatures;
struct TaskExamples;

class TaskEvaluator {
 public:
  // split_features: the whole split (gold labels; QA offsets and example_index).
  // QA needs the split's examples (TaskDataset::read_examples) for contexts and gold
  // answers; the three-argument form throws for QA. Both are copied.
  TaskEvaluator(HeadKind head, const TaskDatasetInfo& info, const TaskFeatures& split_features);
  TaskEvaluator(HeadKind head, const TaskDatasetInfo& info, const TaskFeatures& split_features,
                const TaskExamples& examples);
  ~TaskEvaluator();
  TaskEvaluator(TaskEvaluator&&) noexcept;
  TaskEvaluator& operator=(TaskEvaluator&&) noexcept;

  // logits: sequence classification [B,K], token classification [B,T,K], QA [B,T,2].
  // Rows (mb.example_index) outside the split, or T other than max_len, throw Error.
  void add_batch(const MicroBatch& mb, const float* logits);

  // Collective over dp_comm (MPI_COMM_NULL: this process only). Metric name -> value.
  std::map<std::string, double> finish(MPI_Comm dp_comm);

  // Details of the last finish() (empty object before).
  nlohmann::json report() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace tessera
