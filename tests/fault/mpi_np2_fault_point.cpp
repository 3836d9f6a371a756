// TESSERA_FAULT under mpirun -np 2: rank matching uses the world rank, and the
// injected error names the rank context set by the ProcessGrid.
#include <gtest/gtest.h>
#include <mpi.h>
#include <cstdlib>
#include <string>
#include "src/parallel/process_grid.hpp"
#include "src/runtime/error.hpp"
#include "src/runtime/fault_injection.hpp"

TEST(FaultPoint, FiresOnlyOnTheNamedRankAndStep) {
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ASSERT_EQ(size, 2) << "run with mpirun -np 2";
  tessera::ProcessGrid grid(MPI_COMM_WORLD, 1, 2, 1);
  setenv("TESSERA_FAULT", "throw:rank=1:step=3", 1);
  tessera::reload_fault_injection_from_env();
  int thrown_at = -1;
  std::string message;
  for (int step = 0; step < 6; ++step) {
    try {
      tessera::fault_point("step", step);
      tessera::fault_point("checkpoint_write", step);
    } catch (const tessera::Error& e) {
      thrown_at = step;
      message = e.what();
    }
  }
  unsetenv("TESSERA_FAULT");
  tessera::reload_fault_injection_from_env();
  if (rank == 1) {
    EXPECT_EQ(thrown_at, 3);
    EXPECT_NE(message.find("injected fault"), std::string::npos) << message;
    EXPECT_NE(message.find("on rank 1/2 (dp 0, pp 0, tp 1) on host "), std::string::npos) << message;
  } else {
    EXPECT_EQ(thrown_at, -1) << message;
  }
  int bad = ::testing::Test::HasFailure() ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  EXPECT_EQ(bad, 0) << "a failure on some rank";
}
