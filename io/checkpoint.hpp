// Checkpoints in HDF5 (layout in docs/formats.md): every tensor stored at its
// full logical shape as /<prefix>/<name>, each rank writing its slice
// collectively; training state as root attributes plus /run/config and
// /run/scalars. Written atomically (<final>.tmp, flush, fsync, rename).
#pragma once
#include <mpi.h>
#include <cstdint>
#include <map>
#include <string>
#include <vector>
#include "src/tensor/parameter_set.hpp"

namespace tessera {

inline constexpr const char* kCheckpointFormat = "tessera-checkpoint";
inline constexpr int64_t kCheckpointFormatVersion = 1;

struct TrainingState {
  int64_t step = 0;
  int64_t tokens_seen = 0;
  uint64_t seed = 0;
  int64_t data_epoch = 0;
  int64_t data_cursor = 0;  // loader position
  std::string config_toml;
  std::string model_family = "gpt2";
  std::map<std::string, double> scalars;  // e.g. best validation loss
  // The task dataset's feature schema (io/auxiliary_features.hpp) a feature-head model was
  // trained with, /run/feature_schema (JSON); "" = none (absent in the file).
  std::string feature_schema;
};

// One group of tensors laid out like a ParameterSet slab: tensor i occupies
// host_data[info.offset, info.offset + info.numel) and holds the local_shape
// box at local_start of the tensor's full_shape. prefix e.g. "params",
// "optimizer/exp_avg", "optimizer/exp_avg_sq".
template <class S>
struct TensorGroupOut {
  std::string prefix;
  const S* host_data;
};
template <class S>
struct TensorGroupIn {
  std::string prefix;
  S* host_data;
};

// "<dir>/step_<step, 8 digits>.h5"
std::string checkpoint_path(const std::string& dir, int64_t step);

// Writes <dir>/step_<step 8 digits>.h5 collectively over comm and returns its
// path. Each tensor's slice is written by one owner: among the ranks of comm
// holding a slice with the same local_start, the lowest rank writes (computed
// with one MPI_Allgather; every rank must pass the same infos names/shapes).
// Atomic: written as <final>.tmp, flushed, closed, fsync'ed (file and
// directory), renamed by rank 0. Then keeps the newest keep_last complete
// step_*.h5 (0 = all) and deletes stale step_*.h5.tmp files.
template <class S>
std::string write_checkpoint(const std::string& dir, const std::vector<ParamInfo>& infos,
                             const std::vector<TensorGroupOut<S>>& groups, const TrainingState& st, int keep_last,
                             MPI_Comm comm);

// Reads each rank's slices (local_start/local_shape of the full datasets, any
// grid) into the groups' buffers and returns the training state. Validates the
// format attribute, presence, full shapes and dtype class of every dataset;
// errors name the file and dataset.
template <class S>
TrainingState read_checkpoint(const std::string& file, const std::vector<ParamInfo>& infos,
                              const std::vector<TensorGroupIn<S>>& groups, MPI_Comm comm);

// The training state only (no tensors).
TrainingState read_checkpoint_state(const std::string& file, MPI_Comm comm);

// The checkpoint scalar holding the fitted softmax temperature (tessera calibrate
// --fit-temperature; /run/scalars@temperature, > 0). Absent = 1.
inline constexpr const char* kTemperatureScalar = "temperature";

// Sets /run/scalars@key = value in an existing checkpoint (collective over comm).
void write_checkpoint_scalar(const std::string& file, const std::string& key, double value, MPI_Comm comm);

// Newest complete <dir>/step_*.h5 by step number ("" if none or no dir); *.tmp ignored.
std::string find_latest_checkpoint(const std::string& dir);

extern template std::string write_checkpoint<float>(const std::string&, const std::vector<ParamInfo>&,
                                                    const std::vector<TensorGroupOut<float>>&, const TrainingState&,
                                                    int, MPI_Comm);
extern template std::string write_checkpoint<double>(const std::string&, const std::vector<ParamInfo>&,
                                                     const std::vector<TensorGroupOut<double>>&,
                                                     const TrainingState&, int, MPI_Comm);
extern template TrainingState read_checkpoint<float>(const std::string&, const std::vector<ParamInfo>&,
                                                     const std::vector<TensorGroupIn<float>>&, MPI_Comm);
extern template TrainingState read_checkpoint<double>(const std::string&, const std::vector<ParamInfo>&,
                                                      const std::vector<TensorGroupIn<double>>&, MPI_Comm);

}  // namespace tessera
