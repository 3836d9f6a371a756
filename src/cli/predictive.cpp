#include "src/cli/predictive.hpp"

#include <filesystem>
#include <memory>
#include <sstream>

#include "io/checkpoint.hpp"
#include "src/compress/quantized_checkpoint.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

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
                                     uint64_t seed, MPI_Comm comm) {
  PredictiveSamples s;
  s.n = enc.rows();
  s.K = K;
  s.checkpoints = checkpoints;
  for (size_t c = 0; c < checkpoints.size(); ++c) {
    s.temperatures.push_back(checkpoint_temperature(checkpoints[c], comm));
    const std::unique_ptr<Transformer<float>> model = load_inference_model(mc, checkpoints[c], comm);
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

}  // namespace tessera
