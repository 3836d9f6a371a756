#include "io/inspect.hpp"
#include "io/task_dataset.hpp"

#include <mpi.h>

#include <functional>

#include "io/checkpoint.hpp"
#include "io/hdf5_file.hpp"
#include "io/token_dataset.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

namespace {

MPI_Comm inspect_comm() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return (init && !fin) ? MPI_COMM_SELF : MPI_COMM_NULL;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
  return o + "]";
}

void inspect_tokens(const std::string& path, MPI_Comm comm, std::ostream& out) {
  TokenDataset d(path, comm);
  const auto& info = d.info();
  out << path << ": Tessera token dataset (format tessera-tokens)\n";
  out << "  tokenizer:  " << info.tokenizer << "\n";
  out << "  vocab_size: " << info.vocab_size << "\n";
  out << "  eot_id:     " << info.eot_id << "\n";
  out << "  splits:\n";
  for (const auto& s : info.splits)
    out << "    " << s << ": " << d.num_tokens(s) << " tokens, " << d.num_documents(s) << " documents\n";
}

void inspect_checkpoint(const std::string& path, MPI_Comm comm, std::ostream& out) {
  TrainingState st = read_checkpoint_state(path, comm);
  h5::File f = h5::File::open_read(path, comm);
  out << path << ": Tessera checkpoint (format tessera-checkpoint, version "
      << f.read_attr_i64("/", "format_version") << ")\n";
  out << "  model_family: " << st.model_family << "\n";
  out << "  step:         " << st.step << "\n";
  out << "  tokens_seen:  " << st.tokens_seen << "\n";
  out << "  seed:         " << st.seed << "\n";
  out << "  data_epoch:   " << st.data_epoch << "\n";
  out << "  data_cursor:  " << st.data_cursor << "\n";
  for (const auto& [k, v] : st.scalars) out << "  scalar " << k << " = " << v << "\n";
  out << "  config:       " << st.config_toml.size() << " bytes of TOML\n";
  out << "  tensors:\n";
  int64_t params = 0, tensors = 0;
  std::function<void(const std::string&)> walk = [&](const std::string& group) {
    for (const std::string& name : f.list(group)) {
      const std::string obj = (group == "/" ? "" : group) + "/" + name;
      if (obj == "/run") continue;
      if (f.is_group(obj)) {
        walk(obj);
      } else if (f.is_dataset(obj)) {
        h5::Handle d = f.open_dataset(obj);
        h5::Handle t = h5::checked(H5Dget_type(d), H5Tclose, path, obj, "cannot read type");
        auto shape = f.dataset_shape(obj);
        out << "    " << obj << "  " << shape_str(shape) << "  " << h5::type_name(t) << "\n";
        ++tensors;
        if (obj.rfind("/params/", 0) == 0) params += product(shape);
      }
    }
  };
  walk("/");
  out << "  " << tensors << " tensors; parameters (/params): " << params << "\n";
}

}  // namespace

int inspect_file(const std::string& path, std::ostream& out) {
  MPI_Comm comm = inspect_comm();
  std::string format;
  {
    h5::File f = h5::File::open_read(path, comm);
    if (!f.has_attr("/", "format")) throw Error(path + ": not a Tessera file (no 'format' attribute on /)");
    format = f.read_attr_string("/", "format");
  }
  if (format == kTokenFormat) {
    inspect_tokens(path, comm, out);
  } else if (format == kCheckpointFormat) {
    inspect_checkpoint(path, comm, out);
  } else if (format == kTaskFormat) {
    TaskDataset d(path, comm);
    const TaskDatasetInfo& i = d.info();
    out << path << ": Tessera task dataset (" << i.task << ")\n  tokenizer " << i.tokenizer << ", vocab_size "
        << i.vocab_size << ", max_len " << i.max_len << ", " << i.label_names.size() << " labels\n";
    for (const auto& split : i.splits) out << "  " << split << ": " << d.num_rows(split) << " rows\n";
  } else {
    throw Error(path + ": unknown Tessera format '" + format + "'");
  }
  return 0;
}

}  // namespace tessera
