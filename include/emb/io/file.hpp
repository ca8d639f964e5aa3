#pragma once
// Writing a whole file safely, as every emb writer does: emb::io::write_file_atomically.

#include <cstdio>       // std::FILE, std::fwrite
#include <filesystem>   // std::filesystem::path
#include <string_view>  // std::string_view

#include "emb/detail/file.hpp"

namespace emb::io {

// Makes `contents` the whole of `path`: written to a temporary beside it, flushed to the disk
// (fsync) and renamed over it, the directory then flushed too. Readers see the old file or the
// new one, never a part, and after a power loss the new name never points at a partial file.
// Throws std::runtime_error naming the file when it cannot be written (any old file then stays
// as it was, and no temporary is left behind).
inline void write_file_atomically(const std::filesystem::path& path, std::string_view contents) {
  emb::detail::write_file_atomically("emb::io::write_file_atomically", path, [&](std::FILE* file) {
    std::fwrite(contents.data(), 1, contents.size(), file);
  });
}

}  // namespace emb::io
