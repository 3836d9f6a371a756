// Post-training weight-only quantisation of a float32 checkpoint (tessera quantize):
//   int8   per output channel, symmetric (float scale per row)
//   q8_0 / q4_0 / q4_1   ggml blocks of 32, round to nearest (GGUF-compatible bytes)
//   gptq4  GPTQ (src/compress/gptq.hpp) from a calibration split, written as Q4_0
//          (or Q4_1 with gptq_format) blocks: the same bits as q4_0 / q4_1
// Block linear weights are quantised; embeddings, norms, biases, heads and every
// tensor whose name contains a keep_fp32 pattern stay float32.
#pragma once
#include <mpi.h>
#include <string>
#include <vector>
#include "src/compress/calibration.hpp"

namespace tessera {

struct QuantizeOptions {
  std::string method;                   // int8 | q8_0 | q4_0 | q4_1 | gptq4
  std::string gptq_format = "q4_0";     // block format gptq4 writes (q4_0 | q4_1)
  double gptq_damp = 0.01;
  int64_t gptq_batch = 128;
  std::vector<std::string> keep_fp32;   // name substrings left in float32
  CalibrationOptions calibration;       // gptq4
};

struct QuantizeSummary {
  int64_t packed_tensors = 0, fp32_tensors = 0;
  int64_t packed_bytes = 0, fp32_bytes = 0;
  double seconds = 0;
};

// True for the block linear weights of a model (what quantisation and pruning act on).
bool is_block_linear_weight(const TransformerConfig& cfg, const std::string& name);

// Reads `in` (rank 0), quantises, writes `out`; collective over comm. Errors name the
// file, the tensor or the option.
QuantizeSummary quantize_checkpoint(const std::string& in, const std::string& out, const QuantizeOptions& opt,
                                    MPI_Comm comm);

}  // namespace tessera
