#pragma once
// The word2vec file formats of Mikolov's word2vec tool, as gensim reads and writes them:
// a header line "count dim", then one word and its dim values per record, either as text
// ("word v1 v2 ... vd\n", also fastText's .vec) or binary ("word " + dim little-endian float32
// + "\n").

#include <algorithm>   // std::min
#include <cstdio>      // std::FILE
#include <filesystem>  // std::filesystem::path
#include <span>        // std::span
#include <string>      // std::string

#include <Eigen/Core>

#include "emb/detail/binary_parse.hpp"
#include "emb/detail/block_reader.hpp"
#include "emb/detail/check.hpp"
#include "emb/detail/file.hpp"
#include "emb/detail/progress.hpp"
#include "emb/detail/text_parse.hpp"
#include "emb/detail/unique_words.hpp"
#include "emb/detail/vector_writer.hpp"
#include "emb/detail/word2vec_header.hpp"
#include "emb/io/format.hpp"
#include "emb/types.hpp"

namespace emb::detail {

inline void check_limit(const char* where, const io::LoadOptions& options) {
  if (options.limit && *options.limit <= 0) {
    throw_invalid(where, ": limit must be positive, got ", *options.limit);
  }
}

// A header that promises more than the file can hold is refused before allocating for it.
inline void check_fits(BlockReader& reader, Index rows, Index dim, double min_bytes_per_value,
                       Index declared) {
  if (reader.file_size() == 0) return;  // unknown size (a pipe): the body reader finds the end
  const double need =
      static_cast<double>(rows) * (static_cast<double>(dim) * min_bytes_per_value + 2);
  const double have = static_cast<double>(reader.file_size() - reader.offset());
  if (need > have) {
    throw_file_error(reader.where(), reader.path(), "line 1: the header promises ", declared,
                     " words of ", dim, " values, but the file has only ", reader.file_size(),
                     " bytes (truncated?)");
  }
}

// load_word2vec for `where`, the function the user called; `binary` picks the body format.
template <class T>
io::LoadedVectors<T> read_word2vec(const char* where, const std::filesystem::path& path,
                                   bool binary, const io::LoadOptions& options) {
  check_limit(where, options);
  BlockReader reader(where, path);
  Progress progress(options.progress, "loading " + path.filename().string(), reader.file_size());
  const auto [count, dim] = read_word2vec_header(reader);
  const Index rows = options.limit ? std::min(count, *options.limit) : count;
  check_fits(reader, rows, dim, binary ? 4.0 : 1.0, count);
  io::LoadedVectors<T> out;
  out.format = binary ? io::VectorFormat::word2vec_binary : io::VectorFormat::word2vec;
  out.words.resize(static_cast<std::size_t>(rows));
  out.vectors.resize(rows, dim);
  RecordPlaces places;
  if (binary) {
    read_binary_body(reader, rows, dim, count, options.strict_utf8, out.words, out.vectors, places,
                     progress);
    if (rows == count) {  // anything but whitespace after the last record is more records
      while (reader.fill(1)) {
        if (!is_space(reader.available()[0])) {
          throw_file_error(where, path, "byte offset ", reader.offset(),
                           ": more data after the header's count of ", count, " words");
        }
        reader.consume(1);
      }
    }
  } else {
    const TextBody body{.rows = rows,
                        .dim = dim,
                        .extra_is_error = rows == count,
                        .declared = count,
                        .strict_utf8 = options.strict_utf8,
                        .lines_before = 1};
    parse_text_body(reader, body, out.words, out.vectors, places, progress);
  }
  check_unique(where, path, out.words, places);
  return out;
}

// save_word2vec for `where`, the function the user called.
template <class Derived>
void write_word2vec(const char* where, const std::filesystem::path& path,
                    std::span<const std::string> words, const Eigen::MatrixBase<Derived>& vectors,
                    bool binary) {
  check_for_writing(where, words, vectors.rows(), vectors.cols());
  write_file_atomically(where, path, [&](std::FILE* file) {
    if (binary) {
      write_binary_records(file, words, vectors);
    } else {
      write_text_records(file, words, vectors, true);
    }
  });
}

}  // namespace emb::detail

namespace emb::io {

// Writes `words` and their `vectors` (words.size() rows, any real scalar type) in word2vec
// format: VectorFormat::word2vec is text (values in shortest round-trip form, float or double as
// stored), VectorFormat::word2vec_binary binary (values as little-endian float32, a '\n' after
// each record as the word2vec tool writes). The file is written to a temporary beside `path`,
// flushed to the disk and renamed over it, so a reader never sees a half-written file.
// Throws std::invalid_argument for another format, if words.size() != vectors.rows(), the table
// is empty, or a word is empty, contains whitespace or appears twice (nothing is written);
// std::runtime_error if the file cannot be written.
template <class Derived>
void save_word2vec(const std::filesystem::path& path, std::span<const std::string> words,
                   const Eigen::MatrixBase<Derived>& vectors,
                   VectorFormat format = VectorFormat::word2vec) {
  constexpr const char* where = "emb::io::save_word2vec";
  if (format != VectorFormat::word2vec && format != VectorFormat::word2vec_binary) {
    emb::detail::throw_invalid(where, ": format ", to_string(format),
                               " is not word2vec or word2vec-binary (see save_vectors)");
  }
  emb::detail::write_word2vec(where, path, words, vectors, format == VectorFormat::word2vec_binary);
}

// Reads a word2vec file into T (float or double; binary values are float32 in the file):
// options.format word2vec is text (fastText's .vec too), word2vec_binary binary, automatic
// detects which (see detect_format). options.limit loads only the first words, as gensim's limit.
// Throws std::runtime_error naming the file and the line (text) or byte offset (binary) for: a
// missing or unreadable file, an empty file, a bad header, a line with the wrong number of values
// or a value that is not a number, a truncated file, more records than the header says, a word
// seen twice, and (with strict_utf8) a word that is not UTF-8. Nothing is returned half-loaded.
// std::invalid_argument for limit <= 0 or options.format glove.
template <class T = float>
LoadedVectors<T> load_word2vec(const std::filesystem::path& path, const LoadOptions& options = {}) {
  static_assert(emb::detail::is_real_v<T>, "emb::io::load_word2vec<T>: T must be float or double");
  constexpr const char* where = "emb::io::load_word2vec";
  if (options.format == VectorFormat::glove) {
    emb::detail::throw_invalid(where, ": options.format is glove; use load_glove or load_vectors");
  }
  emb::detail::check_limit(where, options);
  const VectorFormat format = options.format == VectorFormat::automatic
                                  ? emb::detail::sniff_format(where, path)
                                  : options.format;
  return emb::detail::read_word2vec<T>(where, path, format == VectorFormat::word2vec_binary,
                                       options);
}

}  // namespace emb::io
