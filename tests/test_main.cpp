// GoogleTest main for Tessera: MPI (parallel HDF5 needs it) and Kokkos are
// initialised once per test executable.
#include <gtest/gtest.h>
#include <mpi.h>
#include <Kokkos_Core.hpp>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  int rc = 0;
  {
    Kokkos::initialize(argc, argv);
    rc = RUN_ALL_TESTS();
    Kokkos::finalize();
  }
  MPI_Finalize();
  return rc;
}
