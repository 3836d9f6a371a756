// Quantised and sparse checkpoints (layout in docs/formats.md, "Quantised and sparse
// checkpoints"): a Tessera checkpoint whose /params holds the tensors kept in
// float32 (embeddings, norms, biases, heads, layers left out) and whose
// /quantized/<name>/ groups hold the packed linear weights:
//   blocks  uint8 [rows, packed_row_bytes(format, cols)]  (ggml block bytes, or int8 codes)
//   scale   float32 [rows]                                 (int8 only)
//   attributes format ("int8" | "q8_0" | "q4_0" | "q4_1"), rows, cols
// and the root attribute `quantization` (the method, e.g. "gptq4 (q4_0)"). Sparse
// checkpoints (tessera prune) are float32 checkpoints with /masks/<name> uint8 at the
// tensor's shape (1 = kept) and the root attribute `sparsity`.
// Loading for inference keeps the weights packed: each rank reads the rows (column-
// parallel layers) or the block-aligned column range (row-parallel layers) of its
// tensor-parallel slice, so no float32 copy of a packed weight ever exists.
#pragma once
#include <mpi.h>
#include <map>
#include <memory>
#include <string>
#include <vector>
#include "kernels/packed_linear.hpp"
#include "src/model/gpt2.hpp"

namespace tessera {

struct PackedTensor {
  PackedFormat format = PackedFormat::Q8_0;
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> blocks;   // rows · packed_row_bytes
  std::vector<float> row_scale;  // int8 only
};

struct CompressedModel {
  std::string config_toml;                              // /run/config of the source
  std::string model_family;
  std::string method;                                   // root attribute `quantization` ("" = none)
  std::string sparsity;                                 // root attribute `sparsity` ("" = none)
  std::map<std::string, std::vector<float>> fp32;       // float32 tensors (full shapes as in the model)
  std::map<std::string, PackedTensor> packed;
  std::map<std::string, std::vector<uint8_t>> masks;    // /masks/<name>: 1 = kept, 0 = pruned (sparse checkpoints)
};

// Writes `path` atomically (rank 0 of comm writes; collective). `shapes` gives the
// full shape of every float32 tensor.
void write_quantized_checkpoint(const std::string& path, const CompressedModel& m,
                                const std::map<std::string, std::vector<int64_t>>& shapes, MPI_Comm comm);

// The `quantization` root attribute of a checkpoint ("" = not quantised).
std::string checkpoint_quantization(const std::string& path, MPI_Comm comm);

// The model for inference (eval, predict, generate) from any checkpoint: a
// quantised one holds its linear weights packed (forward only), a float32 one is
// loaded as usual. Errors name the file and the tensor.
std::unique_ptr<GPT2<float>> load_inference_model(const TransformerConfig& cfg, const std::string& path,
                                                  MPI_Comm comm, const ModelParallel& mp = {});

}  // namespace tessera
