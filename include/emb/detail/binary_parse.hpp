#pragma once
// The word2vec binary body: "word " + dim little-endian float32 per record.

#include <algorithm>    // std::min, std::reverse
#include <bit>          // std::endian
#include <cstdint>      // std::uint64_t
#include <cstring>      // std::memcpy
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <vector>       // std::vector

#include "emb/detail/block_reader.hpp"
#include "emb/detail/check.hpp"
#include "emb/detail/escape.hpp"
#include "emb/detail/progress.hpp"
#include "emb/detail/unique_words.hpp"
#include "emb/detail/utf8.hpp"
#include "emb/types.hpp"

namespace emb::detail {

// Reads `rows` binary records ("word " + dim little-endian float32, newlines before a word
// skipped) after the header. Throws with the byte offset of a truncated record or an empty or
// overlong word.
template <class T>
void read_binary_body(BlockReader& reader, Index rows, Index dim, Index declared, bool strict_utf8,
                      std::vector<std::string>& words, Matrix<T>& vectors, RecordPlaces& places,
                      Progress& progress) {
  constexpr std::size_t max_word = std::size_t{1} << 16;
  const auto bytes = static_cast<std::size_t>(dim) * sizeof(float);
  places.lines = false;
  places.place.assign(static_cast<std::size_t>(rows), 0);
  std::vector<float> row_values(static_cast<std::size_t>(dim));
  for (Index row = 0; row < rows; ++row) {
    // Skip the '\n' the word2vec tool writes after each vector (gensim writes none).
    for (;;) {
      reader.fill(1);
      const auto text = reader.available();
      if (text.empty() || (text[0] != '\n' && text[0] != '\r')) break;
      reader.consume(1);
    }
    const std::uint64_t start = reader.offset();
    std::size_t space = std::string_view::npos;
    for (std::size_t want = 4096; space == std::string_view::npos; want *= 2) {
      const bool more = reader.fill(want);
      const auto text = reader.available();
      space = text.substr(0, std::min(text.size(), max_word + 1)).find(' ');
      if (space == std::string_view::npos && (!more || text.size() > max_word)) {
        throw_file_error(reader.where(), reader.path(), "byte offset ", start,
                         text.size() > max_word
                             ? ": no word ends within 64 KiB (not a word2vec binary file?)"
                             : message(": the file ends inside word ", row + 1, " of ", declared,
                                       " (truncated)"));
      }
    }
    const std::string_view word = reader.available().substr(0, space);
    if (word.empty()) {
      throw_file_error(reader.where(), reader.path(), "byte offset ", start, ": empty word");
    }
    if (strict_utf8) {
      if (const auto bad = invalid_utf8_offset(word)) {
        throw_file_error(reader.where(), reader.path(), "byte offset ", start + *bad, ": the word ",
                         quote(word), " is not valid UTF-8");
      }
    }
    words[static_cast<std::size_t>(row)].assign(word);
    places.place[static_cast<std::size_t>(row)] = start;
    reader.consume(space + 1);
    if (!reader.fill(bytes)) {
      throw_file_error(reader.where(), reader.path(), "byte offset ", reader.offset(),
                       ": the file ends inside the vector of word ", row + 1, " of ", declared,
                       " (", quote(word), ", expected ", bytes, " bytes, found ",
                       reader.available().size(), "; truncated?)");
    }
    std::memcpy(row_values.data(), reader.available().data(), bytes);
    if constexpr (std::endian::native == std::endian::big) {
      for (float& value : row_values) {
        auto* b = reinterpret_cast<unsigned char*>(&value);
        std::reverse(b, b + sizeof(float));
      }
    }
    for (Index j = 0; j < dim; ++j)
      vectors(row, j) = static_cast<T>(row_values[static_cast<std::size_t>(j)]);
    reader.consume(bytes);
    if ((row & 1023) == 0) progress.update(reader.offset());
  }
}

}  // namespace emb::detail
