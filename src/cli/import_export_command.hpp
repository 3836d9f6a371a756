// `tessera import --from <hf-dir|file.gguf> --out <checkpoint.h5>` and
// `tessera export --checkpoint <ckpt.h5> --out <dir> [--format hf]`: pretrained
// Hugging Face / GGUF weights in and out of Tessera checkpoints (io/hf_checkpoint.hpp,
// io/model_checkpoint.hpp).
#pragma once
#include <mpi.h>

namespace CLI {
class App;
}

namespace tessera {

// Adds the two subcommands to app.
void register_import_export(CLI::App& app);
// Runs whichever of them was selected and returns its exit code; -1 when neither was.
int run_import_export(MPI_Comm comm);

}  // namespace tessera
