#pragma once
// Files: errors that name the file and the place, whole-file writes through a temporary that is
// renamed into place, and reading a file in large blocks.

#include <cstdint>       // std::uint64_t
#include <cstdio>        // std::FILE, std::fopen, std::fwrite, std::fread
#include <filesystem>    // std::filesystem::path, rename, remove
#include <random>        // std::random_device
#include <string>        // std::string
#include <system_error>  // std::error_code
#include <utility>       // std::forward

#include "emb/detail/check.hpp"

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

// Has write_temporary(temporary) write the whole new file at "path.tmp-XXXXXXXXXXXXXXXX" beside
// `path` (a random name: two writers of one path never share it), then renames it over `path`:
// readers never see a half-written file, and a failed write (write_temporary throws) leaves any
// old file untouched and no temporary behind. The rename is atomic on POSIX file systems; nothing
// is fsync'ed, so a power loss right after a write may lose that write, never the old file.
template <class WriteTemporary>
void replace_file(const char* where, const std::filesystem::path& path,
                  WriteTemporary&& write_temporary) {
  std::random_device entropy;
  const auto tag = (std::uint64_t{entropy()} << 32) | entropy();
  auto temporary = path;
  temporary += message(".tmp-", std::hex, tag);
  try {
    std::forward<WriteTemporary>(write_temporary)(temporary);
    std::error_code error;
    std::filesystem::rename(temporary, path, error);
    if (error) throw_file_error(where, path, "cannot rename the temporary file: ", error.message());
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw;
  }
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
