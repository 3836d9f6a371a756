// LoRA adapter files (docs/formats.md "Adapter files"): the adapter of a LoRA
// training run without its frozen base model.
//
// Tessera adapter (HDF5, checkpoint layout, io/checkpoint.hpp): /params holds only the
// lora_A/lora_B tensors and the task head at full logical shape (so it loads on any
// grid), /run/config the run's stored config ([model] = the base model's identity,
// [lora] = r, alpha, dropout, targets), /run/scalars@adapter_format_version = 1 and
// /run/scalars@base_fingerprint = FNV-1a (32 bit) of the base model's parameter names
// and shapes.
//
// PEFT directory: adapter_model.safetensors (F32, names
// base_model.model.<HF name>.lora_A.weight / .lora_B.weight, task head under
// base_model.model.<head>.*) and adapter_config.json (peft_type LORA, r, lora_alpha,
// lora_dropout, target_modules, task_type, modules_to_save, fan_in_fan_out = true for
// GPT-2's Conv1D layers). PEFT keeps lora_A [r, in] and lora_B [out, r] for Conv1D
// too (fan_in_fan_out transposes only the merged delta), so tensors are written as
// Tessera holds them.
#pragma once
#include <mpi.h>
#include <cstdint>
#include <map>
#include <string>
#include "io/hf_checkpoint.hpp"

namespace tessera {

struct LoraAdapter {
  TransformerConfig base;                      // base architecture; base.lora = the adapter's config
  bool base_known = true;                      // false for a PEFT directory (it does not describe its base)
  std::string config_toml;                     // the stored run config it came from ("" for PEFT)
  std::map<std::string, FloatTensor> tensors;  // lora_A/lora_B and task head, Tessera names, full shapes
  std::string origin;                          // the file or directory it was read from
  std::string note;                            // what reading it converted (PEFT use_rslora), for the log
};

// FNV-1a of "name:d0,d1;" over every base parameter of cfg (no LoRA tensors).
uint32_t base_fingerprint(const TransformerConfig& cfg);

// The adapter of a LoRA training checkpoint (collective; every rank gets it all).
// Errors when the checkpoint has no [lora] (lora.r = 0).
LoraAdapter adapter_from_checkpoint(const std::string& checkpoint, MPI_Comm comm);

// Writes a Tessera adapter file atomically (collective; rank 0's adapter is written).
void write_adapter_file(const std::string& path, const LoraAdapter& a, MPI_Comm comm);

// Writes <dir>/adapter_model.safetensors and <dir>/adapter_config.json (one rank).
void write_peft_directory(const std::string& dir, const LoraAdapter& a);

// An adapter to load (model.adapter, tessera import --adapter): a Tessera adapter file
// (or any LoRA training checkpoint) or a PEFT directory. `model` is the model it is
// loaded into (PEFT names carry its backbone prefix). Errors name the path and the key.
LoraAdapter read_adapter(const std::string& path, const TransformerConfig& model, MPI_Comm comm);

// A PEFT LoRA directory (adapter_config.json + adapter_model.safetensors, as PEFT's
// save_pretrained writes it): names without `base_model.model.` and the backbone
// prefix, r/lora_alpha/lora_dropout/target_modules from the json. use_rslora is
// supported (alpha/sqrt(r) becomes alpha' = alpha·sqrt(r) over r); use_dora, bias
// other than "none", lora_bias, rank_pattern/alpha_pattern, target_parameters,
// trainable_token_indices, fan_in_fan_out on a non-Conv1D family and a task_type
// other than the model's head are refused. adopt_head (tessera import --adapter): the
// head comes from task_type instead (num_labels from the classifier/score weight).
LoraAdapter read_peft_directory(const std::string& dir, const TransformerConfig& model, bool adopt_head = false);

// The text of adapter_config.json for a (exposed for tests).
std::string peft_adapter_config_json(const LoraAdapter& a);

}  // namespace tessera
