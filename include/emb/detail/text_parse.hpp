#pragma once
// The text formats' records ("word v1 ... vd" lines, word2vec text and GloVe alike) and the body
// parser that reads them on several threads, with a result that does not depend on their number.

#include <algorithm>    // std::min, std::max
#include <cstdint>      // std::uint64_t, std::int64_t
#include <cstring>      // std::memchr
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <utility>      // std::move
#include <vector>       // std::vector

#include "emb/detail/block_reader.hpp"
#include "emb/detail/check.hpp"
#include "emb/detail/escape.hpp"
#include "emb/detail/parallel.hpp"
#include "emb/detail/parse_number.hpp"
#include "emb/detail/progress.hpp"
#include "emb/detail/tokenize.hpp"
#include "emb/detail/unique_words.hpp"
#include "emb/detail/utf8.hpp"
#include "emb/types.hpp"

namespace emb::detail {

// Parses "word v1 ... vd" (line without '\n'): the word into `word`, d values into `out`.
// Returns the empty string, or what is wrong with the line. With out == nullptr it only checks.
template <class T>
std::string parse_record(std::string_view line, Index dim, std::string& word, T* out,
                         bool strict_utf8) {
  line = trim_right(line);
  if (line.empty() || is_space(line.front())) {
    return "the line starts with whitespace (an empty word)";
  }
  std::size_t pos = 0;
  const std::string_view word_text = next_token(line, pos);
  if (strict_utf8) {
    if (const auto bad = invalid_utf8_offset(word_text)) {
      return message("the word ", quote(word_text), " is not valid UTF-8 (byte ", *bad, ")");
    }
  }
  Index count = 0;
  for (auto token = next_token(line, pos); !token.empty(); token = next_token(line, pos)) {
    T value{};
    if (!parse_number(token, value)) {
      return message("value ", count + 1, " of ", quote(word_text), ", ", quote(token),
                     ", is not a number");
    }
    if (out != nullptr && count < dim) out[count] = value;
    ++count;
  }
  if (count != dim) {
    return message("expected ", dim, " values after the word ", quote(word_text), ", found ",
                   count);
  }
  word.assign(word_text);
  return {};
}

// The number of values after the word on a text line ("word v1 ... vd"), or -1 when a token is
// not a number (then the line is not a record of a text format).
inline Index count_values(std::string_view line) {
  std::size_t pos = 0;
  if (line.empty() || is_space(line.front()) || next_token(line, pos).empty()) return -1;
  Index count = 0;
  for (auto token = next_token(line, pos); !token.empty(); token = next_token(line, pos)) {
    double value = 0;
    if (!parse_number(token, value)) return -1;
    ++count;
  }
  return count;
}

// What the text body parser needs to know about the file.
struct TextBody {
  Index rows = 0;  // records to load
  Index dim = 0;   // values per record
  bool extra_is_error =
      false;           // more records than `rows`: an error (header count) or the end (limit)
  Index declared = 0;  // the header's count, for messages
  bool strict_utf8 = false;
  std::uint64_t lines_before = 0;  // header lines already consumed
};

// Parses every record of a text body into words and vectors (pre-sized to body.rows), one block
// at a time, each block split among threads at line boundaries. Every record lands in its own
// row, so the result is the same for any thread count; the error reported is the first in the
// file. Blank lines are skipped.
template <class T>
void parse_text_body(BlockReader& reader, const TextBody& body, std::vector<std::string>& words,
                     Matrix<T>& vectors, RecordPlaces& places, Progress& progress) {
  struct Piece {
    std::size_t begin = 0, end = 0;
    Index records = 0;
    std::uint64_t lines = 0;
    std::uint64_t error_line = 0;  // 0: none
    std::string error;
    bool beyond = false;  // saw a record past body.rows
  };
  places.lines = true;
  places.place.assign(static_cast<std::size_t>(body.rows), 0);
  Index done = 0;
  std::uint64_t line_no = body.lines_before;
  const int threads = max_threads();
  for (;;) {
    const std::string_view text = reader.next_lines();
    if (text.empty()) break;
    const std::size_t n = text.size();
    const std::size_t count =
        n < (std::size_t{1} << 16) ? 1 : static_cast<std::size_t>(threads) * 4;
    // Cut points just after a '\n', near k * n / count: each piece holds whole lines.
    std::vector<Piece> pieces(count);
    for (std::size_t k = 1; k < count; ++k) {
      std::size_t cut = std::max(pieces[k - 1].begin, n * k / count);
      if (cut > 0 && cut < n) {
        const void* found = std::memchr(text.data() + cut - 1, '\n', n - cut + 1);
        cut =
            found ? static_cast<std::size_t>(static_cast<const char*>(found) - text.data()) + 1 : n;
      }
      pieces[k].begin = pieces[k - 1].end = cut;
    }
    pieces[count - 1].end = n;
    parallel_for(0, static_cast<std::int64_t>(count), 1, [&](std::int64_t k) {
      Piece& piece = pieces[static_cast<std::size_t>(k)];
      for_each_line(text.substr(piece.begin, piece.end - piece.begin), [&](std::string_view line) {
        ++piece.lines;
        if (!is_blank(line)) ++piece.records;
        return true;
      });
    });
    Index first_record = done;
    std::uint64_t first_line = line_no;
    std::vector<Index> records_before(count);
    std::vector<std::uint64_t> lines_before(count);
    for (std::size_t k = 0; k < count; ++k) {
      records_before[k] = first_record;
      lines_before[k] = first_line;
      first_record += pieces[k].records;
      first_line += pieces[k].lines;
    }
    parallel_for(0, static_cast<std::int64_t>(count), 1, [&](std::int64_t k) {
      const auto kk = static_cast<std::size_t>(k);
      Piece& piece = pieces[kk];
      Index row = records_before[kk];
      std::uint64_t line_at = lines_before[kk];
      for_each_line(text.substr(piece.begin, piece.end - piece.begin), [&](std::string_view line) {
        ++line_at;
        if (is_blank(line)) return true;
        if (row >= body.rows) {
          piece.beyond = true;
          if (body.extra_is_error) {
            piece.error_line = line_at;
            piece.error = message("more words than the header's count of ", body.declared);
          }
          return false;
        }
        const auto r = static_cast<std::size_t>(row);
        std::string problem = parse_record(line, body.dim, words[r],
                                           vectors.data() + row * body.dim, body.strict_utf8);
        if (!problem.empty()) {
          piece.error_line = line_at;
          piece.error = std::move(problem);
          return false;
        }
        places.place[r] = line_at;
        ++row;
        return true;
      });
    });
    for (const Piece& piece : pieces) {
      if (piece.error_line != 0) {
        throw_file_error(reader.where(), reader.path(), "line ", piece.error_line, ": ",
                         piece.error);
      }
    }
    done = std::min(first_record, body.rows);
    line_no = first_line;
    progress.update(reader.offset());
    if (done == body.rows && !body.extra_is_error) return;  // `limit` reached
  }
  if (done < body.rows) {
    throw_file_error(reader.where(), reader.path(), "line ", line_no, ": the file ends after ",
                     done, " of ", body.declared, " words (truncated?)");
  }
}

}  // namespace emb::detail
