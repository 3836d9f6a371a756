#include "io/token_dataset.hpp"

#include <algorithm>

#include "io/hdf5_file.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

namespace {

constexpr int64_t kChunkTokens = int64_t(1) << 20;  // 4 MiB chunks of int32

int comm_rank(MPI_Comm comm) {
  int r = 0;
  if (comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &r);
  return r;
}

void validate_offsets(const std::string& where, const std::vector<int64_t>& off, int64_t ntokens) {
  require(!off.empty(), where + ": doc_offsets is empty (needs ndocs+1 entries)");
  require(off.front() == 0, where + ": doc_offsets must start at 0, starts at " + std::to_string(off.front()));
  require(off.back() == ntokens, where + ": doc_offsets ends at " + std::to_string(off.back()) +
                                     " but the split has " + std::to_string(ntokens) + " tokens");
  for (size_t i = 1; i < off.size(); ++i)
    require(off[i] >= off[i - 1], where + ": doc_offsets decreases at index " + std::to_string(i));
}

}  // namespace

void write_token_dataset(const std::string& path, const TokenDatasetInfo& info,
                         const std::map<std::string, std::vector<int32_t>>& tokens,
                         const std::map<std::string, std::vector<int64_t>>& doc_offsets, MPI_Comm comm) {
  const bool writer = comm_rank(comm) == 0;
  require(info.vocab_size > 0, path + ": vocab_size must be positive");
  require(info.eot_id >= -1 && info.eot_id < info.vocab_size, path + ": eot_id outside [0, vocab_size)");
  require(!tokens.empty(), path + ": no splits to write");
  // Sizes come from rank 0 so every rank creates identical datasets.
  std::vector<int64_t> sizes;
  for (const auto& [name, toks] : tokens) {
    require(!name.empty() && name.find('/') == std::string::npos, path + ": bad split name '" + name + "'");
    auto it = doc_offsets.find(name);
    require(it != doc_offsets.end(), path + ": split '" + name + "' has no doc_offsets");
    if (writer) {
      for (size_t i = 0; i < toks.size(); ++i)
        if (toks[i] < 0 || toks[i] >= info.vocab_size)
          throw Error(path + ": /" + name + "/tokens: token id " + std::to_string(toks[i]) + " at position " +
                      std::to_string(i) + " is outside [0, " + std::to_string(info.vocab_size) + ")");
      validate_offsets(path + ": /" + name, it->second, static_cast<int64_t>(toks.size()));
    }
    sizes.push_back(static_cast<int64_t>(toks.size()));
    sizes.push_back(static_cast<int64_t>(it->second.size()));
  }
  if (comm != MPI_COMM_NULL)
    MPI_Bcast(sizes.data(), static_cast<int>(sizes.size()), MPI_INT64_T, 0, comm);

  // Written as PATH.tmp and renamed when complete: a failure (full disk) leaves no partial PATH.
  const std::string tmp_path = path + ".tmp";
  try {
    h5::File f = h5::File::create(tmp_path, comm);
    f.write_attr_string("/", "format", kTokenFormat);
    f.write_attr_i64("/", "format_version", kTokenFormatVersion);
    f.write_attr_string("/", "tokenizer", info.tokenizer);
    f.write_attr_i64("/", "vocab_size", info.vocab_size);
    {
      // eot_id is an int32 attribute
      h5::Handle root = f.open_group("/");
      h5::Handle space = h5::checked(H5Screate(H5S_SCALAR), H5Sclose, path, "/@eot_id", "cannot create dataspace");
      h5::Handle a = h5::checked(H5Acreate2(root, "eot_id", H5T_NATIVE_INT32, space, H5P_DEFAULT, H5P_DEFAULT),
                                 H5Aclose, path, "/@eot_id", "cannot create attribute");
      h5::check(H5Awrite(a, H5T_NATIVE_INT32, &info.eot_id), path, "/@eot_id", "cannot write attribute");
    }
    size_t k = 0;
    for (const auto& [name, toks] : tokens) {
      const int64_t ntok = sizes[k++], noff = sizes[k++];
      const std::string g = "/" + name;
      f.create_group(g);
      {
        h5::Handle d = f.create_dataset(g + "/tokens", H5T_STD_I32LE, {ntok}, {kChunkTokens});
        h5::write_box(f, d, g + "/tokens", H5T_NATIVE_INT32, {0}, {ntok}, toks.data(), writer, true);
      }
      {
        const auto& off = doc_offsets.at(name);
        h5::Handle d = f.create_dataset(g + "/doc_offsets", H5T_STD_I64LE, {noff});
        h5::write_box(f, d, g + "/doc_offsets", H5T_NATIVE_INT64, {0}, {noff}, off.data(), writer, true);
      }
    }
    f.flush();
    f.close();
  } catch (...) {
    h5::remove_partial(tmp_path, comm);
    throw;
  }
  h5::commit_file(tmp_path, path, comm);
}

TokenDataset::TokenDataset(const std::string& path, MPI_Comm comm) : path_(path) {
  file_ = std::make_unique<h5::File>(h5::File::open_read(path, comm));
  h5::File& f = *file_;
  if (!f.has_attr("/", "format")) f.fail("/", "missing attribute 'format' (not a Tessera token dataset)");
  std::string fmt = f.read_attr_string("/", "format");
  if (fmt != kTokenFormat) f.fail("/@format", "is '" + fmt + "', expected '" + kTokenFormat + "'");
  int64_t version = f.read_attr_i64("/", "format_version");
  if (version < 1 || version > kTokenFormatVersion)
    f.fail("/@format_version", "unsupported version " + std::to_string(version));
  info_.tokenizer = f.read_attr_string("/", "tokenizer");
  info_.vocab_size = f.read_attr_i64("/", "vocab_size");
  if (info_.vocab_size <= 0) f.fail("/@vocab_size", "must be positive");
  int64_t eot = f.read_attr_i64("/", "eot_id");
  if (eot < -1 || eot >= info_.vocab_size) f.fail("/@eot_id", std::to_string(eot) + " is outside [0, vocab_size)");
  info_.eot_id = static_cast<int32_t>(eot);

  std::vector<std::string> names;
  for (const std::string& name : f.list("/")) {
    const std::string g = "/" + name;
    if (!f.is_group(g)) continue;
    if (!f.is_dataset(g + "/tokens")) f.fail(g, "split group has no 'tokens' dataset");
    if (!f.is_dataset(g + "/doc_offsets")) f.fail(g, "split group has no 'doc_offsets' dataset");
    for (const char* ds : {"/tokens", "/doc_offsets"}) {
      h5::Handle d = f.open_dataset(g + ds);
      h5::note_if_unverified(f, d);
      h5::Handle t = h5::checked(H5Dget_type(d), H5Tclose, path, g + ds, "cannot read type");
      if (H5Tget_class(t) != H5T_INTEGER) f.fail(g + ds, "has type " + h5::type_name(t) + ", expected an integer");
    }
    auto tshape = f.dataset_shape(g + "/tokens");
    auto oshape = f.dataset_shape(g + "/doc_offsets");
    if (tshape.size() != 1) f.fail(g + "/tokens", "must be 1-D");
    if (oshape.size() != 1) f.fail(g + "/doc_offsets", "must be 1-D");
    Split s;
    s.num_tokens = tshape[0];
    s.doc_offsets.resize(static_cast<size_t>(oshape[0]));
    {
      h5::Handle d = f.open_dataset(g + "/doc_offsets");
      h5::read_box(f, d, g + "/doc_offsets", H5T_NATIVE_INT64, {0}, {oshape[0]}, s.doc_offsets.data(), true, false);
    }
    validate_offsets(path + ": " + g, s.doc_offsets, s.num_tokens);
    splits_[name] = std::move(s);
    names.push_back(name);
  }
  if (names.empty()) f.fail("/", "no splits (expected groups such as /train with a 'tokens' dataset)");
  info_.splits = h5::ordered_splits(names);
}

TokenDataset::~TokenDataset() = default;
TokenDataset::TokenDataset(TokenDataset&&) noexcept = default;
TokenDataset& TokenDataset::operator=(TokenDataset&&) noexcept = default;

bool TokenDataset::has_split(const std::string& name) const { return splits_.count(name) != 0; }

const TokenDataset::Split& TokenDataset::split(const std::string& name) const {
  auto it = splits_.find(name);
  if (it == splits_.end()) {
    std::string have;
    for (const auto& s : info_.splits) have += (have.empty() ? "" : ", ") + s;
    throw Error(path_ + ": /" + name + ": no such split (have: " + have + ")");
  }
  return it->second;
}

int64_t TokenDataset::num_tokens(const std::string& name) const { return split(name).num_tokens; }
int64_t TokenDataset::num_documents(const std::string& name) const {
  return static_cast<int64_t>(split(name).doc_offsets.size()) - 1;
}
const std::vector<int64_t>& TokenDataset::doc_offsets(const std::string& name) const {
  return split(name).doc_offsets;
}

void TokenDataset::read_tokens(const std::string& name, int64_t start, int64_t count, int32_t* out) const {
  const Split& s = split(name);
  const std::string obj = "/" + name + "/tokens";
  if (start < 0 || count < 0 || start > s.num_tokens || count > s.num_tokens - start)
    throw Error(path_ + ": " + obj + ": read of [" + std::to_string(start) + ", " + std::to_string(start + count) +
                ") is outside the split's " + std::to_string(s.num_tokens) + " tokens");
  if (count == 0) return;
  h5::Handle d = file_->open_dataset(obj);
  h5::read_box(*file_, d, obj, H5T_NATIVE_INT32, {start}, {count}, out, true, false);
  for (int64_t i = 0; i < count; ++i)
    if (out[i] < 0 || out[i] >= info_.vocab_size)
      throw Error(path_ + ": " + obj + ": token id " + std::to_string(out[i]) + " at position " +
                  std::to_string(start + i) + " of split '" + name + "' is outside [0, " +
                  std::to_string(info_.vocab_size) + ")");
}

}  // namespace tessera
