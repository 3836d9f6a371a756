// `tessera quantize --checkpoint IN --method int8|q8_0|q4_0|q4_1|gptq4 --out OUT` and
// `tessera prune --checkpoint IN --method magnitude|wanda (--sparsity S | --pattern 2:4) --out OUT`:
// post-training compression of a float32 checkpoint (src/compress/, docs/compression.md).
#pragma once
#include <mpi.h>

namespace CLI {
class App;
}

namespace tessera {

void register_compress(CLI::App& app);
// Runs quantize or prune when selected and returns its exit code; -1 when neither was.
int run_compress(MPI_Comm comm);

}  // namespace tessera
