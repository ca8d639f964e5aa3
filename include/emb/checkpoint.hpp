#pragma once
// emb::save_checkpoint / emb::load_checkpoint: tables and optimizers to and from one file,
// written safely (a temporary file, then a rename) and read all-or-nothing.

#include <filesystem>    // std::filesystem::path, rename, remove
#include <fstream>       // std::ofstream, std::ifstream
#include <ios>           // std::ios
#include <string>        // std::string
#include <system_error>  // std::error_code
#include <tuple>         // std::tuple, std::apply

#include "emb/detail/checkpoint.hpp"

namespace emb {

// Saves each object (an Embedding, an optimizer, anything with save(std::ostream&)) in turn to
// `path`. The records go to `path` + ".tmp", which is flushed, closed and then renamed over
// `path`, so a crash while saving leaves the previous checkpoint intact, never a broken one.
// Throws std::runtime_error when the file cannot be written (the temporary is removed then).
//
// Example:
//   emb::save_checkpoint("model.ckpt", table, opt);   // ... later, or in another process:
//   emb::load_checkpoint("model.ckpt", table, opt);   // training resumes bit for bit
template <class... Objects>
void save_checkpoint(const std::filesystem::path& path, const Objects&... objects) {
  std::filesystem::path temporary = path;
  temporary += ".tmp";
  try {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) detail::throw_runtime("emb::save_checkpoint: cannot write ", temporary.string());
    (objects.save(out), ...);
    out.close();
    if (!out)
      detail::throw_runtime("emb::save_checkpoint: writing ", temporary.string(), " failed");
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw;
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::filesystem::remove(temporary, error);
    detail::throw_runtime("emb::save_checkpoint: cannot rename ", temporary.string(), " to ",
                          path.string());
  }
}

// Loads what save_checkpoint wrote, into the same kinds of objects in the same order. Every
// record is read and verified (checksum, kind, element type, shapes) before any object changes:
// on std::runtime_error (missing file, truncated or corrupted records, a mismatch, data after
// the last record) all objects are left as they were.
template <class... Objects>
void load_checkpoint(const std::filesystem::path& path, Objects&... objects) {
  std::ifstream in(path, std::ios::binary);
  if (!in) detail::throw_runtime("emb::load_checkpoint: cannot open ", path.string());
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
