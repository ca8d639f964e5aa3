#pragma once
// Whole-file writes that survive a crash: the new file is written beside the old one, flushed to
// the disk (fsync), renamed over it, and the rename itself is flushed (fsync of the folder). A
// reader sees the old file or the new one, never a mix, even after a power loss.

#include <cstdio>      // std::FILE, std::fflush, std::ferror
#include <filesystem>  // std::filesystem::path
#include <utility>     // std::forward

#include <fcntl.h>   // open, O_RDONLY
#include <unistd.h>  // fsync, close

#include "emb/detail/file.hpp"

namespace emb::detail {

// Writes the file through write(std::FILE*), as write_file_atomically does, with both fsyncs.
// Throws std::runtime_error naming the file when it cannot be written; then any old file is
// untouched and no temporary is left.
template <class Write>
void write_file_durably(const char* where, const std::filesystem::path& path, Write&& write) {
  replace_file(where, path, [&](const std::filesystem::path& temporary) {
    CFile file(temporary, "wb");
    if (!file) throw_file_error(where, path, "cannot open ", temporary.string(), " for writing");
    std::forward<Write>(write)(file.get());
    if (std::ferror(file.get()) || std::fflush(file.get()) != 0 ||
        ::fsync(::fileno(file.get())) != 0 || !file.close()) {
      throw_file_error(where, path, "write failed (disk full?)");
    }
  });
  // Best effort: a folder that cannot be opened or synced (some file systems) still holds the
  // renamed file; only its durability across a power loss is then the file system's.
  auto folder = path.parent_path();
  if (folder.empty()) folder = ".";
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace emb::detail
