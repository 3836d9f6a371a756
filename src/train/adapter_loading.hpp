// model.adapter (docs/peft.md "Loading an adapter"): a LoRA adapter — a Tessera
// adapter file (tessera export --adapter, or any LoRA training checkpoint) or a PEFT
// directory — loaded on top of the base model's weights (model.init_from, or the
// checkpoint eval/predict/generate read) for training on, evaluation and inference.
#pragma once
#include <mpi.h>
#include <memory>
#include <string>
#include <vector>
#include "io/adapter_file.hpp"
#include "src/config/run_config.hpp"
#include "src/model/gpt2.hpp"
#include "src/model/model_parallel.hpp"

namespace tessera {

// With model.adapter: reads the adapter and sets cfg's [lora] (r, alpha, targets, and
// dropout unless lora.dropout is given) from it; a [lora] key given in the config that
// differs is an error naming the key. A Tessera adapter's base model (its stored
// [model]) must have this model's parameters with the same shapes: the first tensor
// that differs is named with both shapes. Call after the architecture is final
// (resolve_init_from calls it).
void resolve_adapter(RunConfig& cfg, MPI_Comm comm);

// Checks the adapter's tensors against the model cfg describes (every one a LoRA factor
// of an adapted layer or a task-head tensor, at the model's full shape; every LoRA
// factor of this rank's slice present) and copies them into this rank's slices.
// Returns the names set. Errors name a.origin, the tensor and the shapes.
std::vector<std::string> apply_adapter(GPT2<float>& model, const LoraAdapter& a, const TransformerConfig& cfg);
// apply_adapter's checks alone (resolve_adapter runs them before any model is built).
void check_adapter_tensors(const LoraAdapter& a, const TransformerConfig& cfg);

// The stored config of an adapter file made from `base` (its [model] and [lora]).
std::string adapter_config_toml(const TransformerConfig& base);

// True when the checkpoint's /params holds lora_A/lora_B tensors (a LoRA run's).
bool checkpoint_has_lora(const std::string& checkpoint, MPI_Comm comm);

// The model for eval/predict/generate from `file` and cfg. Without model.adapter, or
// when `file` is a LoRA run's checkpoint (trained on from the adapter: it has its own
// lora_A/lora_B), the file is loaded as is (load_inference_model). Otherwise `file` is
// the base model: its weights, then the adapter's tensors; any other parameter the
// file lacks is an error.
std::unique_ptr<GPT2<float>> load_inference_model(const RunConfig& cfg, const std::string& file, MPI_Comm comm,
                                                  const ModelParallel& mp = {});
// The same with the model config and the adapter path ("" = none) given apart.
std::unique_ptr<GPT2<float>> load_inference_model(const TransformerConfig& mc, const std::string& adapter,
                                                  const std::string& file, MPI_Comm comm, const ModelParallel& mp = {});

// The checkpoint for eval/predict/generate when none was given and none is in the run
// directory: with model.adapter, the base model model.init_from; "" otherwise.
std::string adapter_base_checkpoint(const RunConfig& cfg);

}  // namespace tessera
