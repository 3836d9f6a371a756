// Shared helpers for the multi-rank CLI tests (labels grid, reshard, resume,
// fault): configs for a DP × TP × PP grid at a fixed GLOBAL batch, reading
// metrics.jsonl (losses, config records) and checkpoint tensors, and the
// comparisons (relative loss error, per-tensor max|a−b| / max|b|, bitwise).
#pragma once
#include <hdf5.h>
#include <mpi.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>
#include "cli_fixture.hpp"
#include "io/checkpoint.hpp"
#include "io/hdf5_file.hpp"
#include "test_support.hpp"

namespace tessera_test {

struct Grid {
  int dp = 1, tp = 1, pp = 1;
  int ranks() const { return dp * tp * pp; }
  std::string name() const { return std::to_string(dp) + "/" + std::to_string(tp) + "/" + std::to_string(pp); }
  // "dp2_tp1_pp2" (for directory and test names)
  std::string tag() const {
    return "dp" + std::to_string(dp) + "_tp" + std::to_string(tp) + "_pp" + std::to_string(pp);
  }
};

// The global micro-batch (samples per micro-step summed over dp) every grid run uses;
// per-rank micro_batch_size = kGlobalMicroBatch / dp.
constexpr int kGlobalMicroBatch = 4;

struct GridRun {
  Grid grid;
  bool zero1 = false;
  int accum = 2;
  int64_t max_steps = 10;
  int64_t checkpoint_interval = 0;  // 0 = only at the end
  std::string checkpoint_dir;       // "" = <run.dir>/checkpoints
  std::map<std::string, std::string> overrides;  // any further "section.key" = TOML text
};

// A tiny GPT-2 (4 layers so pp = 2 holds 2 each, 4 heads so tp ∈ {1,2,4}, width 32,
// byte vocab 257 (uneven vocab-parallel split), dropout 0.1 everywhere) on the Ruth
// dataset, with the same global batch on every grid. Validation every 5 steps and at
// the end over 2 global batches. A collective stuck for 120 s aborts the job.
inline std::string grid_config(const std::string& data, const std::string& run_dir, const GridRun& r) {
  EXPECT_EQ(kGlobalMicroBatch % r.grid.dp, 0) << "dp must divide the global micro-batch";
  std::map<std::string, std::string> o = {
      {"model.n_layer", "4"},
      {"model.n_head", "4"},
      {"train.max_steps", std::to_string(r.max_steps)},
      {"train.micro_batch_size", std::to_string(kGlobalMicroBatch / r.grid.dp)},
      {"train.grad_accum_steps", std::to_string(r.accum)},
      {"train.eval_interval", "5"},
      {"train.eval_batches", "2"},
      {"checkpoint.interval", std::to_string(r.checkpoint_interval)},
      {"checkpoint.keep_last", "0"},
      {"parallel.dp", std::to_string(r.grid.dp)},
      {"parallel.tp", std::to_string(r.grid.tp)},
      {"parallel.pp", std::to_string(r.grid.pp)},
      {"parallel.zero1", r.zero1 ? "true" : "false"},
      {"parallel.timeout_s", "120"},
      {"optim.eps", "1e-4"},
  };
  if (!r.checkpoint_dir.empty()) o["checkpoint.dir"] = "\"" + r.checkpoint_dir + "\"";
  for (auto& [k, v] : r.overrides) o[k] = v;
  return tiny_config(data, run_dir, o);
}

// Writes <dir>/<name>.toml for the run (run.dir = <dir>/<name>) and returns the config path.
inline std::string write_grid_config(const std::filesystem::path& dir, const std::string& name, const std::string& data,
                                     const GridRun& r) {
  const auto cfg = dir / (name + ".toml");
  write_file(cfg, grid_config(data, (dir / name).string(), r));
  return cfg.string();
}

struct TimedResult {
  CommandResult result;
  double seconds = 0;
};

// `tessera train CONFIG EXTRA` on grid.ranks() ranks (mpirun even for one rank, so the
// launch path is the same), timed.
inline TimedResult train_on(const Grid& g, const std::string& config, const std::string& extra = "",
                            const std::map<std::string, std::string>& env = {}) {
  const auto t0 = std::chrono::steady_clock::now();
  TimedResult t;
  t.result = run_mpi(g.ranks(), "train " + config + (extra.empty() ? "" : " " + extra), env);
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return t;
}

// ---- metrics.jsonl

struct Metrics {
  std::map<int64_t, double> train;            // step → training loss
  std::map<int64_t, std::string> train_text;  // step → the loss as logged (JSON text: bitwise comparison)
  std::map<int64_t, double> eval;             // step → validation loss
  std::map<int64_t, std::string> eval_text;
  std::vector<nlohmann::json> configs;        // every "config" record
};

// Later records for a step replace earlier ones (a resumed run appends to the log).
inline Metrics read_metrics(const std::filesystem::path& run_dir) {
  Metrics m;
  std::ifstream f(run_dir / "metrics.jsonl");
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    const std::string kind = j.value("kind", "");
    if (kind == "train") {
      m.train[j["step"].get<int64_t>()] = j["loss"].get<double>();
      m.train_text[j["step"].get<int64_t>()] = j["loss"].dump();
    } else if (kind == "eval") {
      m.eval[j["step"].get<int64_t>()] = j["loss"].get<double>();
      m.eval_text[j["step"].get<int64_t>()] = j["loss"].dump();
    } else if (kind == "config") {
      m.configs.push_back(j);
    }
  }
  return m;
}

inline double rel_err(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-30); }

// Every step of `want` present in `got` with |got − want| ≤ tol·|want|.
inline void expect_losses_close(const std::map<int64_t, double>& got, const std::map<int64_t, double>& want,
                                double tol, const std::string& what) {
  EXPECT_EQ(got.size(), want.size()) << what << ": number of logged steps";
  for (const auto& [step, w] : want) {
    auto it = got.find(step);
    if (it == got.end()) {
      ADD_FAILURE() << what << ": step " << step << " missing";
      continue;
    }
    EXPECT_LE(rel_err(it->second, w), tol)
        << what << ": step " << step << " loss " << it->second << " vs baseline " << w << " (rel. error "
        << rel_err(it->second, w) << ")";
  }
}

// ---- checkpoints

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
  std::string type_desc;  // class/size/order of the stored HDF5 datatype
};

// Every dataset under /<prefix> (e.g. "params", "optimizer/exp_avg") at its full shape.
inline std::map<std::string, Tensor> read_tensors(const std::string& file, const std::string& prefix) {
  tessera::h5::File f = tessera::h5::File::open_read(file, MPI_COMM_NULL);
  std::map<std::string, Tensor> out;
  const std::string group = "/" + prefix;
  for (const auto& name : f.list(group)) {
    const std::string obj = group + "/" + name;
    if (!f.is_dataset(obj)) continue;
    Tensor t;
    t.shape = f.dataset_shape(obj);
    int64_t n = 1;
    for (auto d : t.shape) n *= d;
    t.data.resize(size_t(n));
    auto dset = f.open_dataset(obj);
    hid_t type = H5Dget_type(dset.id());
    t.type_desc = std::to_string(int(H5Tget_class(type))) + ":" + std::to_string(H5Tget_size(type)) + ":" +
                  std::to_string(int(H5Tget_order(type)));
    H5Tclose(type);
    std::vector<int64_t> start(t.shape.size(), 0);
    tessera::h5::read_box(f, dset.id(), obj, H5T_NATIVE_FLOAT, start, t.shape, t.data.data(), true, false);
    out[name] = std::move(t);
  }
  return out;
}

// max|a−b| / max|b| of one tensor (0 when both are all zero).
inline double tensor_rel_diff(const Tensor& a, const Tensor& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.data.size(); ++i) {
    num = std::max(num, double(std::abs(a.data[i] - b.data[i])));
    den = std::max(den, double(std::abs(b.data[i])));
  }
  if (num == 0) return 0;
  return num / std::max(den, 1e-30);
}

// The key block (elements [C, 2C)) of an attention c_attn.bias has a mathematically
// zero gradient (adding the same q·b_k to every score of a query leaves the softmax
// unchanged), so its values are pure round-off noise (|x| ~ 1e-7 after 10 steps) and
// differ between any two reduction orders. expect_tensors_close checks it separately:
// |x| ≤ kNullBlockBound on both sides; the q and v blocks get the relative measure.
constexpr double kNullBlockBound = 1e-5;
inline bool is_qkv_bias(const std::string& name) {
  const std::string suffix = "attn.c_attn.bias";
  return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A separate key-projection bias (BERT/RoBERTa attention.self.key.bias, a Llama
// k_proj.bias) is that block as a whole tensor: bounded, not compared.
inline bool is_key_bias(const std::string& name) {
  for (const std::string suffix : {"attention.self.key.bias", "self_attn.k_proj.bias"})
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      return true;
  return false;
}

// Same names and full shapes; per tensor max|a−b| / max|b| ≤ tol (for c_attn.bias:
// over the q and v blocks, the k block bounded by kNullBlockBound). Returns the worst value.
inline double expect_tensors_close(const std::map<std::string, Tensor>& got, const std::map<std::string, Tensor>& want,
                                   double tol, const std::string& what) {
  double worst = 0;
  EXPECT_EQ(got.size(), want.size()) << what << ": number of tensors";
  for (const auto& [name, w] : want) {
    auto it = got.find(name);
    if (it == got.end()) {
      ADD_FAILURE() << what << ": tensor " << name << " missing";
      continue;
    }
    if (it->second.shape != w.shape) {
      ADD_FAILURE() << what << ": tensor " << name << " has another shape";
      continue;
    }
    double d;
    if (is_qkv_bias(name)) {
      const size_t C = w.data.size() / 3;
      Tensor a_qv, b_qv;
      double k_max = 0;
      for (size_t i = 0; i < w.data.size(); ++i) {
        if (i >= C && i < 2 * C) {
          k_max = std::max({k_max, double(std::abs(w.data[i])), double(std::abs(it->second.data[i]))});
        } else {
          a_qv.data.push_back(it->second.data[i]);
          b_qv.data.push_back(w.data[i]);
        }
      }
      EXPECT_LE(k_max, kNullBlockBound) << what << ": tensor " << name << " key-bias block is not at noise level";
      d = tensor_rel_diff(a_qv, b_qv);
    } else if (is_key_bias(name)) {
      double k_max = 0;
      for (size_t i = 0; i < w.data.size(); ++i)
        k_max = std::max({k_max, double(std::abs(w.data[i])), double(std::abs(it->second.data[i]))});
      EXPECT_LE(k_max, kNullBlockBound) << what << ": tensor " << name << " (key bias) is not at noise level";
      d = 0;
    } else {
      d = tensor_rel_diff(it->second, w);
    }
    worst = std::max(worst, d);
    EXPECT_LE(d, tol) << what << ": tensor " << name << " max|a-b|/max|b| = " << d;
  }
  return worst;
}

// Same names, shapes, stored datatypes and bit patterns.
inline void expect_tensors_bitwise(const std::map<std::string, Tensor>& got, const std::map<std::string, Tensor>& want,
                                   const std::string& what) {
  EXPECT_EQ(got.size(), want.size()) << what << ": number of tensors";
  for (const auto& [name, w] : want) {
    auto it = got.find(name);
    if (it == got.end()) {
      ADD_FAILURE() << what << ": tensor " << name << " missing";
      continue;
    }
    EXPECT_EQ(it->second.shape, w.shape) << what << ": " << name;
    EXPECT_EQ(it->second.type_desc, w.type_desc) << what << ": " << name << " stored datatype";
    if (it->second.shape != w.shape) continue;
    size_t diff = 0;
    for (size_t i = 0; i < w.data.size(); ++i)
      if (std::memcmp(&it->second.data[i], &w.data[i], sizeof(float)) != 0) ++diff;
    EXPECT_EQ(diff, 0u) << what << ": tensor " << name << " differs in " << diff << " of " << w.data.size()
                        << " elements (max|a-b|/max|b| = " << tensor_rel_diff(it->second, w) << ")";
  }
}

// Checkpoint groups holding tensors.
inline const std::vector<std::string>& checkpoint_groups() {
  static const std::vector<std::string> g = {"params", "optimizer/exp_avg", "optimizer/exp_avg_sq"};
  return g;
}

// Copies one checkpoint file into a fresh directory (for resuming it on another grid).
inline std::filesystem::path copy_checkpoint_to(const std::string& file, const std::filesystem::path& dir) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto dst = dir / std::filesystem::path(file).filename();
  std::filesystem::copy_file(file, dst);
  return dst;
}

}  // namespace tessera_test
