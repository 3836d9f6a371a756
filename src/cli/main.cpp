// tessera — command-line entry point. Subcommands:
//   train CONFIG.toml            train / fine-tune (resumes with --resume)
//   eval CONFIG.toml             loss and perplexity of a checkpoint on a split
//   generate CONFIG.toml         sample text from a checkpoint
//   prepare --input … --output   plain text → tokenized HDF5 dataset
//   inspect FILE.h5              describe a dataset or checkpoint
//   predict CONFIG.toml          task predictions (labels, entities, answers) as JSONL
//   tune STUDY.toml              hyperparameter / architecture search (docs/tune.md)
//   explain CONFIG.toml          attributions (SHAP, LIME, IG) and PDP/ICE, JSON + HTML
//   calibrate CONFIG.toml        ECE/MCE/Brier/NLL, reliability diagram, temperature scaling
//   import / export              Hugging Face safetensors + config.json / GGUF ↔ Tessera checkpoint
//   quantize / prune             compress a float32 checkpoint (docs/compression.md)
//   augment --input … --output   synthetic minority data (LM generation, perturbation)
// Any error on any rank prints "tessera: error [rank r/n (dp d, pp p, tp t) on host H]: …"
// (the rank context; without a grid yet "rank r/n on host H") and ends the whole
// job with a non-zero exit (MPI_Abort when more than one rank).
#include <mpi.h>
#include <CLI/CLI.hpp>
#include <Kokkos_Core.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include "kernels/device_runtime.hpp"
#include "src/cli/augment_command.hpp"
#include "src/cli/calibrate_command.hpp"
#include "src/cli/commands.hpp"
#include "src/cli/compress_command.hpp"
#include "src/cli/explain_command.hpp"
#include "src/cli/import_export_command.hpp"
#include "src/cli/predict_command.hpp"
#include "src/cli/tune_command.hpp"
#include "io/hdf5_file.hpp"
#include "src/runtime/error.hpp"
#include "src/runtime/rank_context.hpp"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  // Until a ProcessGrid replaces it with its coordinates (src/runtime/rank_context.hpp).
  tessera::set_rank_context(tessera::default_rank_context(rank, size));

  CLI::App app{"Tessera: fine-tune transformer language models on clusters (MPI + Kokkos + HDF5)"};
  app.require_subcommand(1);
  tessera::CommandLine cl;
  tessera::register_commands(app, cl);
  tessera::register_predict(app);
  tessera::register_explain(app);
  tessera::register_calibrate(app);
  tessera::register_import_export(app);
  tessera::register_tune(app);
  tessera::register_compress(app);
  tessera::register_augment(app);

  int rc = 0;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    rc = app.exit(e);
    MPI_Finalize();
    return rc;
  }
#if defined(KOKKOS_ENABLE_CUDA) && defined(TESSERA_HAVE_CUDA)
  {  // A CUDA Kokkos aborts inside initialize without a usable device: say why and exit instead.
    const tessera::DeviceProbe probe = tessera::probe_devices();
    if (probe.device_count == 0) {
      std::cerr << "tessera: this build runs its kernels on CUDA (Kokkos CUDA backend) but no CUDA device is usable ("
                << probe.detail << "); run the host build (build/tessera) instead\n";
      MPI_Finalize();
      return 1;
    }
  }
#endif
  // Kokkos::InitArguments was deprecated in 3.7 (InitializationSettings replaces it) and removed in 4.0.
  // The thread count of the OpenMP backend comes from OMP_NUM_THREADS either way.
#if KOKKOS_VERSION >= 30700
  Kokkos::initialize(Kokkos::InitializationSettings().set_disable_warnings(true));
#else
  Kokkos::InitArguments kargs;
  kargs.disable_warnings = true;
  Kokkos::initialize(kargs);
#endif
  try {
    rc = tessera::run_predict(MPI_COMM_WORLD);
    if (rc < 0) rc = tessera::run_import_export(MPI_COMM_WORLD);
    if (rc < 0) rc = tessera::run_tune(MPI_COMM_WORLD);
    if (rc < 0) rc = tessera::run_compress(MPI_COMM_WORLD);
    if (rc < 0) rc = tessera::run_explain(MPI_COMM_WORLD);
    if (rc < 0) rc = tessera::run_calibrate(MPI_COMM_WORLD);
    if (rc < 0) rc = tessera::run_augment(MPI_COMM_WORLD);
    if (rc < 0) rc = tessera::run_command(cl, MPI_COMM_WORLD);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tessera: error [%s]: %s\n", tessera::rank_context().c_str(), e.what());
    std::fflush(stderr);
    if (size > 1) MPI_Abort(MPI_COMM_WORLD, 1);
    rc = 1;
    if (tessera::h5::close_failed()) std::_Exit(rc);  // see io/hdf5_file.hpp: MPI_Finalize would crash in HDF5
  }
  Kokkos::finalize();
  MPI_Finalize();
  return rc;
}
