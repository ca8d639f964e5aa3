#pragma once
// One entry point for every vector file format: emb::io::load_vectors.

#include <filesystem>  // std::filesystem::path

#include "emb/io/format.hpp"
#include "emb/io/glove.hpp"
#include "emb/io/word2vec.hpp"

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
  switch (options.format == VectorFormat::automatic ? detect_format(path) : options.format) {
    case VectorFormat::word2vec_binary:
      return load_word2vec<T>(path, true, options);
    case VectorFormat::glove:
      return load_glove<T>(path, options);
    case VectorFormat::word2vec:
    case VectorFormat::automatic:
      break;
  }
  return load_word2vec<T>(path, false, options);
}

}  // namespace emb::io
