#pragma once
// The word2vec file formats of Mikolov's word2vec tool, as gensim reads and writes them:
// a header line "count dim", then one word and its dim values per record, either as text
// ("word v1 v2 ... vd\n", also fastText's .vec) or binary ("word " + dim little-endian float32
// + "\n").

#include <algorithm>      // std::reverse
#include <bit>            // std::endian
#include <charconv>       // std::to_chars
#include <cstdio>         // std::FILE, std::fwrite
#include <cstring>        // std::memcpy
#include <filesystem>     // std::filesystem::path
#include <span>           // std::span
#include <string>         // std::string
#include <unordered_set>  // std::unordered_set
#include <vector>         // std::vector

#include <Eigen/Core>

#include "emb/detail/check.hpp"
#include "emb/detail/file.hpp"
#include "emb/io/format.hpp"
#include "emb/types.hpp"

namespace emb::io {

namespace detail {

// A word must survive a round trip through every format: not empty, no separator or line break
// inside, each word once. Checked before anything is written.
inline void check_words_for_writing(const char* where, std::span<const std::string> words) {
  std::unordered_set<std::string_view> seen;
  seen.reserve(words.size());
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word.empty()) emb::detail::throw_invalid(where, ": word ", i, " is empty");
    if (word.find_first_of(" \t\n\r\v\f") != std::string::npos) {
      emb::detail::throw_invalid(where, ": word ", i, " (\"", word,
                                 "\") contains whitespace, which the file formats cannot hold");
    }
    if (!seen.insert(word).second) {
      emb::detail::throw_invalid(where, ": word \"", word, "\" appears twice (again at ", i, ")");
    }
  }
}

// Appends the shortest decimal text that reads back as exactly `value` (as Python's repr).
template <class T>
void append_number(std::string& out, T value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

// Records are built in a buffer and written in large blocks.
inline void flush_when_large(std::string& buffer, std::FILE* file, bool force = false) {
  if (force || buffer.size() >= (std::size_t{1} << 20)) {
    std::fwrite(buffer.data(), 1, buffer.size(), file);
    buffer.clear();
  }
}

// Writes "word v1 ... vd\n" for every row, after an optional "count dim" header: the word2vec
// text body and GloVe's whole file.
template <class Derived>
void write_text_records(std::FILE* file, std::span<const std::string> words,
                        const Eigen::MatrixBase<Derived>& vectors, bool header) {
  using Scalar = typename Derived::Scalar;
  using Value = std::conditional_t<emb::detail::is_real_v<Scalar>, Scalar, double>;
  std::string buffer;
  if (header) buffer += emb::detail::message(vectors.rows(), ' ', vectors.cols(), '\n');
  for (Eigen::Index i = 0; i < vectors.rows(); ++i) {
    buffer += words[static_cast<std::size_t>(i)];
    for (Eigen::Index j = 0; j < vectors.cols(); ++j) {
      buffer += ' ';
      append_number(buffer, static_cast<Value>(vectors(i, j)));
    }
    buffer += '\n';
    flush_when_large(buffer, file);
  }
  flush_when_large(buffer, file, true);
}

}  // namespace detail

// Writes `words` and their `vectors` (words.size() rows, any real scalar type) in word2vec
// format: text by default (values in shortest round-trip form, float or double as stored), or
// binary (values as little-endian float32, a '\n' after each record as the word2vec tool writes).
// The file is written to a temporary beside `path` and renamed over it, so a reader never sees a
// half-written file.
// Throws std::invalid_argument if words.size() != vectors.rows(), the table is empty, or a word
// is empty, contains whitespace or appears twice (nothing is written); std::runtime_error if the
// file cannot be written.
template <class Derived>
void save_word2vec(const std::filesystem::path& path, std::span<const std::string> words,
                   const Eigen::MatrixBase<Derived>& vectors, bool binary = false) {
  constexpr const char* where = "emb::io::save_word2vec";
  if (static_cast<Eigen::Index>(words.size()) != vectors.rows()) {
    emb::detail::throw_invalid(where, ": ", words.size(), " words for ", vectors.rows(),
                               " vectors; they must be equal");
  }
  if (vectors.rows() == 0 || vectors.cols() == 0) {
    emb::detail::throw_invalid(where, ": the table is empty (", vectors.rows(), " x ",
                               vectors.cols(), ")");
  }
  detail::check_words_for_writing(where, words);
  emb::detail::write_file_atomically(where, path, [&](std::FILE* file) {
    if (!binary) {
      detail::write_text_records(file, words, vectors, true);
      return;
    }
    static_assert(sizeof(float) == 4, "word2vec binary files hold 32-bit floats");
    std::string buffer = emb::detail::message(vectors.rows(), ' ', vectors.cols(), '\n');
    for (Eigen::Index i = 0; i < vectors.rows(); ++i) {
      buffer += words[static_cast<std::size_t>(i)];
      buffer += ' ';
      for (Eigen::Index j = 0; j < vectors.cols(); ++j) {
        const auto value = static_cast<float>(vectors(i, j));
        char bytes[sizeof(float)];
        std::memcpy(bytes, &value, sizeof value);
        if constexpr (std::endian::native == std::endian::big) std::reverse(bytes, bytes + 4);
        buffer.append(bytes, sizeof bytes);
      }
      buffer += '\n';
      detail::flush_when_large(buffer, file);
    }
    detail::flush_when_large(buffer, file, true);
  });
}

namespace detail {

inline void check_limit(const char* where, const LoadOptions& options) {
  if (options.limit && *options.limit <= 0) {
    emb::detail::throw_invalid(where, ": limit must be positive, got ", *options.limit);
  }
}

// A header that promises more than the file can hold is refused before allocating for it.
inline void check_fits(emb::detail::BlockReader& reader, Index rows, Index dim,
                       double min_bytes_per_value, Index declared) {
  if (reader.file_size() == 0) return;  // unknown size (a pipe): the body reader finds the end
  const double need =
      static_cast<double>(rows) * (static_cast<double>(dim) * min_bytes_per_value + 2);
  const double have = static_cast<double>(reader.file_size() - reader.offset());
  if (need > have) {
    emb::detail::throw_file_error(reader.where(), reader.path(), "line 1: the header promises ",
                                  declared, " words of ", dim, " values, but the file has only ",
                                  reader.file_size(), " bytes (truncated?)");
  }
}

}  // namespace detail

// Reads a word2vec file, text (binary = false; fastText's .vec too) or binary, into T (float or
// double; binary values are float32 in the file). options.format is ignored; options.limit loads
// only the first words, as gensim's limit.
// Throws std::runtime_error naming the file and the line (text) or byte offset (binary) for: a
// missing or unreadable file, an empty file, a bad header, a line with the wrong number of values
// or a value that is not a number, a truncated file, more records than the header says, a word
// seen twice, and (with strict_utf8) a word that is not UTF-8. Nothing is returned half-loaded.
// std::invalid_argument for limit <= 0.
template <class T = float>
LoadedVectors<T> load_word2vec(const std::filesystem::path& path, bool binary,
                               const LoadOptions& options = {}) {
  static_assert(emb::detail::is_real_v<T>, "emb::io::load_word2vec<T>: T must be float or double");
  constexpr const char* where = "emb::io::load_word2vec";
  detail::check_limit(where, options);
  emb::detail::BlockReader reader(where, path);
  emb::detail::Progress progress(options.progress, "loading " + path.filename().string(),
                                 reader.file_size());
  const auto [count, dim] = emb::detail::read_word2vec_header(reader);
  const Index rows = options.limit ? std::min(count, *options.limit) : count;
  detail::check_fits(reader, rows, dim, binary ? 4.0 : 1.0, count);
  LoadedVectors<T> out;
  out.format = binary ? VectorFormat::word2vec_binary : VectorFormat::word2vec;
  out.words.resize(static_cast<std::size_t>(rows));
  out.vectors.resize(rows, dim);
  emb::detail::RecordPlaces places;
  if (binary) {
    emb::detail::read_binary_body(reader, rows, dim, count, options.strict_utf8, out.words,
                                  out.vectors, places, progress);
    if (rows == count) {  // anything but whitespace after the last record is more records
      while (reader.fill(1)) {
        const char c = reader.available()[0];
        if (c != '\n' && c != '\r' && c != ' ' && c != '\t') {
          emb::detail::throw_file_error(where, path, "byte offset ", reader.offset(),
                                        ": more data after the header's count of ", count,
                                        " words");
        }
        reader.consume(1);
      }
    }
  } else {
    const emb::detail::TextBody body{.rows = rows,
                                     .dim = dim,
                                     .extra_is_error = rows == count,
                                     .declared = count,
                                     .strict_utf8 = options.strict_utf8,
                                     .lines_before = 1};
    emb::detail::parse_text_body(reader, body, out.words, out.vectors, places, progress);
  }
  emb::detail::check_unique(where, path, out.words, places);
  return out;
}

}  // namespace emb::io
