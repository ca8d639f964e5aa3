#pragma once
// The "count dim" first line of word2vec files (text and binary): parsed in one place, for format
// detection and for loading alike.

#include <algorithm>    // std::min
#include <cstddef>      // std::size_t
#include <optional>     // std::optional
#include <string_view>  // std::string_view
#include <utility>      // std::pair

#include "emb/detail/block_reader.hpp"
#include "emb/detail/escape.hpp"
#include "emb/detail/parse_number.hpp"
#include "emb/detail/tokenize.hpp"
#include "emb/types.hpp"

namespace emb::detail {

struct Word2vecHeader {
  Index count = 0;  // words the file declares
  Index dim = 0;    // values per word
};

// A first line (without its '\n') that is exactly two positive integers, whitespace around and
// between them allowed; nullopt for anything else.
inline std::optional<Word2vecHeader> parse_word2vec_header(std::string_view line) {
  std::size_t pos = 0;
  const auto count = parse_positive(next_token(line, pos));
  const auto dim = parse_positive(next_token(line, pos));
  if (!count || !dim || !next_token(line, pos).empty()) return std::nullopt;
  return Word2vecHeader{*count, *dim};
}

// Reads and consumes the header line of a word2vec file; throws naming line 1 when the file is
// empty or the line is not "count dim".
inline Word2vecHeader read_word2vec_header(BlockReader& reader) {
  constexpr std::size_t longest = std::size_t{1} << 20;  // no header is longer
  reader.fill(4096);
  std::string_view text = reader.available();
  if (text.empty()) throw_file_error(reader.where(), reader.path(), "the file is empty");
  std::size_t end = text.find('\n');
  while (end == std::string_view::npos && !reader.at_end() && text.size() < longest) {
    reader.fill(text.size() + 4096);
    if (reader.available().size() == text.size()) break;
    text = reader.available();
    end = text.find('\n');
  }
  const std::string_view line = text.substr(0, std::min(end, text.size()));
  const auto header = parse_word2vec_header(line);
  if (!header || end == std::string_view::npos) {
    throw_file_error(reader.where(), reader.path(), "line 1: bad header ", quote(trim_right(line)),
                     ": expected \"count dim\", two positive integers");
  }
  reader.consume(end + 1);
  return *header;
}

}  // namespace emb::detail
