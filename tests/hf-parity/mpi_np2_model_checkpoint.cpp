// write_model_checkpoint on 2 ranks where only rank 0 holds the imported model: rank 0
// broadcasts the parameter list, writes every tensor (lowest rank holding the slice),
// and both ranks read back exactly the imported tensors.
#include <mpi.h>

#include "hf_test_util.hpp"
#include "io/hf_checkpoint.hpp"
#include "io/model_checkpoint.hpp"

using namespace tessera;
using namespace hf_test;

TEST(HfModelCheckpointNp2, RankZeroWritesEveryTensorBothRanksReadThem) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  for (const char* fixture : {"tiny_llama", "tiny_roberta"}) {
    const ImportedModel src = import_hf_directory(hf_fixture(fixture));
    const std::string dir = std::string(TESSERA_TEST_TMP) + "/hf_np2_" + fixture;
    if (rank == 0) {
      std::filesystem::remove_all(dir);
      std::filesystem::create_directories(dir);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    const std::string path = dir + "/ckpt.h5";
    write_model_checkpoint(path, rank == 0 ? src : ImportedModel{}, MPI_COMM_WORLD);
    const ImportedModel back = read_model_checkpoint(path, MPI_COMM_WORLD);
    EXPECT_EQ(back.config.pooler, src.config.pooler);
    ASSERT_EQ(back.tensors.size(), src.tensors.size()) << fixture;
    for (const auto& [n, t] : src.tensors) {
      ASSERT_TRUE(back.tensors.count(n)) << n;
      EXPECT_TRUE(bit_equal(back.tensors.at(n).data, t.data)) << fixture << ": " << n;
    }
  }
}
