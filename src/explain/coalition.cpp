#include "src/explain/coalition.hpp"

#include <algorithm>
#include <string>

#include "kernels/counter_rng.hpp"
#include "src/runtime/error.hpp"

namespace tessera::explain {

std::vector<double> gather_batches(int64_t batches, const std::function<std::vector<double>(int64_t)>& eval,
                                   MPI_Comm comm) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  std::vector<double> mine;
  std::vector<int64_t> my_lens;
  for (int64_t g = rank; g < batches; g += size) {
    const std::vector<double> out = eval(g);
    my_lens.push_back(int64_t(out.size()));
    mine.insert(mine.end(), out.begin(), out.end());
  }
  if (size == 1) return mine;
  // Batch lengths, then values; rank r holds batches r, r+size, ... in order.
  std::vector<int64_t> lens(size_t(batches), 0);
  for (size_t k = 0; k < my_lens.size(); ++k) lens[size_t(rank) + k * size_t(size)] = my_lens[k];
  MPI_Allreduce(MPI_IN_PLACE, lens.data(), int(batches), MPI_INT64_T, MPI_SUM, comm);
  std::vector<int> counts(static_cast<size_t>(size), 0), displs(static_cast<size_t>(size), 0);
  for (int64_t g = 0; g < batches; ++g) counts[size_t(g % size)] += int(lens[size_t(g)]);
  for (int r = 1; r < size; ++r) displs[size_t(r)] = displs[size_t(r - 1)] + counts[size_t(r - 1)];
  int64_t total = 0;
  for (int64_t l : lens) total += l;
  std::vector<double> gathered(static_cast<size_t>(total)), all;
  all.reserve(size_t(total));
  MPI_Allgatherv(mine.data(), int(mine.size()), MPI_DOUBLE, gathered.data(), counts.data(), displs.data(),
                 MPI_DOUBLE, comm);
  std::vector<int64_t> offset(displs.begin(), displs.end());
  for (int64_t g = 0; g < batches; ++g) {
    const int r = int(g % size);
    all.insert(all.end(), gathered.begin() + offset[size_t(r)], gathered.begin() + offset[size_t(r)] + lens[size_t(g)]);
    offset[size_t(r)] += lens[size_t(g)];
  }
  return all;
}

std::vector<double> evaluate_sharded(const ValueFunction& v, const std::vector<Mask>& masks, int batch,
                                     MPI_Comm comm) {
  require(batch >= 1, "explain: the coalition batch size must be >= 1");
  const int64_t n = int64_t(masks.size()), batches = (n + batch - 1) / batch;
  return gather_batches(batches, [&](int64_t g) {
    const int64_t b0 = g * batch, b1 = std::min<int64_t>(n, b0 + batch);
    const std::vector<Mask> part(masks.begin() + b0, masks.begin() + b1);
    std::vector<double> out = v(part);
    require(int64_t(out.size()) == b1 - b0, "explain: the value function returned " + std::to_string(out.size()) +
                                                " values for " + std::to_string(b1 - b0) + " coalitions");
    return out;
  }, comm);
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
