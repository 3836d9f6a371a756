// Work that one rank does for all: run a function on rank 0 of a communicator and
// make its failure every rank's failure (so no rank waits in a later collective for
// a rank that threw), and broadcast a string from rank 0.
#pragma once
#include <mpi.h>
#include <exception>
#include <string>
#include "src/runtime/error.hpp"

namespace tessera {

// Runs fn on rank 0 of comm; its exception is rethrown as tessera::Error on every rank.
template <class Fn>
void on_root(MPI_Comm comm, Fn&& fn) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  std::string err;
  if (rank == 0) {
    try {
      fn();
    } catch (const std::exception& e) {
      err = e.what();
      if (err.empty()) err = "unknown error";
    }
  }
  int n = int(err.size());
  MPI_Bcast(&n, 1, MPI_INT, 0, comm);
  err.resize(size_t(n));
  if (n > 0) MPI_Bcast(err.data(), n, MPI_CHAR, 0, comm);
  if (!err.empty()) throw Error(err);
}

// s on every rank = s on rank 0.
inline void broadcast_string(std::string& s, MPI_Comm comm) {
  long long n = static_cast<long long>(s.size());
  MPI_Bcast(&n, 1, MPI_LONG_LONG, 0, comm);
  s.resize(size_t(n));
  if (n > 0) MPI_Bcast(s.data(), int(n), MPI_CHAR, 0, comm);
}

}  // namespace tessera
