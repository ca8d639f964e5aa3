#pragma once
// Files: errors that name the file and the place, and whole-file writes through a temporary that
// is flushed to the disk and renamed into place.

#include <cerrno>        // errno
#include <cstdint>       // std::uint64_t
#include <cstdio>        // std::FILE, std::fopen, std::fclose
#include <cstring>       // std::strerror
#include <filesystem>    // std::filesystem::path, rename, remove
#include <random>        // std::random_device
#include <string>        // std::string
#include <system_error>  // std::error_code
#include <utility>       // std::forward

#include "emb/detail/check.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>   // open
#include <unistd.h>  // fsync, close
#define EMB_DETAIL_HAVE_FSYNC 1
#endif

namespace emb::detail {

// "where: path: what", as a std::runtime_error: the error every file function throws.
template <class... Args>
[[noreturn]] void throw_file_error(const char* where, const std::filesystem::path& path,
                                   const Args&... what) {
  throw_runtime(where, ": ", path.string(), ": ", what...);
}

// An open C stream closed on every path out, including exceptions.
class CFile {
 public:
  CFile(const std::filesystem::path& path, const char* mode)
      : file_(std::fopen(path.c_str(), mode)) {}
  CFile(const CFile&) = delete;
  CFile& operator=(const CFile&) = delete;
  ~CFile() {
    if (file_) std::fclose(file_);
  }
  explicit operator bool() const { return file_ != nullptr; }
  std::FILE* get() const { return file_; }
  // Closes now and reports whether everything buffered reached the file.
  bool close() {
    const bool ok = std::fclose(file_) == 0;
    file_ = nullptr;
    return ok;
  }

 private:
  std::FILE* file_;
};

#if defined(EMB_DETAIL_HAVE_FSYNC)
// Flushes a file's (or a directory's) data and metadata to the disk; errno on failure.
inline bool sync_to_disk(const std::filesystem::path& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return ok;
}
#endif

// Has write_temporary(temporary) write the whole new file at "path.tmp-XXXXXXXXXXXXXXXX" beside
// `path` (a random name: two writers of one path never share it), then renames it over `path`:
// readers never see a half-written file, and a failed write (write_temporary throws) leaves any
// old file untouched and no temporary behind. Durable as careful databases write: the
// temporary's data is fsync'ed before the rename (else after a power loss the new name could
// point at an empty or partial file), and the directory after it (else the rename itself could
// be lost).
template <class WriteTemporary>
void replace_file(const char* where, const std::filesystem::path& path,
                  WriteTemporary&& write_temporary) {
  std::random_device entropy;
  const auto tag = (std::uint64_t{entropy()} << 32) | entropy();
  auto temporary = path;
  temporary += message(".tmp-", std::hex, tag);
  try {
    std::forward<WriteTemporary>(write_temporary)(temporary);
#if defined(EMB_DETAIL_HAVE_FSYNC)
    if (!sync_to_disk(temporary, false)) {
      throw_file_error(where, path,
                       "cannot flush the temporary file to disk: ", std::strerror(errno));
    }
#endif
    std::error_code error;
    std::filesystem::rename(temporary, path, error);
    if (error) throw_file_error(where, path, "cannot rename the temporary file: ", error.message());
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw;
  }
#if defined(EMB_DETAIL_HAVE_FSYNC)
  // The new file is in place; only its directory entry may still be in memory. A directory that
  // cannot be opened or synced (some file systems refuse) is not an error: the data is safe.
  auto directory = path.parent_path();
  if (directory.empty()) directory = ".";
  (void)sync_to_disk(directory, true);
#endif
}

// replace_file for a file written through write(std::FILE*). Throws std::runtime_error naming
// the file when it cannot be written.
template <class Write>
void write_file_atomically(const char* where, const std::filesystem::path& path, Write&& write) {
  replace_file(where, path, [&](const std::filesystem::path& temporary) {
    CFile file(temporary, "wb");
    if (!file) throw_file_error(where, path, "cannot open ", temporary.string(), " for writing");
    std::forward<Write>(write)(file.get());
    if (std::ferror(file.get()) || !file.close()) {
      throw_file_error(where, path, "write failed (disk full?)");
    }
  });
}

}  // namespace emb::detail
