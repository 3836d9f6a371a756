// MiniLM-L6 (real weights, imported with io/hf_checkpoint → Tessera checkpoint →
// each rank loads its slice) on two ranks: tensor-parallel (tp = 2: 6 heads and half
// the MLP per rank, vocab-parallel word embeddings) and pipeline-parallel (pp = 2:
// 3 layers per stage, hidden states sent from stage 0 to stage 1). Last hidden states
// and pooler output equal Hugging Face's (tests/fixtures/hf/minilm_hidden.safetensors)
// within 1e-4 abs, as on one rank (test_hf_model_parity.cpp).
#include <mpi.h>
#include <filesystem>
#include "hf_model_runner.hpp"
#include "hf_test_util.hpp"
#include "io/checkpoint.hpp"
#include "io/model_checkpoint.hpp"
#include "src/parallel/communicator.hpp"
#include "src/train/trainer.hpp"

using namespace tessera;
using namespace hf_test;

namespace {

struct Fixture {
  std::vector<int32_t> ids, mask, types;
  std::vector<float> hidden, pooler;
  int B = 0, T = 0;
  ModelInputs inputs() const {
    ModelInputs in;
    in.tokens = ids.data();
    in.attention_mask = mask.data();
    in.token_types = types.data();
    return in;
  }
};

Fixture read_fixture() {
  const SafetensorsFile ref = SafetensorsFile::open(hf_fixture("minilm_hidden.safetensors"));
  Fixture f;
  f.ids = read_i32(ref, "input_ids");
  f.mask = read_i32(ref, "attention_mask");
  f.types = read_i32(ref, "token_type_ids");
  f.hidden = ref.read_f32("last_hidden_state");
  f.pooler = ref.read_f32("pooler_output");
  f.B = int(ref.info("input_ids").shape[0]);
  f.T = int(ref.info("input_ids").shape[1]);
  return f;
}

void expect_close(const std::string& what, const Diff& d) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::printf("rank %d %s: max|tessera - hf| = %.3g (max|hf| = %.3g)\n", rank, what.c_str(), d.max_abs, d.max_ref);
  EXPECT_LE(d.max_abs, 1e-4) << what;
  EXPECT_GT(d.max_ref, 0) << what;
}

}  // namespace

TEST(MiniLmGridNp2, HiddenStatesOnTp2AndPp2EqualHuggingFace) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const std::string dir = asset("minilm");
  ASSERT_TRUE(std::filesystem::exists(dir + "/model.safetensors")) << dir << " missing: run scripts/fetch_assets.sh";
  const std::string tmp = std::string(TESSERA_TEST_TMP) + "/minilm_np2";
  if (rank == 0) {
    std::filesystem::remove_all(tmp);
    std::filesystem::create_directories(tmp);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const std::string path = tmp + "/minilm.h5";
  write_model_checkpoint(path, rank == 0 ? import_hf_directory(dir) : ImportedModel{}, MPI_COMM_WORLD);
  const TransformerConfig cfg =
      parse_imported_model_toml(read_checkpoint_state(path, MPI_COMM_WORLD).config_toml, path);
  const Fixture fx = read_fixture();

  {  // tp = 2
    auto tp = make_mpi_communicator(MPI_COMM_WORLD, "tp");
    ModelParallel mp;
    mp.tp_rank = rank;
    mp.tp_size = 2;
    mp.tp = tp.get();
    Transformer<float> model(cfg, mp);
    EXPECT_TRUE(load_model_weights(model, path, MPI_COMM_WORLD).empty());
    model.forward(fx.inputs(), fx.B, fx.T, ForwardOptions{});
    expect_close("tp=2 last_hidden_state", compare(host_vector(model.hidden_states()), fx.hidden));
    expect_close("tp=2 pooler_output", compare(host_vector(model.pooler_output()), fx.pooler));
  }
  {  // pp = 2
    ModelParallel mp;
    mp.pp_rank = rank;
    mp.pp_size = 2;
    Transformer<float> model(cfg, mp);
    EXPECT_EQ(model.end_layer() - model.first_layer(), 3);
    EXPECT_TRUE(load_model_weights(model, path, MPI_COMM_WORLD).empty());
    const size_t n = size_t(fx.B) * fx.T * cfg.n_embd;
    if (rank == 0) {
      model.forward_stage(0, fx.inputs(), fx.B, fx.T, ForwardOptions{}, View1<float>());
      Kokkos::fence();
      MPI_Send(model.stage_output(0).data(), int(n), MPI_FLOAT, 1, 7, MPI_COMM_WORLD);
    } else {
      View1<float> input("stage_input", n);
      MPI_Recv(input.data(), int(n), MPI_FLOAT, 0, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      model.forward_stage(0, fx.inputs(), fx.B, fx.T, ForwardOptions{}, input);
      expect_close("pp=2 last_hidden_state", compare(host_vector(model.hidden_states()), fx.hidden));
      expect_close("pp=2 pooler_output", compare(host_vector(model.pooler_output()), fx.pooler));
    }
  }
}
