#include "src/explain/coalition.hpp"

#include <algorithm>
#include <string>

#include "kernels/counter_rng.hpp"
#include "src/runtime/error.hpp"

namespace tessera::explain {

std::vector<double> evaluate_sharded(const ValueFunction& v, const std::vector<Mask>& masks, int batch,
                                     MPI_Comm comm) {
  require(batch >= 1, "explain: the coalition batch size must be >= 1");
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const int64_t n = int64_t(masks.size()), batches = (n + batch - 1) / batch;
  std::vector<double> mine;
  for (int64_t g = rank; g < batches; g += size) {
    const int64_t b0 = g * batch, b1 = std::min<int64_t>(n, b0 + batch);
    const std::vector<Mask> part(masks.begin() + b0, masks.begin() + b1);
    const std::vector<double> out = v(part);
    require(int64_t(out.size()) == b1 - b0, "explain: the value function returned " + std::to_string(out.size()) +
                                                " values for " + std::to_string(b1 - b0) + " coalitions");
    mine.insert(mine.end(), out.begin(), out.end());
  }
  if (size == 1) return mine;
  // Rank r holds its batches in order; gather, then put every batch back in place.
  int len = int(mine.size());
  std::vector<int> counts(static_cast<size_t>(size)), displs(static_cast<size_t>(size));
  MPI_Allgather(&len, 1, MPI_INT, counts.data(), 1, MPI_INT, comm);
  for (int r = 1; r < size; ++r) displs[size_t(r)] = displs[size_t(r - 1)] + counts[size_t(r - 1)];
  std::vector<double> all(static_cast<size_t>(n));
  std::vector<double> gathered(static_cast<size_t>(n));
  MPI_Allgatherv(mine.data(), len, MPI_DOUBLE, gathered.data(), counts.data(), displs.data(), MPI_DOUBLE, comm);
  std::vector<int64_t> offset(displs.begin(), displs.end());
  for (int64_t g = 0; g < batches; ++g) {
    const int r = int(g % size);
    const int64_t k = std::min<int64_t>(batch, n - g * batch);
    std::copy_n(gathered.begin() + offset[size_t(r)], k, all.begin() + g * batch);
    offset[size_t(r)] += k;
  }
  return all;
}

ValueFunction sharded(ValueFunction v, int batch, MPI_Comm comm) {
  return [v = std::move(v), batch, comm](const std::vector<Mask>& masks) {
    return evaluate_sharded(v, masks, batch, comm);
  };
}

double coalition_uniform(uint64_t seed, uint32_t stream, uint64_t index) {
  return rng_uniform(RngKey{seed, 0x5eed, 0xe1, stream}, index);
}

int64_t coalition_integer(uint64_t seed, uint32_t stream, uint64_t index, int64_t n) {
  return std::min<int64_t>(n - 1, int64_t(coalition_uniform(seed, stream, index) * double(n)));
}

}  // namespace tessera::explain
