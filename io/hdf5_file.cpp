#include "io/hdf5_file.hpp"
#include <cerrno>
#include <sys/statvfs.h>
#include <atomic>

#include <algorithm>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

namespace tessera::h5 {

int comm_rank(MPI_Comm comm) {
  int r = 0;
  if (comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &r);
  return r;
}

int comm_size(MPI_Comm comm) {
  int n = 1;
  if (comm != MPI_COMM_NULL) MPI_Comm_size(comm, &n);
  return n;
}

std::vector<std::string> ordered_splits(std::vector<std::string> names) {
  static const char* canon[] = {"train", "validation", "test"};
  std::vector<std::string> out;
  for (const char* c : canon) {
    auto it = std::find(names.begin(), names.end(), c);
    if (it != names.end()) {
      out.push_back(*it);
      names.erase(it);
    }
  }
  std::sort(names.begin(), names.end());
  out.insert(out.end(), names.begin(), names.end());
  return out;
}

namespace {
std::atomic<bool> g_close_failed{false};
}
bool close_failed() { return g_close_failed.load(); }
void note_close_failure() { g_close_failed.store(true); }

void commit_file(const std::string& tmp, const std::string& path, MPI_Comm comm) {
  if (comm != MPI_COMM_NULL) MPI_Barrier(comm);
  std::string err;
  if (comm_rank(comm) == 0 && std::rename(tmp.c_str(), path.c_str()) != 0)
    err = tmp + ": cannot rename to " + path + ": " + std::strerror(errno);
  int bad = err.empty() ? 0 : 1;
  if (comm != MPI_COMM_NULL) MPI_Bcast(&bad, 1, MPI_INT, 0, comm);
  if (bad) throw Error(err.empty() ? path + ": rank 0 could not rename the finished file into place" : err);
}

void remove_partial(const std::string& tmp, MPI_Comm comm) {
  if (comm_rank(comm) == 0) std::remove(tmp.c_str());
}

std::string space_hint(const std::string& file) {
  std::string dir = file;
  const auto slash = dir.rfind('/');
  dir = slash == std::string::npos ? std::string(".") : (slash == 0 ? std::string("/") : dir.substr(0, slash));
  struct statvfs v {};
  if (::statvfs(dir.c_str(), &v) != 0) return "";
  if (v.f_flag & ST_RDONLY) return std::string(": ") + std::strerror(EROFS) + " (" + dir + ")";
  const double free = double(v.f_bavail) * double(v.f_frsize);
  if (free < 256.0 * 1024) {
    char b[32];
    std::snprintf(b, sizeof b, "%.0f KiB", free / 1024);
    return std::string(": ") + std::strerror(ENOSPC) + " (" + dir + " has " + b + " free)";
  }
  return "";
}

bool multi_rank_job() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return false;
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size > 1;
}


void silence_errors() {
  static bool done = false;
  if (!done) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    done = true;
  }
}

void check_signature(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": no such file");
  static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  unsigned char buf[8] = {0};
  f.read(reinterpret_cast<char*>(buf), 8);
  if (f.gcount() != 8 || std::memcmp(buf, sig, 8) != 0) throw Error(path + ": not an HDF5 file");
}

static std::string where(const std::string& file, const std::string& object) {
  return object.empty() ? file : file + ": " + object;
}

Handle checked(hid_t id, Handle::Closer closer, const std::string& file, const std::string& object,
               const std::string& what) {
  if (id < 0) throw Error(where(file, object) + ": " + what + space_hint(file));
  return Handle(id, closer);
}

void check(herr_t rc, const std::string& file, const std::string& object, const std::string& what) {
  if (rc < 0) throw Error(where(file, object) + ": " + what + space_hint(file));
}

static bool mpi_up() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}

Handle file_access_plist(MPI_Comm comm, const std::string& file) {
  silence_errors();
  Handle p = checked(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, file, "", "cannot create file access property list");
  if (comm != MPI_COMM_NULL) {
    if (!mpi_up()) throw Error(file + ": MPI is not initialised (needed by the MPI-IO driver)");
    check(H5Pset_fapl_mpio(p, comm, MPI_INFO_NULL), file, "", "cannot select the MPI-IO driver");
  }
  return p;
}

Handle transfer_plist(bool collective, MPI_Comm comm, const std::string& file) {
  Handle p = checked(H5Pcreate(H5P_DATASET_XFER), H5Pclose, file, "", "cannot create transfer property list");
  if (comm != MPI_COMM_NULL)
    check(H5Pset_dxpl_mpio(p, collective ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT), file, "",
          "cannot set MPI-IO transfer mode");
  return p;
}

File File::open_read(const std::string& path, MPI_Comm comm) {
  silence_errors();
  check_signature(path);
  Handle fapl = file_access_plist(comm, path);
  File f;
  f.path_ = path;
  f.comm_ = comm;
  f.handle_ = checked(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl), H5Fclose, path, "",
                      "cannot open (not an HDF5 file, truncated or corrupt)");
  return f;
}

File File::open_write(const std::string& path, MPI_Comm comm) {
  silence_errors();
  check_signature(path);
  Handle fapl = file_access_plist(comm, path);
  File f;
  f.path_ = path;
  f.comm_ = comm;
  f.handle_ = checked(H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl), H5Fclose, path, "", "cannot open for writing");
  return f;
}

File File::create(const std::string& path, MPI_Comm comm) {
  silence_errors();
  Handle fapl = file_access_plist(comm, path);
  File f;
  f.path_ = path;
  f.comm_ = comm;
  f.handle_ = checked(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), H5Fclose, path, "",
                      "cannot create file");
  return f;
}

void File::flush() { check(H5Fflush(handle_, H5F_SCOPE_GLOBAL), path_, "", "flush failed"); }

void File::close() {
  if (handle_.valid()) check(handle_.close(), path_, "", "close failed");
}

void File::fail(const std::string& object, const std::string& what) const {
  throw Error(where(path_, object) + ": " + what);
}

bool File::exists(const std::string& obj) const {
  if (obj == "/" || obj.empty()) return true;
  std::string partial;
  std::stringstream ss(obj);
  std::string part;
  while (std::getline(ss, part, '/')) {
    if (part.empty()) continue;
    partial += "/" + part;
    if (H5Lexists(handle_, partial.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return true;
}

static H5O_type_t object_type(hid_t file, const std::string& obj) {
  H5O_info_t info;
  if (H5Oget_info_by_name(file, obj.c_str(), &info, H5P_DEFAULT) < 0) return H5O_TYPE_UNKNOWN;
  return info.type;
}

bool File::is_group(const std::string& obj) const { return exists(obj) && object_type(handle_, obj) == H5O_TYPE_GROUP; }
bool File::is_dataset(const std::string& obj) const {
  return exists(obj) && object_type(handle_, obj) == H5O_TYPE_DATASET;
}

Handle File::open_group(const std::string& obj) const {
  if (!is_group(obj)) fail(obj, "group not found");
  return checked(H5Gopen2(handle_, obj.c_str(), H5P_DEFAULT), H5Gclose, path_, obj, "cannot open group");
}

static Handle intermediate_lcpl(const std::string& file) {
  Handle lcpl = checked(H5Pcreate(H5P_LINK_CREATE), H5Pclose, file, "", "cannot create link property list");
  check(H5Pset_create_intermediate_group(lcpl, 1), file, "", "cannot set intermediate group creation");
  return lcpl;
}

Handle File::create_group(const std::string& obj) const {
  Handle lcpl = intermediate_lcpl(path_);
  return checked(H5Gcreate2(handle_, obj.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, path_, obj,
                 "cannot create group");
}

Handle File::open_dataset(const std::string& obj) const {
  if (!is_dataset(obj)) fail(obj, "dataset not found");
  return checked(H5Dopen2(handle_, obj.c_str(), H5P_DEFAULT), H5Dclose, path_, obj, "cannot open dataset");
}

Handle File::create_dataset(const std::string& obj, hid_t type, const std::vector<int64_t>& shape,
                            const std::vector<int64_t>& chunk) const {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle space = checked(shape.empty() ? H5Screate(H5S_SCALAR)
                                       : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                         H5Sclose, path_, obj, "cannot create dataspace");
  Handle dcpl = checked(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, path_, obj, "cannot create property list");
  bool nonempty = std::all_of(shape.begin(), shape.end(), [](int64_t d) { return d > 0; });
  if (nonempty && !shape.empty()) {
    const std::vector<int64_t> want = chunk.empty() ? default_chunk(shape) : chunk;
    std::vector<hsize_t> c(shape.size());
    for (size_t i = 0; i < shape.size(); ++i)
      c[i] = static_cast<hsize_t>(std::max<int64_t>(1, std::min(want.at(i), shape[i])));
    check(H5Pset_chunk(dcpl, static_cast<int>(c.size()), c.data()), path_, obj, "cannot set chunking");
    check(H5Pset_fletcher32(dcpl), path_, obj, "cannot add the Fletcher-32 checksum filter");
  } else {
    check(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER), path_, obj, "cannot set fill time");
  }
  Handle lcpl = intermediate_lcpl(path_);
  return checked(H5Dcreate2(handle_, obj.c_str(), type, space, lcpl, dcpl, H5P_DEFAULT), H5Dclose, path_, obj,
                 "cannot create dataset");
}

std::vector<int64_t> File::dataset_shape(const std::string& obj) const {
  Handle d = open_dataset(obj);
  Handle space = checked(H5Dget_space(d), H5Sclose, path_, obj, "cannot get dataspace");
  int nd = H5Sget_simple_extent_ndims(space);
  if (nd < 0) fail(obj, "cannot read dataspace rank");
  std::vector<hsize_t> dims(static_cast<size_t>(nd));
  if (nd > 0 && H5Sget_simple_extent_dims(space, dims.data(), nullptr) < 0) fail(obj, "cannot read dataspace");
  return std::vector<int64_t>(dims.begin(), dims.end());
}

static herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

std::vector<std::string> File::list(const std::string& group) const {
  Handle g = open_group(group);
  std::vector<std::string> names;
  hsize_t idx = 0;
  check(H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, &names), path_, group,
        "cannot list group");
  return names;
}

// ---- attributes
static Handle open_object(const File& f, const std::string& obj) {
  if (!f.exists(obj)) f.fail(obj, "object not found");
  return checked(H5Oopen(f.id(), obj.c_str(), H5P_DEFAULT), H5Oclose, f.path(), obj, "cannot open object");
}

static std::string attr_where(const std::string& obj, const std::string& name) {
  return (obj == "/" ? std::string("/") : obj + "/") + "@" + name;
}

bool File::has_attr(const std::string& obj, const std::string& name) const {
  if (!exists(obj)) return false;
  return H5Aexists_by_name(handle_, obj.c_str(), name.c_str(), H5P_DEFAULT) > 0;
}

template <class T>
static void write_attr_scalar(const File& f, const std::string& obj, const std::string& name, hid_t type,
                              const T& value) {
  Handle o = open_object(f, obj);
  std::string w = attr_where(obj, name);
  if (H5Aexists(o, name.c_str()) > 0) check(H5Adelete(o, name.c_str()), f.path(), w, "cannot replace attribute");
  Handle space = checked(H5Screate(H5S_SCALAR), H5Sclose, f.path(), w, "cannot create dataspace");
  Handle a = checked(H5Acreate2(o, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose, f.path(), w,
                     "cannot create attribute");
  check(H5Awrite(a, type, &value), f.path(), w, "cannot write attribute");
}

static Handle string_type(size_t len, const std::string& file, const std::string& obj) {
  Handle t = checked(H5Tcopy(H5T_C_S1), H5Tclose, file, obj, "cannot create string type");
  check(H5Tset_size(t, std::max<size_t>(1, len)), file, obj, "cannot size string type");
  check(H5Tset_strpad(t, H5T_STR_NULLPAD), file, obj, "cannot set string padding");
  return t;
}

void File::write_attr_string(const std::string& obj, const std::string& name, const std::string& value) const {
  Handle o = open_object(*this, obj);
  std::string w = attr_where(obj, name);
  if (H5Aexists(o, name.c_str()) > 0) check(H5Adelete(o, name.c_str()), path_, w, "cannot replace attribute");
  Handle t = string_type(value.size(), path_, w);
  Handle space = checked(H5Screate(H5S_SCALAR), H5Sclose, path_, w, "cannot create dataspace");
  Handle a = checked(H5Acreate2(o, name.c_str(), t, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose, path_, w,
                     "cannot create attribute");
  std::string buf = value.empty() ? std::string(1, '\0') : value;
  check(H5Awrite(a, t, buf.data()), path_, w, "cannot write attribute");
}

void File::write_attr_i64(const std::string& obj, const std::string& name, int64_t value) const {
  write_attr_scalar(*this, obj, name, H5T_NATIVE_INT64, value);
}
void File::write_attr_u64(const std::string& obj, const std::string& name, uint64_t value) const {
  write_attr_scalar(*this, obj, name, H5T_NATIVE_UINT64, value);
}
void File::write_attr_f64(const std::string& obj, const std::string& name, double value) const {
  write_attr_scalar(*this, obj, name, H5T_NATIVE_DOUBLE, value);
}

static Handle open_attr(const File& f, const std::string& obj, const std::string& name) {
  if (!f.has_attr(obj, name)) f.fail(attr_where(obj, name), "attribute missing");
  return checked(H5Aopen_by_name(f.id(), obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose, f.path(),
                 attr_where(obj, name), "cannot open attribute");
}

template <class T>
static T read_attr_scalar(const File& f, const std::string& obj, const std::string& name, hid_t memtype,
                          bool allow_float) {
  Handle a = open_attr(f, obj, name);
  std::string w = attr_where(obj, name);
  Handle t = checked(H5Aget_type(a), H5Tclose, f.path(), w, "cannot read attribute type");
  H5T_class_t cls = H5Tget_class(t);
  if (!(cls == H5T_INTEGER || (allow_float && cls == H5T_FLOAT)))
    f.fail(w, "has type " + type_name(t) + ", expected a number");
  Handle space = checked(H5Aget_space(a), H5Sclose, f.path(), w, "cannot read attribute dataspace");
  if (H5Sget_simple_extent_npoints(space) != 1) f.fail(w, "expected a scalar attribute");
  T v{};
  check(H5Aread(a, memtype, &v), f.path(), w, "cannot read attribute (value out of range?)");
  return v;
}

int64_t File::read_attr_i64(const std::string& obj, const std::string& name) const {
  return read_attr_scalar<int64_t>(*this, obj, name, H5T_NATIVE_INT64, false);
}
uint64_t File::read_attr_u64(const std::string& obj, const std::string& name) const {
  return read_attr_scalar<uint64_t>(*this, obj, name, H5T_NATIVE_UINT64, false);
}
double File::read_attr_f64(const std::string& obj, const std::string& name) const {
  return read_attr_scalar<double>(*this, obj, name, H5T_NATIVE_DOUBLE, true);
}

std::string read_string(hid_t obj, bool is_attr, const std::string& file, const std::string& object) {
  Handle t = checked(is_attr ? H5Aget_type(obj) : H5Dget_type(obj), H5Tclose, file, object, "cannot read type");
  if (H5Tget_class(t) != H5T_STRING) throw Error(file + ": " + object + ": has type " + type_name(t) + ", expected a string");
  Handle space = checked(is_attr ? H5Aget_space(obj) : H5Dget_space(obj), H5Sclose, file, object,
                         "cannot read dataspace");
  if (H5Sget_simple_extent_npoints(space) != 1) throw Error(file + ": " + object + ": expected a single string");
  if (H5Tis_variable_str(t) > 0) {
    Handle mt = checked(H5Tcopy(H5T_C_S1), H5Tclose, file, object, "cannot create string type");
    check(H5Tset_size(mt, H5T_VARIABLE), file, object, "cannot size string type");
    char* p = nullptr;
    check(is_attr ? H5Aread(obj, mt, &p) : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p), file, object,
          "cannot read string");
    std::string s = p ? std::string(p) : std::string();
    if (p) H5free_memory(p);
    return s;
  }
  size_t n = H5Tget_size(t);
  Handle mt = checked(H5Tcopy(H5T_C_S1), H5Tclose, file, object, "cannot create string type");
  check(H5Tset_size(mt, n), file, object, "cannot size string type");
  check(H5Tset_strpad(mt, H5T_STR_NULLPAD), file, object, "cannot set string padding");
  std::string buf(n, '\0');
  check(is_attr ? H5Aread(obj, mt, buf.data()) : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), file,
        object, "cannot read string");
  size_t end = buf.find('\0');
  if (end != std::string::npos) buf.resize(end);
  return buf;
}

std::string File::read_attr_string(const std::string& obj, const std::string& name) const {
  Handle a = open_attr(*this, obj, name);
  return read_string(a, true, path_, attr_where(obj, name));
}

static herr_t collect_attr(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

std::vector<std::string> File::attr_names(const std::string& obj) const {
  Handle o = open_object(*this, obj);
  std::vector<std::string> names;
  hsize_t idx = 0;
  check(H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr, &names), path_, obj,
        "cannot list attributes");
  return names;
}

void File::write_string_dataset(const std::string& obj, const std::string& value) const {
  Handle t = string_type(value.size(), path_, obj);
  Handle d = create_dataset(obj, t, {});
  std::string buf = value.empty() ? std::string(1, '\0') : value;
  // Every rank writes the same bytes (collective metadata, identical data).
  Handle xfer = transfer_plist(true, comm_, path_);
  check(H5Dwrite(d, t, H5S_ALL, H5S_ALL, xfer, buf.data()), path_, obj, "cannot write string");
}

std::string File::read_string_dataset(const std::string& obj) const {
  Handle d = open_dataset(obj);
  return read_string(d, false, path_, obj);
}

static void transfer_box(const File& f, hid_t dset, const std::string& object, hid_t memtype,
                         const std::vector<int64_t>& start, const std::vector<int64_t>& count, const void* wbuf,
                         void* rbuf, bool participate, bool collective, bool is_write, int groups) {
  const std::string& path = f.path();
  Handle fspace = checked(H5Dget_space(dset), H5Sclose, path, object, "cannot get dataspace");
  int nd = H5Sget_simple_extent_ndims(fspace);
  if (nd < 0 || static_cast<size_t>(nd) != start.size() || start.size() != count.size())
    throw Error(path + ": " + object + ": rank mismatch between dataset and selection");
  Handle mspace;
  int64_t npoints = 1;
  for (int64_t c : count) npoints *= c;
  if (nd == 0) {
    mspace = checked(H5Screate(H5S_SCALAR), H5Sclose, path, object, "cannot create dataspace");
    if (!participate) {
      check(H5Sselect_none(fspace), path, object, "cannot select");
      check(H5Sselect_none(mspace), path, object, "cannot select");
    }
  } else {
    std::vector<hsize_t> st(start.begin(), start.end()), ct(count.begin(), count.end());
    std::vector<hsize_t> mdims(ct);
    for (auto& d : mdims) d = std::max<hsize_t>(d, 1);
    mspace = checked(H5Screate_simple(nd, mdims.data(), nullptr), H5Sclose, path, object, "cannot create dataspace");
    if (!participate || npoints == 0) {
      check(H5Sselect_none(fspace), path, object, "cannot select");
      check(H5Sselect_none(mspace), path, object, "cannot select");
    } else {
      if (groups <= 1) {
        check(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, st.data(), nullptr, ct.data(), nullptr), path, object,
              "cannot select hyperslab (out of range?)");
      } else {
        // dim 0 is `groups` equal blocks (e.g. q|k|v); the same sub-range of each block.
        std::vector<hsize_t> fdims(nd);
        H5Sget_simple_extent_dims(fspace, fdims.data(), nullptr);
        if (fdims[0] % groups != 0 || ct[0] % groups != 0)
          throw Error(path + ": " + object + ": dimension 0 does not split into " + std::to_string(groups) + " blocks");
        const hsize_t block = fdims[0] / groups;
        std::vector<hsize_t> bst(st), bct(ct);
        bct[0] = ct[0] / groups;
        for (int k = 0; k < groups; ++k) {
          bst[0] = st[0] + hsize_t(k) * block;
          check(H5Sselect_hyperslab(fspace, k == 0 ? H5S_SELECT_SET : H5S_SELECT_OR, bst.data(), nullptr, bct.data(),
                                    nullptr),
                path, object, "cannot select hyperslab (out of range?)");
        }
      }
      if (H5Sselect_valid(fspace) <= 0) throw Error(path + ": " + object + ": selection outside the dataset");
    }
  }
  Handle xfer = transfer_plist(collective, f.comm(), path);
  static char dummy[16];
  if (is_write) {
    check(H5Dwrite(dset, memtype, mspace, fspace, xfer, participate && npoints ? wbuf : dummy), path, object,
          "write failed");
  } else {
    if (H5Dread(dset, memtype, mspace, fspace, xfer, participate && npoints ? rbuf : dummy) < 0) {
      const std::string bad = find_bad_chunk(f, dset, object);
      throw Error(path + ": " + object + ": read failed" +
                  (bad.empty() ? std::string(" (file truncated or corrupt?)") : ": " + bad));
    }
  }
}

void write_box(const File& f, hid_t dset, const std::string& object, hid_t memtype, const std::vector<int64_t>& start,
               const std::vector<int64_t>& count, const void* buf, bool participate, bool collective, int groups) {
  transfer_box(f, dset, object, memtype, start, count, buf, nullptr, participate, collective, true, groups);
}

void read_box(const File& f, hid_t dset, const std::string& object, hid_t memtype, const std::vector<int64_t>& start,
              const std::vector<int64_t>& count, void* buf, bool participate, bool collective, int groups) {
  transfer_box(f, dset, object, memtype, start, count, nullptr, buf, participate, collective, false, groups);
}

std::vector<int64_t> default_chunk(const std::vector<int64_t>& shape) {
  constexpr int64_t kChunkElements = int64_t(1) << 20;
  std::vector<int64_t> c(shape);
  int64_t row = 1;
  for (size_t i = 1; i < shape.size(); ++i) row *= std::max<int64_t>(1, shape[i]);
  if (!c.empty()) c[0] = std::max<int64_t>(1, std::min<int64_t>(shape[0], kChunkElements / std::max<int64_t>(1, row)));
  return c;
}

bool has_checksum(hid_t dset) {
  hid_t dcpl = H5Dget_create_plist(dset);
  if (dcpl < 0) return false;
  unsigned flags = 0;
  size_t nelmts = 0;
  unsigned config = 0;
  const bool yes = H5Pget_filter_by_id2(dcpl, H5Z_FILTER_FLETCHER32, &flags, &nelmts, nullptr, 0, nullptr, &config) >= 0;
  H5Pclose(dcpl);
  H5Eclear2(H5E_DEFAULT);
  return yes;
}

void note_if_unverified(const File& f, hid_t dset) {
  static std::set<std::string> noted;
  if (has_checksum(dset) || !noted.insert(f.path()).second) return;
  if (comm_rank(f.comm()) != 0) return;
  int world = 0, init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (init && !fin) MPI_Comm_rank(MPI_COMM_WORLD, &world);
  if (world != 0 && f.comm() == MPI_COMM_SELF) return;
  std::fprintf(stderr, "tessera: note: %s: no checksums (written before Tessera checksummed its files); read unverified\n",
               f.path().c_str());
}

static herr_t find_checksum_message(unsigned, const H5E_error2_t* e, void* data) {
  if (e->desc && std::strstr(e->desc, "Fletcher32")) *static_cast<bool*>(data) = true;
  return 0;
}

std::string find_bad_chunk(const File& f, hid_t dset, const std::string& object) {
  bool checksum_error = false;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, find_checksum_message, &checksum_error);
  Handle dcpl = checked(H5Dget_create_plist(dset), H5Pclose, f.path(), object, "cannot read creation properties");
  if (H5Pget_layout(dcpl) != H5D_CHUNKED) return "";
  Handle fspace = checked(H5Dget_space(dset), H5Sclose, f.path(), object, "cannot get dataspace");
  const int nd = H5Sget_simple_extent_ndims(fspace);
  if (nd <= 0) return "";
  std::vector<hsize_t> dims(nd), cdims(nd);
  H5Sget_simple_extent_dims(fspace, dims.data(), nullptr);
  if (H5Pget_chunk(dcpl, nd, cdims.data()) < 0) return "";
  std::vector<hsize_t> nchunks(nd);
  hsize_t total = 1, celems = 1;
  for (int i = 0; i < nd; ++i) {
    nchunks[i] = (dims[i] + cdims[i] - 1) / std::max<hsize_t>(1, cdims[i]);
    total *= nchunks[i];
    celems *= cdims[i];
  }
  Handle type = checked(H5Dget_type(dset), H5Tclose, f.path(), object, "cannot read type");
  std::vector<unsigned char> buf(celems * H5Tget_size(type));
  for (hsize_t k = 0; k < total; ++k) {
    std::vector<hsize_t> st(nd), ct(nd);
    hsize_t rest = k;
    for (int i = nd - 1; i >= 0; --i) {
      st[i] = (rest % nchunks[i]) * cdims[i];
      rest /= nchunks[i];
      ct[i] = std::min(cdims[i], dims[i] - st[i]);
    }
    Handle fs = checked(H5Scopy(fspace), H5Sclose, f.path(), object, "cannot copy dataspace");
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, st.data(), nullptr, ct.data(), nullptr);
    Handle ms = checked(H5Screate_simple(nd, ct.data(), nullptr), H5Sclose, f.path(), object, "cannot create dataspace");
    bool chunk_checksum = false;
    if (H5Dread(dset, type, ms, fs, H5P_DEFAULT, buf.data()) < 0) {
      H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, find_checksum_message, &chunk_checksum);
      std::string off = "[";
      for (int i = 0; i < nd; ++i) off += (i ? ", " : "") + std::to_string(st[i]);
      return "chunk " + std::to_string(k) + " of " + std::to_string(total) + " (offset " + off + "]): " +
             (chunk_checksum || checksum_error ? "Fletcher-32 checksum mismatch, the data is corrupt"
                                               : "unreadable (truncated or corrupt)");
    }
  }
  return checksum_error ? "Fletcher-32 checksum mismatch" : "";
}

std::string type_name(hid_t type) {
  switch (H5Tget_class(type)) {
    case H5T_INTEGER: {
      size_t bits = H5Tget_size(type) * 8;
      return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
    }
    case H5T_FLOAT: return "float" + std::to_string(H5Tget_size(type) * 8);
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "vlen";
    default: return "unknown";
  }
}

}  // namespace tessera::h5
