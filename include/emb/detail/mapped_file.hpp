#pragma once
// A whole file mapped read-only into memory (POSIX mmap): the tensor-file readers parse headers
// in place and copy or expose the data without reading the file through a buffer first.

#include <algorithm>     // std::min
#include <cerrno>        // errno
#include <cstddef>       // std::size_t
#include <filesystem>    // std::filesystem::path
#include <string>        // std::string
#include <system_error>  // std::system_category

#include <fcntl.h>     // open, O_RDONLY
#include <sys/mman.h>  // mmap, munmap, madvise
#include <sys/stat.h>  // fstat
#include <unistd.h>    // close, sysconf

#include "emb/detail/file.hpp"

namespace emb::detail {

// How the mapped pages will be read: the kernel's read-ahead follows the hint.
enum class MapAccess {
  random,      // a lookup touches a few rows: read only the pages asked for (MADV_RANDOM)
  sequential,  // the whole file is copied once, front to back (MADV_SEQUENTIAL)
};

// The file at `path`, mapped PROT_READ / MAP_SHARED for the object's lifetime. An empty file maps
// to no bytes (data() is null, size() 0). Every error is a std::runtime_error "where: path: ..."
// with the system's reason. Changing or truncating the file while it is mapped is undefined
// (reading a page past a truncated end raises SIGBUS), as for numpy.memmap and safetensors.
class MappedFile {
 public:
  MappedFile(const char* where, const std::filesystem::path& path,
             MapAccess access = MapAccess::random)
      : path_(path) {
    // O_NONBLOCK: opening a FIFO returns at once (and is refused below) instead of waiting for a
    // writer; it changes nothing for regular files.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) throw_file_error(where, path, "cannot open: ", last_error());
    struct ::stat status {};
    if (::fstat(fd, &status) != 0) {
      const std::string reason = last_error();
      ::close(fd);
      throw_file_error(where, path, "cannot stat: ", reason);
    }
    if (!S_ISREG(status.st_mode)) {
      ::close(fd);
      throw_file_error(where, path, "not a regular file");
    }
    size_ = static_cast<std::size_t>(status.st_size);
    if (size_ > 0) {
      void* data = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
      if (data == MAP_FAILED) {
        const std::string reason = last_error();
        ::close(fd);
        throw_file_error(where, path, "cannot map ", size_, " bytes: ", reason);
      }
      data_ = static_cast<const unsigned char*>(data);
      // Only a hint: a kernel that ignores it reads more than needed, nothing else.
      ::madvise(data, size_, access == MapAccess::random ? MADV_RANDOM : MADV_SEQUENTIAL);
    }
    ::close(fd);  // the mapping keeps the file's pages; the descriptor is no longer needed
  }

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<unsigned char*>(data_), size_);
  }

  // Changes the read-ahead hint for bytes [offset, offset + length), e.g. before copying a whole
  // tensor out of a file mapped for random access. Only a hint: nothing fails.
  void advise(std::size_t offset, std::size_t length, MapAccess access) const {
    if (data_ == nullptr || offset >= size_) return;
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t start = offset / page * page;  // madvise wants a page-aligned address
    const std::size_t end = std::min(size_, offset + length);
    ::madvise(const_cast<unsigned char*>(data_) + start, end - start,
              access == MapAccess::random ? MADV_RANDOM : MADV_SEQUENTIAL);
  }

  // Drops this process's copies of the pages wholly inside [offset, offset + length): they stay
  // in the page cache and are read again if touched. Loaders call it on each block they have
  // copied out, so that loading a table holds the copy, not the copy and the file's pages too.
  void release(std::size_t offset, std::size_t length) const {
    if (data_ == nullptr || offset >= size_) return;
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t start = (offset + page - 1) / page * page;
    const std::size_t end = std::min(size_, offset + length) / page * page;
    if (start < end) {
      ::madvise(const_cast<unsigned char*>(data_) + start, end - start, MADV_DONTNEED);
    }
  }

  const unsigned char* data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  static std::string last_error() { return std::system_category().message(errno); }

  std::filesystem::path path_;
  const unsigned char* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace emb::detail
