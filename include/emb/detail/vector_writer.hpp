#pragma once
// What the vector writers share: the checks made before anything is written, and the text record
// writer (word2vec text and GloVe) and binary record writer.

#include <algorithm>      // std::reverse
#include <bit>            // std::endian
#include <charconv>       // std::to_chars
#include <cstdio>         // std::FILE, std::fwrite
#include <cstring>        // std::memcpy
#include <span>           // std::span
#include <string>         // std::string
#include <string_view>    // std::string_view
#include <type_traits>    // std::conditional_t
#include <unordered_set>  // std::unordered_set

#include <Eigen/Core>

#include "emb/detail/check.hpp"
#include "emb/detail/escape.hpp"
#include "emb/detail/tokenize.hpp"
#include "emb/types.hpp"

namespace emb::detail {

// A word must survive a round trip through every format: not empty, no whitespace inside (the
// readers split on it), each word once. Checked before anything is written.
inline void check_words_for_writing(const char* where, std::span<const std::string> words) {
  std::unordered_set<std::string_view> seen;
  seen.reserve(words.size());
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word.empty()) throw_invalid(where, ": word ", i, " is empty");
    if (word.find_first_of(whitespace) != std::string::npos) {
      throw_invalid(where, ": word ", i, " (", quote(word),
                    ") contains whitespace, which the file formats cannot hold");
    }
    if (!seen.insert(word).second) {
      throw_invalid(where, ": word ", quote(word), " appears twice (again at ", i, ")");
    }
  }
}

// What every writer checks first: one word per row, a non-empty table, writable words.
inline void check_for_writing(const char* where, std::span<const std::string> words, Index rows,
                              Index cols) {
  if (static_cast<Index>(words.size()) != rows) {
    throw_invalid(where, ": ", words.size(), " words for ", rows, " vectors; they must be equal");
  }
  if (rows == 0 || cols == 0)
    throw_invalid(where, ": the table is empty (", rows, " x ", cols, ")");
  check_words_for_writing(where, words);
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
// text body and GloVe's whole file. Values in shortest round-trip form, float or double as stored.
template <class Derived>
void write_text_records(std::FILE* file, std::span<const std::string> words,
                        const Eigen::MatrixBase<Derived>& vectors, bool header) {
  using Scalar = typename Derived::Scalar;
  using Value = std::conditional_t<is_real_v<Scalar>, Scalar, double>;
  std::string buffer;
  if (header) buffer += message(vectors.rows(), ' ', vectors.cols(), '\n');
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

// Writes the word2vec binary format: the "count dim" header, then "word " + dim little-endian
// float32 + '\n' per row (the '\n' as the word2vec tool writes it).
template <class Derived>
void write_binary_records(std::FILE* file, std::span<const std::string> words,
                          const Eigen::MatrixBase<Derived>& vectors) {
  static_assert(sizeof(float) == 4, "word2vec binary files hold 32-bit floats");
  std::string buffer = message(vectors.rows(), ' ', vectors.cols(), '\n');
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
    flush_when_large(buffer, file);
  }
  flush_when_large(buffer, file, true);
}

}  // namespace emb::detail
