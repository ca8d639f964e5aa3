#pragma once
// emb::save_checkpoint / emb::load_checkpoint: tables and optimizers to and from one file,
// written safely (a temporary file, then a rename) and read all-or-nothing.

#include <cerrno>        // errno
#include <filesystem>    // std::filesystem::path
#include <fstream>       // std::ofstream, std::ifstream
#include <ios>           // std::ios
#include <system_error>  // std::generic_category
#include <tuple>         // std::tuple, std::apply

#include "emb/detail/checkpoint.hpp"
#include "emb/detail/file.hpp"

namespace emb {

// Saves each object (an Embedding, an optimizer, anything with save(std::ostream&)) in turn to
// `path`. The records go to a temporary file beside it ("path.tmp-" and a random tag), which is
// flushed, closed and then renamed over `path`, so a crash while saving leaves the previous
// checkpoint intact, never a broken one. Throws std::runtime_error naming the file when it cannot
// be written (the temporary is removed then).
//
// Example:
//   emb::save_checkpoint("model.ckpt", table, opt);   // ... later, or in another process:
//   emb::load_checkpoint("model.ckpt", table, opt);   // training resumes bit for bit
template <class... Objects>
void save_checkpoint(const std::filesystem::path& path, const Objects&... objects) {
  constexpr const char* where = "emb::save_checkpoint";
  detail::replace_file(where, path, [&](const std::filesystem::path& temporary) {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) {
      detail::throw_file_error(where, path, "cannot open ", temporary.string(), " for writing");
    }
    (objects.save(out), ...);
    out.close();
    if (!out) detail::throw_file_error(where, path, "write failed (disk full?)");
  });
}

// Loads what save_checkpoint wrote, into the same kinds of objects in the same order. Every
// record is read and verified (checksum, kind, element type, shapes) before any object changes:
// on std::runtime_error (missing file, truncated or corrupted records, a mismatch, data after
// the last record) all objects are left as they were.
template <class... Objects>
void load_checkpoint(const std::filesystem::path& path, Objects&... objects) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    detail::throw_file_error("emb::load_checkpoint", path, "cannot open: ",
                             errno ? std::generic_category().message(errno) : "unknown error");
  }
  using Access = detail::checkpoint::Access;
  // Braced initialization reads the records in order, left to right.
  std::tuple staged{Access::read(objects, in)...};
  if (in.peek() != std::ifstream::traits_type::eof()) {
    detail::throw_runtime("emb::load_checkpoint: ", path.string(),
                          " holds more records than objects were given");
  }
  std::apply([&](auto&... loaded) { (Access::adopt(objects, std::move(loaded)), ...); }, staged);
}

}  // namespace emb
