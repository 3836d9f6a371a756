// Coalitions of features and the value function of an explanation: v(z) for a
// mask z ∈ {0,1}^M (1 = the feature is present, 0 = removed: replaced by the
// baseline). A value function is batched (one call evaluates many masks) and
// scalar (one target: a class probability, a log-probability, a span score).
//
// evaluate_sharded spreads the masks over the ranks of a communicator: masks are
// cut into batches of `batch` (the last one shorter); batch g runs on rank
// g mod size, and every rank receives every value in mask order. A mask's value
// depends only on its batch, which is the same on any number of ranks, so 1 rank
// and N ranks give bitwise identical values.
#pragma once
#include <mpi.h>
#include <cstdint>
#include <functional>
#include <vector>

namespace tessera::explain {

using Mask = std::vector<uint8_t>;
using ValueFunction = std::function<std::vector<double>(const std::vector<Mask>& masks)>;

// v over all masks, in order, on every rank of comm.
std::vector<double> evaluate_sharded(const ValueFunction& v, const std::vector<Mask>& masks, int batch,
                                     MPI_Comm comm);

// The general form: batch g = eval(g) (any length) on rank g mod size; every rank
// receives all batches concatenated in order.
std::vector<double> gather_batches(int64_t batches, const std::function<std::vector<double>(int64_t)>& eval,
                                   MPI_Comm comm);

// A ValueFunction that evaluates through evaluate_sharded (what the explainers call).
ValueFunction sharded(ValueFunction v, int batch, MPI_Comm comm);

// Counter-based randomness of the samplers: uniform in [0,1) and integers in [0,n),
// pure functions of (seed, stream, index).
double coalition_uniform(uint64_t seed, uint32_t stream, uint64_t index);
int64_t coalition_integer(uint64_t seed, uint32_t stream, uint64_t index, int64_t n);

// A mask with every feature present / absent.
inline Mask full_mask(int M) { return Mask(size_t(M), 1); }
inline Mask empty_mask(int M) { return Mask(size_t(M), 0); }

}  // namespace tessera::explain
