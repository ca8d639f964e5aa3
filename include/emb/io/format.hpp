#pragma once
// Word-vector file formats: their names, format detection, and the options and result of loading.

#include <cstdint>      // std::uint64_t
#include <filesystem>   // std::filesystem::path
#include <optional>     // std::optional
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <vector>       // std::vector

#include "emb/detail/block_reader.hpp"
#include "emb/detail/escape.hpp"
#include "emb/detail/text_parse.hpp"
#include "emb/detail/tokenize.hpp"
#include "emb/detail/utf8.hpp"
#include "emb/detail/word2vec_header.hpp"
#include "emb/types.hpp"

namespace emb::io {

// The formats emb reads and writes. fastText's .vec files are word2vec text.
enum class VectorFormat {
  automatic,        // reading: detect from the content (see detect_format); never written
  word2vec,         // text: "count dim" header, then "word v1 ... vd" lines
  word2vec_binary,  // "count dim" header, then "word " + dim float32 per record
  glove,            // text without a header: "word v1 ... vd" lines
};

// "auto", "word2vec", "word2vec-binary" or "glove": the names the word-lookup tool takes.
inline std::string_view to_string(VectorFormat format) {
  switch (format) {
    case VectorFormat::word2vec:
      return "word2vec";
    case VectorFormat::word2vec_binary:
      return "word2vec-binary";
    case VectorFormat::glove:
      return "glove";
    case VectorFormat::automatic:
      break;
  }
  return "auto";
}

// The format named by to_string's names; nullopt for anything else.
inline std::optional<VectorFormat> parse_format(std::string_view name) {
  for (const auto format : {VectorFormat::automatic, VectorFormat::word2vec,
                            VectorFormat::word2vec_binary, VectorFormat::glove}) {
    if (name == to_string(format)) return format;
  }
  return std::nullopt;
}

// Aggregate: pass with designated initializers, e.g. {.limit = 50000}.
struct LoadOptions {
  VectorFormat format = VectorFormat::automatic;
  std::optional<Index> limit{};  // load only the first `limit` words (as gensim's limit); > 0
  bool strict_utf8 = false;      // throw for a word that is not valid UTF-8 (else: bytes as-is)
  bool progress = false;         // a progress bar on stderr for large files, if it is a terminal
};

// What a loader returns: the words in file order, their vectors row by row, and the format read.
template <class T>
struct LoadedVectors {
  std::vector<std::string> words;
  Matrix<T> vectors;  // (words.size(), dim)
  VectorFormat format = VectorFormat::automatic;
};

}  // namespace emb::io

namespace emb::detail {

// detect_format for `where`, the function the user called.
inline io::VectorFormat sniff_format(const char* where, const std::filesystem::path& path) {
  BlockReader reader(where, path);
  reader.fill(std::size_t{1} << 16);
  const std::string_view text = reader.available();
  if (text.empty()) throw_file_error(where, path, "the file is empty");
  const auto end = text.find('\n');
  const std::string_view first = text.substr(0, end);
  const auto header = end == std::string_view::npos ? std::nullopt : parse_word2vec_header(first);
  if (header) {
    // A first record that parses as text is text. Otherwise the 4 * dim bytes after the first
    // word decide: raw floats almost always hold control bytes or invalid UTF-8, text never
    // (a malformed text record is then reported by the text parser, with its line).
    const std::string_view body = text.substr(end + 1);
    if (count_values(body.substr(0, body.find('\n'))) == header->dim) {
      return io::VectorFormat::word2vec;
    }
    const std::size_t space = body.find(' ');
    if (space == std::string_view::npos) return io::VectorFormat::word2vec;
    const std::string_view values =
        body.substr(space + 1, 4 * static_cast<std::size_t>(header->dim));
    for (const char c : values) {
      if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\r' && c != '\t') {
        return io::VectorFormat::word2vec_binary;
      }
    }
    const auto bad = invalid_utf8_offset(values);
    if (bad && *bad + 4 <= values.size()) return io::VectorFormat::word2vec_binary;
    return io::VectorFormat::word2vec;
  }
  if (count_values(first) > 0) return io::VectorFormat::glove;
  throw_file_error(where, path, "line 1: ", quote(trim_right(first)),
                   " is neither a \"count dim\" header nor a word and its values; "
                   "not a word2vec or GloVe file");
}

}  // namespace emb::detail

namespace emb::io {

// The format of a vector file, from its first lines: a "count dim" header followed by text
// records is word2vec, followed by anything else word2vec-binary (raw floats); a first line of a
// word and numbers is GloVe. Throws std::runtime_error naming the file when it cannot be read,
// is empty or is none of these.
inline VectorFormat detect_format(const std::filesystem::path& path) {
  return emb::detail::sniff_format("emb::io::detect_format", path);
}

}  // namespace emb::io
