#include "io/checkpoint_verify.hpp"

#include <functional>

#include "io/checkpoint.hpp"
#include "io/hdf5_file.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

FileVerification verify_file_data(const std::string& path) {
  FileVerification v;
  h5::File f = h5::File::open_read(path, MPI_COMM_NULL);
  std::function<void(const std::string&)> walk = [&](const std::string& group) {
    for (const std::string& name : f.list(group)) {
      const std::string obj = (group == "/" ? "" : group) + "/" + name;
      if (f.is_group(obj)) {
        walk(obj);
        continue;
      }
      if (!f.is_dataset(obj) || f.dataset_shape(obj).empty()) continue;  // scalars (/run/config) carry no chunks
      h5::Handle d = f.open_dataset(obj);
      ++v.datasets;
      if (!h5::has_checksum(d)) ++v.unverified;
      const std::string bad = h5::find_bad_chunk(f, d, obj);
      if (!bad.empty()) v.problems.push_back(path + ": " + obj + ": " + bad);
    }
  };
  try {
    walk("/");
  } catch (const std::exception& e) {  // a damaged group or object header
    v.problems.push_back(e.what());
  }
  return v;
}

std::vector<std::string> missing_resume_state(const std::string& path) {
  h5::File f = h5::File::open_read(path, MPI_COMM_NULL);
  std::vector<std::string> missing;
  for (const char* a : {"step", "tokens_seen", "seed", "data_epoch", "data_cursor"})
    if (!f.has_attr("/", a)) missing.push_back(std::string("/@") + a);
  for (const char* g : {"/params", "/optimizer/exp_avg", "/optimizer/exp_avg_sq"})
    if (!f.is_group(g) || f.list(g).empty()) missing.push_back(g);
  if (!f.is_group("/run/scalars")) {
    missing.push_back("/run/scalars");
  } else {
    for (const char* k : {"best_value", "best_step", "has_best", "bad_evaluations", "evaluations", "greater_is_better"})
      if (!f.has_attr("/run/scalars", k)) missing.push_back(std::string("/run/scalars/@") + k);
  }
  return missing;
}

std::string resume_problem(const std::string& path) {
  try {
    read_checkpoint_state(path, MPI_COMM_NULL);
    const std::vector<std::string> missing = missing_resume_state(path);
    if (!missing.empty()) {
      std::string names;
      for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
      return path + ": missing what --resume needs: " + names + " (init_from reads /params only)";
    }
    const FileVerification v = verify_file_data(path);
    if (!v.problems.empty()) return v.problems.front();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

int print_verification(const std::string& path, std::ostream& out) {
  const FileVerification v = verify_file_data(path);
  for (const auto& p : v.problems) out << "CORRUPT " << p << "\n";
  out << path << ": " << v.datasets << " datasets read, " << (v.datasets - v.unverified) << " checksummed";
  if (v.unverified > 0) out << ", " << v.unverified << " unverified (written before checksums)";
  out << "; " << (v.problems.empty() ? "OK" : std::to_string(v.problems.size()) + " corrupt") << "\n";
  return v.problems.empty() ? 0 : 1;
}

}  // namespace tessera
