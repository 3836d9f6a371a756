#include "io/checkpoint.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <optional>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <type_traits>

#include "io/hdf5_file.hpp"
#include "src/runtime/error.hpp"
#include "src/runtime/fault_injection.hpp"

namespace fs = std::filesystem;

namespace tessera {

namespace {

void barrier(MPI_Comm comm) {
  if (comm != MPI_COMM_NULL) MPI_Barrier(comm);
}

// Runs fn on rank 0 and rethrows its Error (message broadcast) on every rank.
template <class Fn>
void on_root(MPI_Comm comm, Fn&& fn) {
  std::string err;
  if (h5::comm_rank(comm) == 0) {
    try {
      fn();
    } catch (const std::exception& e) {
      err = e.what();
      if (err.empty()) err = "unknown error";
    }
  }
  if (comm != MPI_COMM_NULL) {
    int n = static_cast<int>(err.size());
    MPI_Bcast(&n, 1, MPI_INT, 0, comm);
    err.resize(static_cast<size_t>(n));
    if (n > 0) MPI_Bcast(err.data(), n, MPI_CHAR, 0, comm);
  }
  if (!err.empty()) throw Error(err);
}

void fsync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) throw Error(path + ": cannot open for fsync: " + std::strerror(errno));
  int rc = ::fsync(fd);
  int e = errno;
  ::close(fd);
  if (rc != 0 && !(directory && (e == EINVAL || e == EROFS)))
    throw Error(path + ": fsync failed: " + std::strerror(e));
}

// Bytes free for an unprivileged writer in the file system holding `dir` (-1 = unknown).
double free_bytes(const std::string& dir) {
  struct statvfs v {};
  if (::statvfs(dir.c_str(), &v) != 0) return -1;
  return double(v.f_bavail) * double(v.f_frsize);
}

std::string mib(double bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f MiB", bytes / 1048576.0);
  return b;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
  return o + "]";
}

// step number of a complete checkpoint file name, -1 otherwise
int64_t checkpoint_step(const std::string& filename) {
  static const std::regex re(R"(step_(\d+)\.h5)");
  std::smatch m;
  if (!std::regex_match(filename, m, re)) return -1;
  try {
    return std::stoll(m[1].str());
  } catch (...) {
    return -1;
  }
}

bool is_stale_tmp(const std::string& filename) {
  static const std::regex re(R"(step_\d+\.h5\.tmp)");
  return std::regex_match(filename, re);
}

template <class S> hid_t native_type();
template <> hid_t native_type<float>() { return H5T_NATIVE_FLOAT; }
template <> hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }

void check_info(const ParamInfo& info, const std::string& where) {
  if (info.local_shape.size() != info.full_shape.size() || info.local_start.size() != info.full_shape.size())
    throw Error(where + ": " + info.name + ": local_shape/local_start rank differs from full_shape");
  for (size_t d = 0; d < info.full_shape.size(); ++d)
    if (info.local_start[d] < 0 || info.local_shape[d] < 0 ||
        info.local_start[d] + info.local_shape[d] > info.full_shape[d])
      throw Error(where + ": " + info.name + ": slice " + shape_str(info.local_start) + "+" +
                  shape_str(info.local_shape) + " lies outside the full shape " + shape_str(info.full_shape));
  if (static_cast<int64_t>(info.numel) != product(info.local_shape))
    throw Error(where + ": " + info.name + ": numel " + std::to_string(info.numel) +
                " does not match local_shape " + shape_str(info.local_shape));
}

// writes[i]: this rank owns tensor i's slice (lowest rank among those with the same local_start).
// Every rank's parameter list, gathered: the union of datasets the file must hold
// (ranks of different pipeline stages hold different tensors, but dataset creation
// is collective, so all ranks create all of them, in one order), and which of this
// rank's slices it writes: among ranks holding the same slice (data-parallel
// replicas, a tied embedding on two stages) the lowest rank writes.
struct CheckpointPlan {
  struct Dataset {
    std::string name;
    std::vector<int64_t> full_shape;
    int local = -1;  // index in this rank's infos, -1 = not held here
  };
  std::vector<Dataset> datasets;
  std::vector<bool> writes;  // per local info
};

std::string serialize_slice(const ParamInfo& info) {
  std::string s = info.name + "|";
  for (int64_t d : info.full_shape) s += std::to_string(d) + ",";
  s += "|";
  for (int64_t d : info.local_start) s += std::to_string(d) + ",";
  return s;
}

std::vector<int64_t> parse_dims(const std::string& text) {
  std::vector<int64_t> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    out.push_back(std::stoll(text.substr(pos, comma - pos)));
    pos = comma + 1;
  }
  return out;
}

CheckpointPlan plan_checkpoint(const std::vector<ParamInfo>& infos, MPI_Comm comm, const std::string& file) {
  CheckpointPlan plan;
  plan.writes.assign(infos.size(), true);
  std::string mine;
  for (const auto& info : infos) mine += serialize_slice(info) + "\n";
  const int size = h5::comm_size(comm), rank = h5::comm_rank(comm);
  std::vector<std::string> per_rank(size);
  if (size == 1) {
    per_rank[0] = mine;
  } else {
    int len = static_cast<int>(mine.size());
    std::vector<int> lens(size), displs(size, 0);
    MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, comm);
    for (int r = 1; r < size; ++r) displs[r] = displs[r - 1] + lens[r - 1];
    std::string all(static_cast<size_t>(displs[size - 1] + lens[size - 1]), '\0');
    MPI_Allgatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR, comm);
    for (int r = 0; r < size; ++r) per_rank[r] = all.substr(displs[r], lens[r]);
  }
  std::map<std::string, size_t> index;  // name -> position in plan.datasets
  std::set<std::string> lower_slices;   // name|shape|start held by ranks below this one
  for (int r = 0; r < size; ++r) {
    size_t pos = 0;
    const std::string& text = per_rank[r];
    while (pos < text.size()) {
      const size_t nl = text.find('\n', pos);
      const std::string line = text.substr(pos, nl - pos);
      pos = nl + 1;
      const size_t bar1 = line.find('|'), bar2 = line.find('|', bar1 + 1);
      const std::string name = line.substr(0, bar1);
      const std::vector<int64_t> shape = parse_dims(line.substr(bar1 + 1, bar2 - bar1 - 1));
      auto it = index.find(name);
      if (it == index.end()) {
        index[name] = plan.datasets.size();
        plan.datasets.push_back({name, shape, -1});
      } else if (plan.datasets[it->second].full_shape != shape) {
        throw Error(file + ": ranks disagree on the full shape of " + name);
      }
      if (r < rank) lower_slices.insert(line);
    }
  }
  for (size_t i = 0; i < infos.size(); ++i) {
    plan.datasets[index.at(infos[i].name)].local = static_cast<int>(i);
    plan.writes[i] = lower_slices.count(serialize_slice(infos[i])) == 0;
  }
  return plan;
}

void write_state(const h5::File& f, const TrainingState& st) {
  f.write_attr_string("/", "format", kCheckpointFormat);
  f.write_attr_i64("/", "format_version", kCheckpointFormatVersion);
  f.write_attr_i64("/", "step", st.step);
  f.write_attr_i64("/", "tokens_seen", st.tokens_seen);
  f.write_attr_u64("/", "seed", st.seed);
  f.write_attr_i64("/", "data_epoch", st.data_epoch);
  f.write_attr_i64("/", "data_cursor", st.data_cursor);
  f.write_attr_string("/", "model_family", st.model_family);
  f.create_group("/run");
  f.write_string_dataset("/run/config", st.config_toml);
  if (!st.feature_schema.empty()) f.write_string_dataset("/run/feature_schema", st.feature_schema);
  f.create_group("/run/scalars");
  for (const auto& [k, v] : st.scalars) f.write_attr_f64("/run/scalars", k, v);
}

void check_format(const h5::File& f) {
  if (!f.has_attr("/", "format")) f.fail("/", "missing attribute 'format' (not a Tessera checkpoint)");
  std::string fmt = f.read_attr_string("/", "format");
  if (fmt != kCheckpointFormat) f.fail("/@format", "is '" + fmt + "', expected '" + kCheckpointFormat + "'");
  int64_t v = f.read_attr_i64("/", "format_version");
  if (v < 1 || v > kCheckpointFormatVersion) f.fail("/@format_version", "unsupported version " + std::to_string(v));
}

// The scalars in range and consistent with each other; errors name the file and attribute.
void validate_state(const h5::File& f, const TrainingState& st) {
  auto at_least_zero = [&](const char* name, int64_t v) {
    if (v < 0) f.fail(std::string("/@") + name, "is " + std::to_string(v) + ", must be >= 0 (corrupt checkpoint)");
  };
  at_least_zero("step", st.step);
  at_least_zero("tokens_seen", st.tokens_seen);
  at_least_zero("data_epoch", st.data_epoch);
  at_least_zero("data_cursor", st.data_cursor);
  if (st.step == 0 && st.tokens_seen != 0)
    f.fail("/@tokens_seen", "is " + std::to_string(st.tokens_seen) + " at step 0 (inconsistent with /@step)");
  if (st.step > 0 && st.tokens_seen < st.step)
    f.fail("/@tokens_seen", "is " + std::to_string(st.tokens_seen) + ", fewer than one token per step at /@step " +
                                std::to_string(st.step) + " (inconsistent)");
  auto scalar = [&](const char* k) {
    auto it = st.scalars.find(k);
    return it == st.scalars.end() ? std::optional<double>() : std::optional<double>(it->second);
  };
  for (const auto& [k, v] : st.scalars)
    if (std::isinf(v) || (std::isnan(v) && k != "best_value"))
      f.fail("/run/scalars/@" + k, "is not a finite number (corrupt checkpoint)");
  if (auto t = scalar(kTemperatureScalar); t && !(*t > 0))
    f.fail(std::string("/run/scalars@") + kTemperatureScalar, "is " + std::to_string(*t) + ", must be > 0");
  if (auto hb = scalar("has_best"); hb && *hb != 0.0 && *hb != 1.0)
    f.fail("/run/scalars/@has_best", "must be 0 or 1");
  if (auto hb = scalar("has_best"); hb && *hb == 1.0) {
    auto bs = scalar("best_step");
    if (bs && (*bs < 0 || *bs > double(st.step)))
      f.fail("/run/scalars/@best_step", "is " + std::to_string(int64_t(*bs)) + ", outside [0, /@step = " +
                                           std::to_string(st.step) + "]");
    auto bv = scalar("best_value");
    if (bv && std::isnan(*bv)) f.fail("/run/scalars/@best_value", "is NaN while has_best = 1");
  }
}

TrainingState read_state(const h5::File& f) {
  check_format(f);
  TrainingState st;
  st.step = f.read_attr_i64("/", "step");
  st.tokens_seen = f.read_attr_i64("/", "tokens_seen");
  st.seed = f.read_attr_u64("/", "seed");
  st.data_epoch = f.read_attr_i64("/", "data_epoch");
  st.data_cursor = f.read_attr_i64("/", "data_cursor");
  st.model_family = f.read_attr_string("/", "model_family");
  st.config_toml = f.read_string_dataset("/run/config");
  if (f.is_dataset("/run/feature_schema")) st.feature_schema = f.read_string_dataset("/run/feature_schema");
  if (f.is_group("/run/scalars"))
    for (const std::string& k : f.attr_names("/run/scalars")) st.scalars[k] = f.read_attr_f64("/run/scalars", k);
  validate_state(f, st);
  return st;
}

std::string dataset_name(const std::string& prefix, const std::string& name) {
  std::string p = prefix;
  while (!p.empty() && p.front() == '/') p.erase(p.begin());
  while (!p.empty() && p.back() == '/') p.pop_back();
  return "/" + p + "/" + name;
}

}  // namespace

void write_checkpoint_scalar(const std::string& file, const std::string& key, double value, MPI_Comm comm) {
  require(std::isfinite(value), file + ": checkpoint scalar '" + key + "' must be finite");
  {
    h5::File f = h5::File::open_write(file, comm);
    check_format(f);
    if (!f.is_group("/run")) f.create_group("/run");
    if (!f.is_group("/run/scalars")) f.create_group("/run/scalars");
    f.write_attr_f64("/run/scalars", key, value);
  }
  barrier(comm);
}

std::string checkpoint_path(const std::string& dir, int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step_%08lld.h5", static_cast<long long>(step));
  return (fs::path(dir) / buf).string();
}

template <class S>
std::string write_checkpoint(const std::string& dir, const std::vector<ParamInfo>& infos,
                             const std::vector<TensorGroupOut<S>>& groups, const TrainingState& st, int keep_last,
                             MPI_Comm comm) {
  require(st.step >= 0, "write_checkpoint: negative step");
  const std::string final_path = checkpoint_path(dir, st.step);
  const std::string tmp_path = final_path + ".tmp";
  for (const auto& info : infos) check_info(info, tmp_path);
  for (const auto& g : groups)
    require(g.host_data != nullptr || infos.empty(), tmp_path + ": tensor group '" + g.prefix + "' has no data");

  on_root(comm, [&] {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw Error(dir + ": cannot create checkpoint directory: " + ec.message());
  });
  const CheckpointPlan plan = plan_checkpoint(infos, comm, tmp_path);
  // Disk full: refuse before writing when the tensor bytes alone do not fit (the
  // previous checkpoints stay as they are); a write that fails anyway removes its
  // temporary file and says why.
  double need = 0;
  for (const auto& ds : plan.datasets) {
    double n = double(sizeof(S));
    for (int64_t d : ds.full_shape) n *= double(d);
    need += n * double(groups.size());
  }
  auto no_space = [&](double free, bool while_writing) {
    return std::string(std::strerror(ENOSPC)) + " (" + dir +
           (while_writing ? " filled up while writing; " + mib(free) + " free again after removing the partial file"
                          : " has " + mib(free) + " free") +
           ", the checkpoint needs at least " + mib(need) + " of tensors plus HDF5 metadata); the previous checkpoints are intact";
  };
  on_root(comm, [&] {
    const double free = free_bytes(dir);
    if (free >= 0 && free < need) throw Error(final_path + ": cannot write the checkpoint: " + no_space(free, false));
  });
  barrier(comm);
  try {
    h5::File f = h5::File::create(tmp_path, comm);
    write_state(f, st);
    for (const auto& g : groups) {
      for (const auto& ds : plan.datasets) {
        const std::string obj = dataset_name(g.prefix, ds.name);
        h5::Handle d = f.create_dataset(obj, native_type<S>(), ds.full_shape);
        if (ds.local >= 0) {
          const ParamInfo& info = infos[ds.local];
          h5::write_box(f, d, obj, native_type<S>(), info.local_start, info.local_shape, g.host_data + info.offset,
                        plan.writes[ds.local], true, info.shard_groups);
        } else {  // not held here: take part in the collective write with an empty selection
          const std::vector<int64_t> none(ds.full_shape.size(), 0);
          h5::write_box(f, d, obj, native_type<S>(), none, none, nullptr, false, true);
        }
      }
    }
    f.flush();
    f.close();
  } catch (const std::exception& e) {
    std::error_code ec;
    const double full = free_bytes(dir);  // with the partial file still there
    if (h5::comm_rank(comm) == 0) fs::remove(tmp_path, ec);  // no partial file left behind
    std::string msg = e.what();
    if (full >= 0 && full < need) msg += ": " + no_space(free_bytes(dir), true);
    throw Error(msg);
  }
  fault_point("checkpoint_write", st.step);  // tests: a job killed between write and rename
  barrier(comm);
  on_root(comm, [&] {
    const std::string d = fs::path(final_path).parent_path().string();
    fsync_path(tmp_path, false);
    fsync_path(d.empty() ? "." : d, true);
    std::error_code ec;
    fs::rename(tmp_path, final_path, ec);
    if (ec) throw Error(tmp_path + ": cannot rename to " + final_path + ": " + ec.message());
    fsync_path(d.empty() ? "." : d, true);
    // retention: newest keep_last complete checkpoints; stale temporaries go
    std::vector<std::pair<int64_t, fs::path>> done;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      if (is_stale_tmp(name)) {
        fs::remove(e.path(), ec);
        continue;
      }
      int64_t s = checkpoint_step(name);
      if (s >= 0) done.emplace_back(s, e.path());
    }
    if (keep_last > 0 && done.size() > static_cast<size_t>(keep_last)) {
      std::sort(done.begin(), done.end());
      for (size_t i = 0; i + keep_last < done.size(); ++i) fs::remove(done[i].second, ec);
    }
  });
  barrier(comm);
  return final_path;
}

template <class S>
TrainingState read_checkpoint(const std::string& file, const std::vector<ParamInfo>& infos,
                              const std::vector<TensorGroupIn<S>>& groups, MPI_Comm comm) {
  h5::File f = h5::File::open_read(file, comm);
  TrainingState st = read_state(f);
  for (const auto& info : infos) check_info(info, file);
  for (const auto& g : groups) {
    require(g.host_data != nullptr || infos.empty(), file + ": tensor group '" + g.prefix + "' has no buffer");
    for (const auto& info : infos) {
      const std::string obj = dataset_name(g.prefix, info.name);
      if (!f.is_dataset(obj)) throw Error(file + ": " + obj + " is missing (the model expects shape " +
                                          shape_str(info.full_shape) + ")");
      h5::Handle d = f.open_dataset(obj);
      h5::Handle t = h5::checked(H5Dget_type(d), H5Tclose, file, obj, "cannot read type");
      H5T_class_t cls = H5Tget_class(t);
      if (cls != H5T_FLOAT && cls != H5T_INTEGER)
        throw Error(file + ": " + obj + " has dtype " + h5::type_name(t) + ", not convertible to a float");
      const std::vector<int64_t> shape = f.dataset_shape(obj);
      if (shape != info.full_shape)
        throw Error(file + ": " + obj + " has shape " + shape_str(shape) + " but the model expects " +
                    shape_str(info.full_shape));
      h5::note_if_unverified(f, d);
      h5::read_box(f, d, obj, native_type<S>(), info.local_start, info.local_shape, g.host_data + info.offset, true,
                   false, info.shard_groups);
    }
  }
  return st;
}

TrainingState read_checkpoint_state(const std::string& file, MPI_Comm comm) {
  h5::File f = h5::File::open_read(file, comm);
  return read_state(f);
}

std::string find_latest_checkpoint(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return "";
  int64_t best = -1;
  fs::path best_path;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec)) continue;
    int64_t s = checkpoint_step(e.path().filename().string());
    if (s > best) {
      best = s;
      best_path = e.path();
    }
  }
  return best < 0 ? std::string() : best_path.string();
}

template std::string write_checkpoint<float>(const std::string&, const std::vector<ParamInfo>&,
                                             const std::vector<TensorGroupOut<float>>&, const TrainingState&, int,
                                             MPI_Comm);
template std::string write_checkpoint<double>(const std::string&, const std::vector<ParamInfo>&,
                                              const std::vector<TensorGroupOut<double>>&, const TrainingState&, int,
                                              MPI_Comm);
template TrainingState read_checkpoint<float>(const std::string&, const std::vector<ParamInfo>&,
                                              const std::vector<TensorGroupIn<float>>&, MPI_Comm);
template TrainingState read_checkpoint<double>(const std::string&, const std::vector<ParamInfo>&,
                                               const std::vector<TensorGroupIn<double>>&, MPI_Comm);

}  // namespace tessera
