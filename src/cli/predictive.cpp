#include "io/task_dataset.hpp"  // first: see the kIgnoreIndex note there
#include "src/cli/predictive.hpp"

#include <Kokkos_Core.hpp>
#include <cmath>

#include <filesystem>
#include <memory>
#include <sstream>

#include "io/checkpoint.hpp"
#include "src/cli/task_inputs.hpp"
#include "src/compress/quantized_checkpoint.hpp"
#include "src/train/adapter_loading.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

using namespace explain;

bool has_dropout(const TransformerConfig& mc) {
  return mc.embd_pdrop > 0 || mc.attn_pdrop > 0 || mc.resid_pdrop > 0 || mc.classifier_dropout() > 0 ||
         (mc.lora.r > 0 && mc.lora.dropout > 0);
}

void require_dropout(const TransformerConfig& mc, const std::string& config) {
  require(has_dropout(mc), "--mc-dropout: the model of " + config +
                               " has no dropout (model.embd_pdrop, attn_pdrop, resid_pdrop and classifier_pdrop "
                               "are all 0), so every pass would be identical; set e.g. model.classifier_pdrop = 0.1 "
                               "(the dropout the model was fine-tuned with) or use --ensemble");
}

double checkpoint_temperature(const std::string& checkpoint, MPI_Comm comm) {
  const TrainingState st = read_checkpoint_state(checkpoint, comm);
  auto it = st.scalars.find(kTemperatureScalar);
  return it == st.scalars.end() ? 1.0 : it->second;
}

std::vector<std::string> split_checkpoint_list(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    require(!item.empty(), "--ensemble '" + list + "': empty checkpoint name");
    require(std::filesystem::is_regular_file(item), "--ensemble: " + item + ": no such checkpoint file");
    out.push_back(item);
  }
  require(!out.empty(), "--ensemble: no checkpoints");
  return out;
}

PredictiveSamples predictive_samples(const TransformerConfig& mc, const std::vector<std::string>& checkpoints,
                                     const Encoded& enc, int B, int64_t K, int32_t pad, int mc_dropout,
                                     uint64_t seed, MPI_Comm comm, const std::string& adapter) {
  PredictiveSamples s;
  s.n = enc.rows();
  s.K = K;
  s.checkpoints = checkpoints;
  for (size_t c = 0; c < checkpoints.size(); ++c) {
    s.temperatures.push_back(checkpoint_temperature(checkpoints[c], comm));
    const std::unique_ptr<Transformer<float>> model = load_inference_model(mc, adapter, checkpoints[c], comm);
    const int passes = mc_dropout > 0 ? mc_dropout : 1;
    for (int p = 0; p < passes; ++p) {
      Dropout d;
      d.on = mc_dropout > 0;
      d.seed = seed + uint64_t(c);
      d.pass = uint64_t(p);
      s.logits.push_back(forward_rows(*model, enc, B, K, pad, comm, d));
      s.checkpoint_of.push_back(int(c));
    }
  }
  return s;
}

Encoded split_rows(const TaskFeatures& f) { return encoded_rows(f); }

// Last-layer Laplace of a sequence classifier (features = the input of its last linear
// layer, ClassifierFeatures): fitted on fit_split, predictive on the calibrated split
// (rank 0; empty elsewhere).
LaplaceResult run_laplace(const TransformerConfig& mc, const TaskDataset& data, const std::string& fit_split,
                          const std::string& ckpt, const Encoded& eval_rows, int B, int32_t pad, int samples,
                          uint64_t seed, MPI_Comm comm, const std::string& structure) {
  require(structure == "diag" || structure == "kron",
          "--laplace-structure '" + structure + "': expected diag or kron");
  require(mc.head == HeadKind::SequenceClassification,
          "--laplace: needs a sequence_classification head (model.head = " + std::string(head_name(mc.head)) + ")");
  require(data.has_split(fit_split),
          "--laplace: dataset has no split '" + fit_split + "' (--laplace-fit-split)");
  // A feature head: φ is the feature head's output (the classifier's input), and the fit
  // split's stored feature vectors must come from the schema the checkpoint was trained with.
  if (mc.feature_head()) require_dataset_feature_schema(data, ckpt, comm, "--laplace");
  const TaskFeatures fit = data.read_split(fit_split);
  const std::unique_ptr<Transformer<float>> model = load_inference_model(mc, ckpt, comm);
  const int64_t C = classifier_input_width(mc), K = mc.num_labels;
  const std::vector<float> fit_phi = forward_rows(*model, split_rows(fit), B, C, pad, comm, {}, true);
  const std::vector<float> eval_phi = forward_rows(*model, eval_rows, B, C, pad, comm, {}, true);
  const std::vector<float> eval_logits = forward_rows(*model, eval_rows, B, K, pad, comm);
  LaplaceResult r;
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank != 0) return r;
  // The last linear layer: classifier (BERT), classifier.out_proj (RoBERTa), score
  // (GPT-2 / Llama, no bias: b stays empty).
  const std::string layer = classifier_output_layer(mc);
  const bool has_bias = mc.is_encoder();
  std::vector<double> W, b;
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model->params().values());
  for (const ParamInfo& info : model->params().infos()) {
    if (info.name != layer + ".weight" && info.name != layer + ".bias") continue;
    require(info.numel > 0, ckpt + ": " + info.name + " is packed (quantised); --laplace needs a float32 head");
    std::vector<double>& dst = info.name == layer + ".weight" ? W : b;
    dst.assign(host.data() + info.offset, host.data() + info.offset + info.numel);
  }
  require(W.size() == size_t(K * C) && b.size() == (has_bias ? size_t(K) : 0),
          ckpt + ": no " + layer + ".weight [K, C]" + (has_bias ? " / " + layer + ".bias [K]" : std::string()));
  const std::vector<double> fphi(fit_phi.begin(), fit_phi.end()), ephi(eval_phi.begin(), eval_phi.end());
  r.la = fit_last_layer_laplace(fphi, C, std::vector<int>(fit.labels.begin(), fit.labels.end()), W, b, K,
                                structure == "kron" ? LaplaceStructure::Kron : LaplaceStructure::Diagonal);
  // The head really is W φ + b on these features.
  for (size_t i = 0; i < eval_logits.size() / size_t(K); ++i)
    for (int64_t k = 0; k < K; ++k) {
      double f = b.empty() ? 0.0 : b[size_t(k)];
      for (int64_t c = 0; c < C; ++c) f += W[size_t(k * C + c)] * ephi[i * size_t(C) + size_t(c)];
      r.max_logit_gap = std::max(r.max_logit_gap, std::fabs(f - double(eval_logits[i * size_t(K) + size_t(k)])));
    }
  require(r.max_logit_gap < 1e-3, "--laplace: the logits differ from " + layer + "(features) by " +
                                      std::to_string(r.max_logit_gap) + " (not a linear head over the features)");
  if (samples > 0) {
    r.samples = laplace_samples(r.la, ephi, samples, seed);
    r.probs.assign(r.samples[0].size(), 0.0);
    for (const auto& smp : r.samples)
      for (size_t j = 0; j < smp.size(); ++j) r.probs[j] += smp[j] / double(r.samples.size());
  } else {
    r.probs = laplace_probit(r.la, ephi);
  }
  return r;
}

}  // namespace tessera
