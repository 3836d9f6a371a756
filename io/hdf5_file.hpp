// Small RAII layer over the HDF5 C API for Tessera's files (token datasets,
// checkpoints). Files are opened through the MPI-IO driver on a communicator
// (MPI_COMM_NULL = plain POSIX driver, for tools that run without MPI). Every
// HDF5 failure becomes a tessera::Error naming the file and the object; HDF5's
// own error-stack printing is silenced.
#pragma once
#include <exception>
#include <hdf5.h>
#include <mpi.h>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>
#include "src/runtime/error.hpp"

namespace tessera::h5 {

// Turns off HDF5's automatic error-stack printing (idempotent).
void silence_errors();

// Throws Error("<path>: no such file") / ("<path>: not an HDF5 file") unless the
// file exists and starts with the HDF5 signature at offset 0.
void check_signature(const std::string& path);

// Owns one hid_t and closes it with the matching H5*close.
// True when MPI is initialised with more than one rank in MPI_COMM_WORLD.
bool multi_rank_job();
// True once an H5*close failed (e.g. a file's final flush on a full disk): HDF5
// then still lists the half-closed file and crashes closing it again in
// MPI_Finalize, so main() skips MPI_Finalize after an error when this is set.
bool close_failed();
void note_close_failure();

// Atomic output files (datasets): write to `tmp`, then commit_file renames it to
// `path` on rank 0 (between barriers); remove_partial drops a failed `tmp` so no
// partial file is ever found at `path`.
void commit_file(const std::string& tmp, const std::string& path, MPI_Comm comm);
void remove_partial(const std::string& tmp, MPI_Comm comm);
// ": No space left on device (DIR has X free)" / ": Read-only file system" when
// the file system of `file` is full or read-only now; "" otherwise.
std::string space_hint(const std::string& file);
// Rank and size of comm; MPI_COMM_NULL (plain POSIX files) counts as one rank 0.
int comm_rank(MPI_Comm comm);
int comm_size(MPI_Comm comm);
// Split names in the order train, validation, test, then the others sorted.
std::vector<std::string> ordered_splits(std::vector<std::string> names);

class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), closer_(o.closer_) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      closer_ = o.closer_;
    }
    return *this;
  }
  // While an exception unwinds in a multi-rank job, closing may be collective
  // (H5Fclose through MPI-IO) and would wait for ranks that never arrive; the
  // handle is leaked instead and the error reaches main(), which aborts the job.
  ~Handle() {
    if (std::uncaught_exceptions() > 0 && multi_rank_job()) return;
    reset();
  }
  hid_t id() const { return id_; }
  operator hid_t() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset() {
    if (id_ >= 0 && closer_ && closer_(id_) < 0) note_close_failure();
    id_ = H5I_INVALID_HID;
  }
  // Closes now and reports failure (destructors ignore it).
  herr_t close() {
    herr_t rc = 0;
    if (id_ >= 0 && closer_) rc = closer_(id_);
    id_ = H5I_INVALID_HID;
    return rc;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

// Checks an hid_t returned by HDF5; throws "<file>: <object>: <what>" when negative.
Handle checked(hid_t id, Handle::Closer closer, const std::string& file, const std::string& object,
               const std::string& what);
// Throws "<file>: <object>: <what>" when rc < 0.
void check(herr_t rc, const std::string& file, const std::string& object, const std::string& what);

// Property lists.
Handle file_access_plist(MPI_Comm comm, const std::string& file);
// Dataset transfer list: collective (H5FD_MPIO_COLLECTIVE) or independent; plain default when comm is NULL.
Handle transfer_plist(bool collective, MPI_Comm comm, const std::string& file);

class File {
 public:
  // Opens an existing file read-only (collective over comm). Checks the
  // signature first so a missing / foreign file gives a clear Error.
  static File open_read(const std::string& path, MPI_Comm comm);
  // Opens an existing file read-write (collective over comm), e.g. to add datasets.
  static File open_write(const std::string& path, MPI_Comm comm);
  // Creates (truncates) a file for writing (collective over comm).
  static File create(const std::string& path, MPI_Comm comm);

  File() = default;
  File(File&&) = default;
  File& operator=(File&&) = default;

  hid_t id() const { return handle_.id(); }
  const std::string& path() const { return path_; }
  MPI_Comm comm() const { return comm_; }
  void flush();
  void close();  // closes now; throws on failure

  // ---- objects (paths are absolute, e.g. "/train/tokens")
  bool exists(const std::string& obj) const;  // every component of the path is a link
  bool is_group(const std::string& obj) const;
  bool is_dataset(const std::string& obj) const;
  Handle open_group(const std::string& obj) const;
  Handle create_group(const std::string& obj) const;  // creates missing parents
  Handle open_dataset(const std::string& obj) const;
  // Creates a 1-D or N-D dataset of the given type and shape, missing parents
  // created. Every non-empty array dataset is chunked (chunk, or default_chunk when
  // empty) and carries HDF5's Fletcher-32 checksum filter per chunk, verified by
  // HDF5 on every read (docs/formats.md "Checksums"). Scalars stay contiguous.
  Handle create_dataset(const std::string& obj, hid_t type, const std::vector<int64_t>& shape,
                        const std::vector<int64_t>& chunk = {}) const;
  std::vector<int64_t> dataset_shape(const std::string& obj) const;
  // Names of the links directly inside a group, in name order.
  std::vector<std::string> list(const std::string& group) const;

  // ---- attributes on an object (obj = "/" for the root group)
  bool has_attr(const std::string& obj, const std::string& name) const;
  void write_attr_string(const std::string& obj, const std::string& name, const std::string& value) const;
  void write_attr_i64(const std::string& obj, const std::string& name, int64_t value) const;
  void write_attr_u64(const std::string& obj, const std::string& name, uint64_t value) const;
  void write_attr_f64(const std::string& obj, const std::string& name, double value) const;
  std::string read_attr_string(const std::string& obj, const std::string& name) const;
  int64_t read_attr_i64(const std::string& obj, const std::string& name) const;
  uint64_t read_attr_u64(const std::string& obj, const std::string& name) const;
  double read_attr_f64(const std::string& obj, const std::string& name) const;
  std::vector<std::string> attr_names(const std::string& obj) const;

  // ---- scalar string datasets (e.g. a config file's text)
  void write_string_dataset(const std::string& obj, const std::string& value) const;
  std::string read_string_dataset(const std::string& obj) const;

  // "<file>: <object>: <what>" as an Error.
  [[noreturn]] void fail(const std::string& object, const std::string& what) const;

 private:
  Handle handle_;
  std::string path_;
  MPI_Comm comm_ = MPI_COMM_NULL;
};

// Writes (or reads) the box [start, start+count) of an open dataset from (into)
// a dense row-major buffer of memtype. A rank with participate=false selects
// nothing but still takes part in a collective transfer. 0-D datasets: start
// and count empty. Errors name the file and `object`. groups > 1: dimension 0 of
// the dataset is `groups` equal blocks (e.g. q|k|v of a fused QKV weight) and the
// buffer holds, block after block, rows [start[0], start[0]+count[0]/groups) of each.
void write_box(const File& f, hid_t dset, const std::string& object, hid_t memtype, const std::vector<int64_t>& start,
               const std::vector<int64_t>& count, const void* buf, bool participate, bool collective, int groups = 1);
void read_box(const File& f, hid_t dset, const std::string& object, hid_t memtype, const std::vector<int64_t>& start,
              const std::vector<int64_t>& count, void* buf, bool participate, bool collective, int groups = 1);

// Chunk shape for a checksummed dataset: whole trailing dimensions, rows of dim 0
// up to about 1 MiB of elements (4 MiB of float32) per chunk.
std::vector<int64_t> default_chunk(const std::vector<int64_t>& shape);
// True when the open dataset carries the Fletcher-32 filter.
bool has_checksum(hid_t dset);
// Files written before checksums: prints once per file (on rank 0 of its comm)
// "note: <file>: no checksums (written before Tessera checksummed its files); read unverified"
// when the open dataset has no Fletcher-32 filter.
void note_if_unverified(const File& f, hid_t dset);
// Reads an open chunked dataset chunk by chunk and returns "" when every chunk
// reads, else "chunk K of N (offset [..]): <why>" for the first that does not.
std::string find_bad_chunk(const File& f, hid_t dset, const std::string& object);

// Human-readable name of a dataset's element type ("float32", "int64", "string", ...).
std::string type_name(hid_t type);
// Reads a string from an attribute or dataset whose type is fixed or variable length.
std::string read_string(hid_t obj, bool is_attr, const std::string& file, const std::string& object);

}  // namespace tessera::h5
