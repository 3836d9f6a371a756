#include "src/train/pipeline_runner.hpp"
#include <chrono>
#include "src/train/pipeline_schedule.hpp"

namespace tessera {

PipelineRunner::PipelineRunner(GPT2<float>& model, ProcessGrid& grid, int micro_batch, int seq_len, int micro_batches)
    : model_(model), grid_(grid), B_(micro_batch), T_(seq_len), M_(micro_batches) {
  slots_ = max_in_flight(grid.pp_rank(), grid.pp_size(), M_);
  model_.set_num_slots(slots_);
  hidden_ = size_t(B_) * T_ * model.config().n_embd;
  act_in_.resize(slots_);
  grad_in_.resize(slots_);
  sends_.resize(slots_);
  batch_.B = B_;
  batch_.T = T_;
}

View1<float> PipelineRunner::recv_buffer(std::vector<View1<float>>& pool, int slot) {
  if (pool[slot].extent(0) != hidden_) pool[slot] = View1<float>("pipeline_recv", hidden_);
  return pool[slot];
}

void PipelineRunner::wait_sends(int slot) {
  for (auto& op : sends_[slot]) op->wait();
  sends_[slot].clear();
}

double PipelineRunner::train_step(const Fetch& fetch, uint64_t seed, uint64_t first_dropout_step,
                                  const std::function<void()>& on_last_backward) {
  const int stage = grid_.pp_rank(), stages = grid_.pp_size();
  Communicator* pp = stages > 1 ? &grid_.pp() : nullptr;
  double loss_sum = 0;
  times_ = Times{};
  using clock = std::chrono::steady_clock;
  auto since = [](clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); };
  for (const PipelineOp& op : one_f_one_b_schedule(stage, stages, M_)) {
    const int slot = op.micro % slots_;
    const int tag_fwd = 2 * op.micro, tag_bwd = 2 * op.micro + 1;
    if (op.kind == PipelineOp::Forward) {
      const auto t_start = clock::now();
      wait_sends(slot);  // the slot's buffers may still be in flight from micro-batch micro - slots
      fetch(op.micro, batch_);
      times_.data += since(t_start);
      const auto t_fwd = clock::now();
      View1<float> input;
      if (!model_.is_first_stage()) {
        input = recv_buffer(act_in_, slot);
        pp->recv(input.data(), hidden_, DType::F32, stage - 1, tag_fwd);
      }
      ForwardOptions fo{true, seed, first_dropout_step + uint64_t(op.micro)};
      const double l = model_.forward_stage(slot, batch_.inputs(), B_, T_, fo, input);
      if (model_.is_last_stage()) {
        loss_sum += l;
      } else {
        Kokkos::fence();
        sends_[slot].push_back(pp->isend(model_.stage_output(slot).data(), hidden_, DType::F32, stage + 1, tag_fwd));
      }
      times_.forward += since(t_fwd);
    } else {
      const auto t_bwd = clock::now();
      View1<float> out_grad;
      if (!model_.is_last_stage()) {
        out_grad = recv_buffer(grad_in_, slot);
        pp->recv(out_grad.data(), hidden_, DType::F32, stage + 1, tag_bwd);
      }
      if (op.micro == M_ - 1 && on_last_backward) on_last_backward();
      model_.backward_stage(slot, 1.0f / float(M_), out_grad);
      if (!model_.is_first_stage()) {
        Kokkos::fence();
        sends_[slot].push_back(
            pp->isend(model_.stage_input_grad(slot).data(), hidden_, DType::F32, stage - 1, tag_bwd));
      }
      times_.backward += since(t_bwd);
    }
  }
  for (int s = 0; s < slots_; ++s) wait_sends(s);
  return loss_sum / M_;
}

double PipelineRunner::eval_batch(const int32_t* tokens, const int32_t* targets) {
  ModelInputs in;
  in.tokens = tokens;
  in.labels = targets;
  MicroBatch mb;
  mb.tokens.assign(tokens, tokens + size_t(B_) * T_);
  mb.labels.assign(targets, targets + size_t(B_) * T_);
  mb.B = B_;
  mb.T = T_;
  return eval_batch(mb);
}

double PipelineRunner::eval_batch(const MicroBatch& batch) {
  const int stage = grid_.pp_rank();
  Communicator* pp = grid_.pp_size() > 1 ? &grid_.pp() : nullptr;
  View1<float> input;
  if (!model_.is_first_stage()) {
    input = recv_buffer(act_in_, 0);
    pp->recv(input.data(), hidden_, DType::F32, stage - 1, 0);
  }
  const double l = model_.forward_stage(0, batch.inputs(), B_, T_, ForwardOptions{}, input);
  if (!model_.is_last_stage()) {
    Kokkos::fence();
    pp->send(model_.stage_output(0).data(), hidden_, DType::F32, stage + 1, 0);
    return 0;
  }
  return l;
}

}  // namespace tessera
