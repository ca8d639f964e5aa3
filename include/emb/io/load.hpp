#pragma once
// One entry point each way for every vector file format: emb::io::load_vectors and
// emb::io::save_vectors.

#include <filesystem>  // std::filesystem::path
#include <span>        // std::span
#include <string>      // std::string

#include <Eigen/Core>

#include "emb/detail/check.hpp"
#include "emb/io/format.hpp"
#include "emb/io/glove.hpp"
#include "emb/io/word2vec.hpp"

namespace emb::detail {

// load_vectors for `where`, the function the user called.
template <class T>
io::LoadedVectors<T> read_vectors(const char* where, const std::filesystem::path& path,
                                  const io::LoadOptions& options) {
  check_limit(where, options);
  switch (options.format == io::VectorFormat::automatic ? sniff_format(where, path)
                                                        : options.format) {
    case io::VectorFormat::word2vec_binary:
      return read_word2vec<T>(where, path, true, options);
    case io::VectorFormat::glove:
      return read_glove<T>(where, path, options);
    case io::VectorFormat::word2vec:
    case io::VectorFormat::automatic:
      break;
  }
  return read_word2vec<T>(where, path, false, options);
}

// save_vectors for `where`, the function the user called.
template <class Derived>
void write_vectors(const char* where, const std::filesystem::path& path,
                   std::span<const std::string> words, const Eigen::MatrixBase<Derived>& vectors,
                   io::VectorFormat format) {
  switch (format) {
    case io::VectorFormat::word2vec:
    case io::VectorFormat::word2vec_binary:
      return write_word2vec(where, path, words, vectors,
                            format == io::VectorFormat::word2vec_binary);
    case io::VectorFormat::glove:
      return write_glove(where, path, words, vectors);
    case io::VectorFormat::automatic:
      break;
  }
  throw_invalid(where, ": name the format to write (word2vec, word2vec-binary or glove), not auto");
}

}  // namespace emb::detail

namespace emb::io {

// Loads a word2vec (text or binary), fastText .vec or GloVe file into T (float or double),
// detecting the format from the content unless options.format names it. The result's `format`
// says which was read.
// Example:
//   auto loaded = emb::io::load_vectors<float>("vectors.bin", {.limit = 50000});
//   // loaded.words[i] is the word of row i of loaded.vectors (50000, dim)
// Throws std::runtime_error naming the file and the line or byte offset for unreadable or
// malformed files (see load_word2vec and load_glove), std::invalid_argument for limit <= 0.
template <class T = float>
LoadedVectors<T> load_vectors(const std::filesystem::path& path, const LoadOptions& options = {}) {
  static_assert(emb::detail::is_real_v<T>, "emb::io::load_vectors<T>: T must be float or double");
  return emb::detail::read_vectors<T>("emb::io::load_vectors", path, options);
}

// Writes `words` and their `vectors` (words.size() rows, any real scalar type) in `format`,
// what load_vectors reads back: save_word2vec for word2vec and word2vec_binary, save_glove for
// glove. Written to a temporary, flushed to the disk and renamed over `path`.
// Example:
//   emb::io::save_vectors("vectors.bin", words, matrix, emb::io::VectorFormat::word2vec_binary);
// Throws std::invalid_argument for VectorFormat::automatic and as save_word2vec otherwise.
template <class Derived>
void save_vectors(const std::filesystem::path& path, std::span<const std::string> words,
                  const Eigen::MatrixBase<Derived>& vectors, VectorFormat format) {
  emb::detail::write_vectors("emb::io::save_vectors", path, words, vectors, format);
}

}  // namespace emb::io
