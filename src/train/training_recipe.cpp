#include "src/train/training_recipe.hpp"
#include <algorithm>
#include <string>
#include <type_traits>
#include "kernels/views.hpp"
#include "src/train/adapter_loading.hpp"
#include "src/train/block_subset.hpp"
#include "src/train/freezing.hpp"
#include "src/train/trainer.hpp"

namespace tessera {

Optimizer::Optimizer(GPT2<float>& model, ProcessGrid& grid, const OptimSection& o, bool zero1) : model_(model) {
  const AdamWSettings s{o.beta1, o.beta2, o.eps, o.weight_decay};
  if (zero1) zero_ = std::make_unique<ZeroAdamW>(model.params(), grid, s);
  else plain_ = std::make_unique<AdamWOptimizer<float>>(model.params(), s);
}

void Optimizer::step(double lr, double scale) {
  zero_ ? zero_->step(lr, scale) : plain_->step(model_.params(), lr, scale);
}

void Optimizer::set_steps_taken(int64_t t) { zero_ ? zero_->set_steps_taken(t) : plain_->set_steps_taken(t); }

size_t Optimizer::state_bytes() const { return zero_ ? zero_->state_bytes() : plain_->state_bytes(); }

std::pair<View1<float>, View1<float>> Optimizer::moments() {
  if (!zero_) return {plain_->exp_avg(), plain_->exp_avg_sq()};
  const size_t n = model_.params().trainable_capacity();
  View1<float> m("ckpt_m", n), v("ckpt_v", n);
  zero_->gather_moments(m, v);
  return {m, v};
}

void Optimizer::set_moments(const View1<float>& m, const View1<float>& v) {
  if (zero_) {
    zero_->scatter_moments(m, v);
  } else {
    Kokkos::deep_copy(plain_->exp_avg(), slice(m, 0, plain_->exp_avg().extent(0)));
    Kokkos::deep_copy(plain_->exp_avg_sq(), slice(v, 0, plain_->exp_avg_sq().extent(0)));
  }
}

TrainingRecipe::TrainingRecipe(const RunConfig& cfg, ProcessGrid& grid, const TrainingData& data, MPI_Comm comm) {
  const ParallelSection& par = cfg.parallel;
  if constexpr (!std::is_same_v<MemSpace, Kokkos::HostSpace>) {
    // On a device build the tensor- and pipeline-parallel exchanges (activations, their gradients, the
    // vocab-parallel loss) still use the host MPI communicators: only data parallelism is wired to NCCL.
    require(grid.tp_size() == 1 && grid.pp_size() == 1,
            "parallel: tp = " + std::to_string(grid.tp_size()) + ", pp = " + std::to_string(grid.pp_size()) +
                " on a CUDA build: tensor and pipeline parallelism on the device are not built yet (only dp uses "
                "NCCL); use tp = 1 and pp = 1, or the host build");
  }
  ModelParallel mp{grid.tp_rank(), grid.tp_size(), grid.pp_rank(), grid.pp_size(), grid.dp_rank(), grid.dp_size(),
                   grid.tp_size() > 1 ? &grid.tp() : nullptr};
  model_ = std::make_unique<GPT2<float>>(cfg.model.transformer, mp, frozen_filter(cfg.train, cfg.model.transformer));
  check_freeze_patterns(cfg.train, model_->params(), grid);
  counted_ = count_parameters(model_->params(), grid, model_->has_tied_copy(), model_->token_embedding_name());
  model_->init_weights(cfg.train.seed);
  model_->set_loss_options(data.class_weights, cfg.train.label_smoothing);
  if (cfg.train.smote_ratio > 0) {
    SmoteOptions so;
    so.ratio = cfg.train.smote_ratio;
    so.k = cfg.train.smote_k;
    so.minority = data.smote_minority;
    so.seed = cfg.train.seed;
    // The head input SMOTE interpolates: [pooled ; dense features] with a feature head.
    const TransformerConfig& t = cfg.model.transformer;
    model_->set_smote(std::make_shared<SmoteRows>(so, t.n_embd + (t.feature_head() ? t.features.dense_dim : 0)));
  }
  std::vector<int> kept;  // model.init_blocks, resolved to a list by resolve_init_from
  if (!cfg.model.init_blocks.empty()) kept = parse_block_subset(cfg.model.init_blocks, 1 << 30, "model.init_blocks");
  if (!cfg.model.init_from.empty()) fresh_ = load_model_weights(*model_, cfg.model.init_from, comm, kept);
  if (!cfg.model.adapter.empty()) {  // on top of init_from (or the random init): lora_A/lora_B and the head
    const std::vector<std::string> set = apply_adapter(
        *model_, read_adapter(cfg.model.adapter, cfg.model.transformer, comm), cfg.model.transformer);
    adapter_tensors_ = set.size();
    fresh_.erase(std::remove_if(fresh_.begin(), fresh_.end(),
                                [&](const std::string& n) { return std::find(set.begin(), set.end(), n) != set.end(); }),
                 fresh_.end());
  }
  opt_ = std::make_unique<Optimizer>(*model_, grid, cfg.optim, par.zero1);
  sync_ = std::make_unique<GradientSynchronizer>(model_->params(), grid, par.zero1, size_t(par.bucket_mb * 1048576.0));
  runner_ = std::make_unique<PipelineRunner>(*model_, grid, cfg.train.micro_batch_size, data.seq_len,
                                             cfg.train.grad_accum_steps);
}

}  // namespace tessera
