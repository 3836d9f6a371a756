#include "src/train/validation.hpp"
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include "src/tasks/task_evaluator.hpp"
#include "src/train/task_batch_loader.hpp"
#include "src/train/token_batch_loader.hpp"

namespace tessera {

std::map<std::string, double> validate_split(const RunConfig& cfg, const TrainingData& data, GPT2<float>& model,
                                             PipelineRunner& runner, ProcessGrid& grid) {
  std::map<std::string, double> metrics;
  if (!data.has_validation) return metrics;
  const TransformerConfig& mc = cfg.model.transformer;
  const int B = cfg.train.micro_batch_size;
  double sum = 0;
  int64_t n = 0;
  std::string metrics_json;
  if (data.task) {
    TaskBatchLoader val = TaskBatchLoader::for_evaluation(*data.task_data, cfg.data.validation_split, B,
                                                          grid.dp_rank(), grid.dp_size());
    const TaskFeatures features = data.task_data->read_split(cfg.data.validation_split);
    TaskEvaluator ev(mc.head, data.task_data->info(), features,
                     mc.head == HeadKind::QuestionAnswering ? data.task_data->read_examples(cfg.data.validation_split)
                                                            : TaskExamples{});
    n = val.eval_batches();
    MicroBatch mb;
    for (int64_t i = 0; i < n; ++i) {
      val.next_batch(mb);
      sum += runner.eval_batch(mb);
      if (model.is_last_stage()) {
        auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.logits());
        ev.add_batch(mb, host.data());
      }
    }
    if (model.is_last_stage()) metrics_json = nlohmann::json(ev.finish(grid.dp_comm())).dump();
  } else {
    TokenBatchLoader val(*data.lm, cfg.data.validation_split, data.seq_len, B, false, 0, grid.dp_rank(), grid.dp_size());
    n = val.batches_per_epoch();
    if (cfg.train.eval_batches > 0) n = std::min(n, cfg.train.eval_batches);
    MicroBatch mb;
    for (int64_t i = 0; i < n; ++i) {
      val.next_batch(mb);
      sum += runner.eval_batch(mb);
    }
  }
  double loss = n > 0 ? sum / double(n) : NAN;
  if (grid.dp_size() > 1) {
    grid.dp().all_reduce(&loss, 1, DType::F64, ReduceOp::Sum);
    loss /= grid.dp_size();
  }
  if (grid.pp_size() > 1) {
    grid.pp().broadcast(&loss, 1, DType::F64, grid.pp_size() - 1);
    int64_t len = int64_t(metrics_json.size());
    grid.pp().broadcast(&len, 1, DType::I64, grid.pp_size() - 1);
    metrics_json.resize(size_t(len));
    if (len > 0) grid.pp().broadcast(metrics_json.data(), size_t(len), DType::U8, grid.pp_size() - 1);
  }
  if (!metrics_json.empty()) {
    const nlohmann::json parsed = nlohmann::json::parse(metrics_json);
    for (const auto& [k, v] : parsed.items()) metrics[k] = v.get<double>();
  }
  metrics["loss"] = loss;
  if (!data.task) metrics["perplexity"] = std::exp(loss);
  return metrics;
}

}  // namespace tessera
