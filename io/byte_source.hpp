// ByteSource: the bytes of an untrusted file, read on demand with pread (so a
// file that shrinks mid-read is an error, not a crash), or of an in-memory image
// (fuzzing, tests). Every read is bounds-checked against the size.
#pragma once
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include "src/runtime/error.hpp"

namespace tessera {

class ByteSource {
 public:
  static std::shared_ptr<ByteSource> file(const std::string& path) {
    auto s = std::shared_ptr<ByteSource>(new ByteSource);
    s->origin_ = path;
    s->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (s->fd_ < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(s->fd_, &st) != 0) throw Error(path + ": cannot stat: " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw Error(path + ": not a regular file");
    s->size_ = uint64_t(st.st_size);
    return s;
  }
  static std::shared_ptr<ByteSource> memory(std::string bytes, const std::string& origin) {
    auto s = std::shared_ptr<ByteSource>(new ByteSource);
    s->origin_ = origin;
    s->mem_ = std::move(bytes);
    s->size_ = s->mem_.size();
    return s;
  }
  ~ByteSource() {
    if (fd_ >= 0) ::close(fd_);
  }
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  uint64_t size() const { return size_; }
  const std::string& origin() const { return origin_; }
  bool in_memory() const { return fd_ < 0; }
  const char* memory_data() const { return mem_.data(); }
  void read(uint64_t off, uint64_t n, void* dst) const {
    if (off > size_ || n > size_ - off)
      throw Error(origin_ + ": read of " + std::to_string(n) + " bytes at " + std::to_string(off) +
                  " is past the end of the file (" + std::to_string(size_) + " bytes)");
    if (fd_ < 0) {
      if (n) std::memcpy(dst, mem_.data() + off, n);
      return;
    }
    auto* p = static_cast<char*>(dst);
    while (n > 0) {
      const size_t chunk = size_t(std::min<uint64_t>(n, 1ull << 30));
      const ssize_t r = ::pread(fd_, p, chunk, off_t(off));
      if (r < 0) {
        if (errno == EINTR) continue;
        throw Error(origin_ + ": read failed: " + std::strerror(errno));
      }
      if (r == 0) throw Error(origin_ + ": file shrank while reading (truncated)");
      p += r;
      off += uint64_t(r);
      n -= uint64_t(r);
    }
  }

 private:
  ByteSource() = default;
  std::string origin_;
  int fd_ = -1;
  std::string mem_;
  uint64_t size_ = 0;
};

}  // namespace tessera
