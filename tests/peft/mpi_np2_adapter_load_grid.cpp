// model.adapter on tensor and pipeline parallelism (tp = 2, pp = 2): the PEFT fixtures of
// tests/fixtures/peft/ (GPT-2: c_attn's lora_B split in q|k|v shard groups, mlp.c_proj's
// lora_A split by columns; Llama: q/v_proj's lora_B by rows, down_proj's lora_A by
// columns) loaded into each rank's slice give PEFT's logits (this rank's vocabulary
// columns) ≤ 1e-4, and the last hidden states of the one-rank model ≤ 1e-5; on pipeline
// parallelism (pp = 2, each stage loading its block's factors) the last stage's logits
// are PEFT's ≤ 1e-4.
#include <mpi.h>
#include <filesystem>
#include "hf-parity/hf_model_runner.hpp"
#include "io/model_checkpoint.hpp"
#include "src/parallel/communicator.hpp"
#include "src/train/adapter_loading.hpp"
#include "src/train/trainer.hpp"
#include "test_support.hpp"

using namespace tessera;

namespace {

void check_fixture(const std::string& fixture, const std::string& hf_name) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const std::string tmp = std::string(TESSERA_TEST_TMP) + "/adapter_load_np2_" + fixture;
  if (rank == 0) {
    std::filesystem::remove_all(tmp);
    std::filesystem::create_directories(tmp);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const std::string base = tmp + "/base.h5";
  const std::string hf = tessera_test::source_dir() + "/tests/fixtures/hf/" + hf_name;
  write_model_checkpoint(base, rank == 0 ? import_hf_directory(hf) : ImportedModel{}, MPI_COMM_WORLD);
  const std::string adapter = tessera_test::source_dir() + "/tests/fixtures/peft/" + fixture;
  RunConfig cfg = parse_model_config("[model]\ninit_from = \"" + base + "\"\nadapter = \"" + adapter + "\"\n", "np2.toml");
  resolve_init_from(cfg, MPI_COMM_WORLD);
  const auto ref = SafetensorsFile::open(adapter + "/reference.safetensors");
  const std::vector<int32_t> ids = hf_test::read_i32(ref, "input_ids");
  const int B = int(ref.info("input_ids").shape[0]), T = int(ref.info("input_ids").shape[1]);
  const std::vector<float> want = ref.read_f32("logits");
  const int64_t V = cfg.model.transformer.vocab_size;

  auto one = load_inference_model(cfg, base, MPI_COMM_SELF);
  one->forward(ids.data(), nullptr, B, T, ForwardOptions{});
  const std::vector<float> one_hidden = hf_test::host_vector(one->hidden_states());

  auto tp = make_mpi_communicator(MPI_COMM_WORLD, "tp");
  ModelParallel mp;
  mp.tp_rank = rank;
  mp.tp_size = 2;
  mp.tp = tp.get();
  auto model = load_inference_model(cfg, base, MPI_COMM_WORLD, mp);
  model->forward(ids.data(), nullptr, B, T, ForwardOptions{});
  const std::vector<float> logits = hf_test::host_vector(model->logits());
  const int64_t Vl = int64_t(logits.size()) / (int64_t(B) * T);
  ASSERT_EQ(Vl * 2, V);
  double d = 0;
  for (int64_t bt = 0; bt < int64_t(B) * T; ++bt)
    for (int64_t v = 0; v < Vl; ++v)
      d = std::max(d, double(std::abs(logits[size_t(bt * Vl + v)] - want[size_t(bt * V + rank * Vl + v)])));
  const hf_test::Diff h = hf_test::compare(hf_test::host_vector(model->hidden_states()), one_hidden);
  std::printf("rank %d %s tp=2: max|tessera - peft| logits = %.3g, hidden vs one rank = %.3g\n", rank, fixture.c_str(), d,
              h.max_abs);
  EXPECT_LE(d, 1e-4) << fixture;
  EXPECT_LE(h.max_abs, 1e-5) << fixture;

  {  // pp = 2: one block per stage; each stage loads its own blocks' factors
    ModelParallel pp;
    pp.pp_rank = rank;
    pp.pp_size = 2;
    auto staged = load_inference_model(cfg, base, MPI_COMM_WORLD, pp);
    const size_t n = size_t(B) * T * cfg.model.transformer.n_embd;
    ModelInputs in;
    in.tokens = ids.data();
    if (rank == 0) {
      staged->forward_stage(0, in, B, T, ForwardOptions{}, View1<float>());
      Kokkos::fence();
      MPI_Send(staged->stage_output(0).data(), int(n), MPI_FLOAT, 1, 7, MPI_COMM_WORLD);
    } else {
      View1<float> input("stage_input", n);
      MPI_Recv(input.data(), int(n), MPI_FLOAT, 0, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      staged->forward_stage(0, in, B, T, ForwardOptions{}, input);
      const hf_test::Diff pl = hf_test::compare(hf_test::host_vector(staged->logits()), want);
      std::printf("%s pp=2: max|tessera - peft| logits = %.3g\n", fixture.c_str(), pl.max_abs);
      EXPECT_LE(pl.max_abs, 1e-4) << fixture;
    }
  }
}

}  // namespace

TEST(AdapterLoadGridNp2, PeftGpt2AdapterOnTp2AndPp2MatchesPeft) { check_fixture("gpt2_causal_lm", "tiny_gpt2"); }

TEST(AdapterLoadGridNp2, PeftLlamaAdapterOnTp2AndPp2MatchesPeft) { check_fixture("llama_causal_lm", "tiny_llama"); }
