// A run directory's first checkpoint holding a freshly initialised model: what
// tests of the inference commands (predict, explain, calibrate) load without
// training first.
#pragma once
#include <Kokkos_Core.hpp>
#include <mpi.h>

#include <filesystem>
#include <string>

#include "io/checkpoint.hpp"
#include "src/config/run_config.hpp"
#include "src/model/transformer.hpp"

namespace tessera_test {

// Writes <run_dir>/checkpoints/step_00000001.h5 for the model of `config` initialised with `seed`.
inline void write_initial_checkpoint(const std::string& config, const std::filesystem::path& run_dir,
                                     uint64_t seed, const std::string& family = "bert") {
  const tessera::RunConfig cfg = tessera::load_run_config(config);
  tessera::Transformer<float> model(cfg.model.transformer);
  model.init_weights(seed);
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.params().values());
  tessera::TrainingState st;
  st.step = 1;
  st.tokens_seen = 64;  // consistent with step 1 (checkpoint state validation)
  st.config_toml = cfg.source_text;
  st.model_family = family;
  tessera::write_checkpoint<float>((run_dir / "checkpoints").string(), model.params().infos(),
                                   {{"params", host.data()}}, st, 0, MPI_COMM_SELF);
}

}  // namespace tessera_test
