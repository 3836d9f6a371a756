// An imported model (io/hf_checkpoint.hpp) as a Tessera checkpoint file and back:
// /params/<name> float32 at full shape, step 0, model_family = the family's name and
// /run/config = a [model] TOML section describing the config (docs/formats.md).
#pragma once
#include <mpi.h>
#include <string>
#include "io/checkpoint.hpp"
#include "io/hf_checkpoint.hpp"

namespace tessera {

// Writes `path` atomically (via write_checkpoint into <path>.import.d/, then a rename).
// Collective over comm; only rank 0's model is used (other ranks may pass an empty one:
// rank 0 broadcasts the parameter list, and as the lowest rank holding each tensor it
// writes every one).
void write_model_checkpoint(const std::string& path, const ImportedModel& m, MPI_Comm comm);

// One checkpoint file at `path` (not a step_*.h5 of a run directory), collectively: the
// float32 slab `params` laid out by `infos` goes through write_checkpoint into the scratch
// directory path + scratch_suffix, and the finished file is renamed to `path`.
void write_checkpoint_file(const std::string& path, const std::string& scratch_suffix,
                           const std::vector<ParamInfo>& infos, const float* params, const TrainingState& st,
                           MPI_Comm comm);

// Reads the [model] section of /run/config and every parameter it implies (collective;
// every rank gets the whole model). BERT/RoBERTa: the pooler is present when
// /params/pooler.dense.weight is.
// A checkpoint trained with LoRA ([lora] in /run/config) comes back merged
// (W + alpha/r·B·A) and without adapters: export writes the fine-tuned base model.
ImportedModel read_model_checkpoint(const std::string& path, MPI_Comm comm);

// The [model] TOML section of cfg (family, sizes, epsilon, rope_theta, tying, dropout,
// head, num_labels); doubles written so that they parse back exactly.
std::string imported_model_toml(const TransformerConfig& cfg);
// Parses the [model] table of a TOML text (keys above; other keys and sections are
// ignored, a non-empty model.preset is an error), applies the family defaults and
// validates. Errors name `origin` and the key.
TransformerConfig parse_imported_model_toml(const std::string& toml_text, const std::string& origin);

}  // namespace tessera
