#include "io/task_dataset.hpp"  // first: see the kIgnoreIndex note there
#include "src/cli/forward_rows.hpp"

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cmath>

#include "src/runtime/error.hpp"

namespace tessera {

namespace {
int rank_of(MPI_Comm comm) {
  int r = 0;
  MPI_Comm_rank(comm, &r);
  return r;
}
int size_of(MPI_Comm comm) {
  int n = 1;
  MPI_Comm_size(comm, &n);
  return n;
}
}  // namespace

std::string classifier_output_layer(const TransformerConfig& mc) {
  if (mc.family == Family::BERT) return "classifier";
  if (mc.family == Family::RoBERTa) return "classifier.out_proj";
  return "score";
}

ClassifierFeatures::ClassifierFeatures(Transformer<float>& model) : model_(model) {
  const TransformerConfig& mc = model.config();
  if (mc.head != HeadKind::SequenceClassification || mc.family != Family::RoBERTa) return;
  // RoBERTa's head: out_proj(tanh(dense(h[<s>]))); dense [C, C] + [C] on the host.
  const int64_t C = mc.n_embd;
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.params().values());
  for (const ParamInfo& info : model.params().infos()) {
    if (info.name != "classifier.dense.weight" && info.name != "classifier.dense.bias") continue;
    require(info.numel > 0, info.name + " is packed (quantised); the classifier features need a float32 head");
    std::vector<double>& dst = info.name == "classifier.dense.weight" ? dense_w_ : dense_b_;
    dst.assign(host.data() + info.offset, host.data() + info.offset + info.numel);
  }
  require(dense_w_.size() == size_t(C * C) && dense_b_.size() == size_t(C),
          "RoBERTa classifier: no classifier.dense.weight [C, C] / classifier.dense.bias [C]");
}

int64_t classifier_input_width(const TransformerConfig& mc) {
  return mc.feature_head() ? mc.features.output_dim(mc.n_embd) : mc.n_embd;
}

std::vector<float> ClassifierFeatures::operator()(const int32_t* mask, int B, int T) const {
  const TransformerConfig& mc = model_.config();
  const int64_t C = mc.n_embd;
  if (mc.feature_head()) {  // the feature head's output (its last hidden layer)
    const int64_t W = classifier_input_width(mc);
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model_.feature_head_output());
    require(int64_t(h.extent(0)) >= B * W, "classifier features: the model has no feature head output");
    return std::vector<float>(h.data(), h.data() + B * W);
  }
  if (mc.family == Family::BERT) {  // the pooler output tanh(W_p h[CLS] + b_p)
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model_.pooler_output());
    require(int64_t(h.extent(0)) >= B * C, "classifier features: the model has no pooler output");
    return std::vector<float>(h.data(), h.data() + B * C);
  }
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model_.hidden_states());
  require(int64_t(h.extent(0)) >= int64_t(B) * T * C, "classifier features: the model has no hidden states");
  std::vector<float> out(size_t(B * C));
  for (int b = 0; b < B; ++b) {
    // the pooled row: RoBERTa the first token (<s>), decoders the last non-pad token
    int row = 0;
    if (!mc.is_encoder()) {
      int n = T;
      if (mask) {
        n = 0;
        for (int t = 0; t < T; ++t) n += mask[size_t(b) * size_t(T) + size_t(t)] != 0;
      }
      row = std::max(0, n - 1);
    }
    const float* x = h.data() + (int64_t(b) * T + row) * C;
    if (mc.family != Family::RoBERTa) {
      std::copy(x, x + C, out.begin() + b * C);
      continue;
    }
    for (int64_t o = 0; o < C; ++o) {
      double s = dense_b_[size_t(o)];
      for (int64_t c = 0; c < C; ++c) s += dense_w_[size_t(o * C + c)] * double(x[c]);
      out[size_t(b * C + o)] = float(std::tanh(s));
    }
  }
  return out;
}

Encoded encoded_rows(const TaskFeatures& f) {
  Encoded enc;
  enc.T = f.max_len;
  enc.ids = f.input_ids;
  enc.mask = f.attention_mask;
  enc.types = f.token_type_ids;
  enc.D = f.dense_feature_dim;
  enc.M = f.categorical_feature_dim;
  enc.dense = f.dense_features;
  enc.categorical = f.categorical_features;
  return enc;
}

void append_row(Encoded& e, const std::vector<int32_t>& ids, int32_t pad) {
  const size_t T = size_t(e.T);
  for (size_t t = 0; t < T; ++t) {
    e.ids.push_back(t < ids.size() ? ids[t] : pad);
    e.mask.push_back(t < ids.size() ? 1 : 0);
    e.types.push_back(0);
  }
}

std::vector<float> forward_rows(Transformer<float>& model, const Encoded& enc, int B, int64_t per_row,
                                int32_t pad, MPI_Comm comm, const Dropout& dropout, bool pooled) {
  const int rank = rank_of(comm), size = size_of(comm);
  const int64_t R = enc.rows(), T = enc.T;
  const int64_t batches = (R + B - 1) / B;
  std::vector<float> mine;
  std::vector<int32_t> tok(size_t(B * T)), mask(size_t(B * T)), types(size_t(B * T));
  std::vector<float> dense(size_t(B * enc.D));
  std::vector<int32_t> cat(size_t(B * enc.M));
  require(!pooled || model.config().head == HeadKind::SequenceClassification,
          "forward_rows: classifier features need a sequence_classification head");
  ClassifierFeatures features(model);
  ForwardOptions fo;
  fo.training = dropout.on;
  fo.seed = dropout.seed;
  for (int64_t g = rank; g < batches; g += size) {
    fo.step = dropout.pass * uint64_t(batches) + uint64_t(g);
    const int64_t r0 = g * B, n = std::min<int64_t>(B, R - r0);
    std::copy_n(enc.ids.begin() + r0 * T, n * T, tok.begin());
    std::copy_n(enc.mask.begin() + r0 * T, n * T, mask.begin());
    std::copy_n(enc.types.begin() + r0 * T, n * T, types.begin());
    std::fill(tok.begin() + n * T, tok.end(), pad);
    std::fill(mask.begin() + n * T, mask.end(), 0);
    std::fill(types.begin() + n * T, types.end(), 0);
    for (int64_t b = n; b < B; ++b) mask[size_t(b * T)] = 1;
    std::fill(dense.begin(), dense.end(), 0.0f);
    std::fill(cat.begin(), cat.end(), 0);
    std::copy_n(enc.dense.begin() + r0 * enc.D, n * enc.D, dense.begin());
    std::copy_n(enc.categorical.begin() + r0 * enc.M, n * enc.M, cat.begin());
    ModelInputs in;
    if (enc.D > 0) in.dense_features = dense.data();
    if (enc.M > 0) in.categorical_features = cat.data();
    in.tokens = tok.data();
    in.token_types = types.data();
    in.attention_mask = mask.data();
    model.forward(in, B, int(T), fo);
    if (pooled) {
      require(per_row == classifier_input_width(model.config()),
              "forward_rows: classifier features have classifier_input_width values a row");
      const std::vector<float> f = features(mask.data(), B, int(T));
      mine.insert(mine.end(), f.begin(), f.begin() + n * per_row);
      continue;
    }
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.logits());
    require(int64_t(host.extent(0)) >= B * per_row, "predict: the model's logits are smaller than expected");
    mine.insert(mine.end(), host.data(), host.data() + n * per_row);
  }
  // Gather to rank 0: rank r's part is its batches in order.
  const int64_t len = int64_t(mine.size());
  std::vector<int64_t> lens(static_cast<size_t>(size));
  MPI_Gather(&len, 1, MPI_INT64_T, lens.data(), 1, MPI_INT64_T, 0, comm);
  std::vector<int> counts(static_cast<size_t>(size)), displs(static_cast<size_t>(size));
  int64_t total = 0;
  if (rank == 0)
    for (int r = 0; r < size; ++r) {
      counts[size_t(r)] = int(lens[size_t(r)]);
      displs[size_t(r)] = int(total);
      total += lens[size_t(r)];
    }
  require(R * per_row < (int64_t(1) << 31), "predict: too many logits to gather; split the input file");
  std::vector<float> all(size_t(rank == 0 ? total : 0));
  MPI_Gatherv(mine.data(), int(len), MPI_FLOAT, all.data(), counts.data(), displs.data(), MPI_FLOAT, 0, comm);
  if (rank != 0) return {};
  std::vector<float> ordered(size_t(R * per_row));
  std::vector<int64_t> offset(static_cast<size_t>(size));
  for (int r = 0; r < size; ++r) offset[size_t(r)] = displs[size_t(r)];
  for (int64_t g = 0; g < batches; ++g) {
    const int r = int(g % size);
    const int64_t n = std::min<int64_t>(B, R - g * B) * per_row;
    std::copy_n(all.begin() + offset[size_t(r)], n, ordered.begin() + g * B * per_row);
    offset[size_t(r)] += n;
  }
  return ordered;
}

}  // namespace tessera
