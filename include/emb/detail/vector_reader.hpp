#pragma once
// The readers behind emb::io::load_vectors: a block reader that keeps memory small, the
// record parser shared by the text formats (word2vec text and GloVe), a multithreaded body
// parser whose result does not depend on the thread count, and the word2vec binary body reader.

#include <algorithm>     // std::min, std::max, std::reverse
#include <bit>           // std::endian
#include <cerrno>        // errno
#include <charconv>      // std::from_chars
#include <cstdint>       // std::uint64_t
#include <cstring>       // std::memchr, std::memcpy, std::strerror
#include <filesystem>    // std::filesystem::path
#include <functional>    // std::hash
#include <limits>        // std::numeric_limits
#include <string>        // std::string
#include <string_view>   // std::string_view
#include <system_error>  // std::errc
#include <vector>        // std::vector

#include "emb/detail/check.hpp"
#include "emb/detail/file.hpp"
#include "emb/detail/parallel.hpp"
#include "emb/detail/progress.hpp"
#include "emb/detail/utf8.hpp"
#include "emb/types.hpp"

namespace emb::detail {

// Reads a file front to back through one buffer of a few megabytes, so loading never holds the
// file's text and the parsed table at once.
class BlockReader {
 public:
  static constexpr std::size_t block_size = std::size_t{2} << 20;

  BlockReader(const char* where, const std::filesystem::path& path)
      : where_(where), path_(path), file_(path, "rb") {
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) throw_file_error(where, path, "is a directory");
    if (!file_) throw_file_error(where, path, "cannot open: ", std::strerror(errno));
    size_ = std::filesystem::file_size(path, error);
    if (error) size_ = 0;  // a pipe or device: sizes only feed the progress bar
  }

  std::uint64_t file_size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }
  const char* where() const { return where_; }
  // The file offset of the first byte not yet consumed.
  std::uint64_t offset() const { return offset_; }
  std::string_view available() const { return {buffer_.data() + begin_, end_ - begin_}; }
  bool at_end() const { return eof_ && begin_ == end_; }

  // Makes at least `want` bytes available unless the file ends first; returns whether it did.
  bool fill(std::size_t want) {
    while (end_ - begin_ < want && !eof_) {
      if (begin_ > 0) {  // keep the unconsumed tail at the front
        std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      }
      if (buffer_.size() < std::max(want, block_size)) buffer_.resize(std::max(want, block_size));
      const std::size_t got =
          std::fread(buffer_.data() + end_, 1, buffer_.size() - end_, file_.get());
      if (std::ferror(file_.get()))
        throw_file_error(where_, path_, "read error at byte ", offset_ + (end_ - begin_));
      end_ += got;
      if (got == 0) eof_ = true;
    }
    return end_ - begin_ >= want;
  }

  void consume(std::size_t n) {
    begin_ += n;
    offset_ += n;
  }

  // The next run of whole lines (each ending in '\n', the file's last line possibly without),
  // about one block long; empty at the end of the file. Valid until the next call.
  std::string_view next_lines() {
    std::size_t want = block_size;
    for (;;) {
      fill(want);
      const std::string_view text = available();
      const auto last = text.rfind('\n');
      if (last != std::string_view::npos || eof_) {
        const std::size_t n = last != std::string_view::npos && !eof_ ? last + 1 : text.size();
        consume(n);
        return text.substr(0, n);
      }
      want = text.size() + block_size;  // a line longer than a block: read more
    }
  }

 private:
  const char* where_;
  std::filesystem::path path_;
  CFile file_;
  std::uint64_t size_ = 0;
  std::uint64_t offset_ = 0;
  std::vector<char> buffer_;
  std::size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
};

inline bool is_separator(char c) {
  return c == ' ' || c == '\t';
}

// A line without its trailing whitespace and carriage return.
inline std::string_view trim_right(std::string_view line) {
  while (!line.empty() && (is_separator(line.back()) || line.back() == '\r' ||
                           line.back() == '\n' || line.back() == '\v' || line.back() == '\f')) {
    line.remove_suffix(1);
  }
  return line;
}

inline bool is_blank(std::string_view line) {
  return trim_right(line).empty();
}

// How a bad token is quoted in a message: at most 40 bytes of it.
inline std::string quote(std::string_view token) {
  return "\"" + std::string(token.substr(0, 40)) + (token.size() > 40 ? "...\"" : "\"");
}

// Parses a whole token as a number, as Python's float() does for the tokens files hold: an
// optional sign ('+' too), decimal or exponent forms, inf and nan; too large gives +-inf and too
// small gives 0, rounded once from the decimal text to T.
template <class T>
bool parse_number(std::string_view token, T& value) {
  const char* begin = token.data();
  const char* end = begin + token.size();
  if (begin != end && *begin == '+' && end - begin > 1 && begin[1] != '-') ++begin;
  auto [ptr, error] = std::from_chars(begin, end, value);
  if (error == std::errc::result_out_of_range && ptr == end) {
    long double wide = 0;  // only out-of-range values take this path: the result is inf or 0
    std::from_chars(begin, end, wide);
    value = static_cast<T>(wide);
    return true;
  }
  return error == std::errc() && ptr == end;
}

// Parses "word v1 ... vd" (line without '\n'): the word into `word`, d values into `out`.
// Returns the empty string, or what is wrong with the line. With out == nullptr it only checks.
template <class T>
std::string parse_record(std::string_view line, Index dim, std::string& word, T* out,
                         bool strict_utf8) {
  line = trim_right(line);
  std::size_t pos = 0;
  while (pos < line.size() && !is_separator(line[pos])) ++pos;
  const std::string_view word_text = line.substr(0, pos);
  if (word_text.empty()) return "the line starts with whitespace (an empty word)";
  if (strict_utf8) {
    if (const auto bad = invalid_utf8_offset(word_text)) {
      return message("the word ", quote(word_text), " is not valid UTF-8 (byte ", *bad, ")");
    }
  }
  Index count = 0;
  while (pos < line.size()) {
    while (pos < line.size() && is_separator(line[pos])) ++pos;
    const std::size_t start = pos;
    while (pos < line.size() && !is_separator(line[pos])) ++pos;
    if (start == pos) break;
    const std::string_view token = line.substr(start, pos - start);
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
  line = trim_right(line);
  std::size_t pos = 0;
  while (pos < line.size() && !is_separator(line[pos])) ++pos;
  if (pos == 0) return -1;
  Index count = 0;
  while (pos < line.size()) {
    while (pos < line.size() && is_separator(line[pos])) ++pos;
    const std::size_t start = pos;
    while (pos < line.size() && !is_separator(line[pos])) ++pos;
    double value = 0;
    if (!parse_number(line.substr(start, pos - start), value)) return -1;
    ++count;
  }
  return count;
}

// Where each loaded word came from ("line 12" or "byte offset 4096"), for the duplicate check.
struct RecordPlaces {
  bool lines = true;
  std::vector<std::uint64_t> place;
  std::string describe(Index row) const {
    return message(lines ? "line " : "byte offset ", place[static_cast<std::size_t>(row)]);
  }
};

// Throws for the second occurrence of any word: a table cannot hold one word twice. An open
// addressing table of row numbers (4 bytes a slot, half full at most) keeps the check's memory a
// small fraction of the table's.
inline void check_unique(const char* where, const std::filesystem::path& path,
                         const std::vector<std::string>& words, const RecordPlaces& places) {
  constexpr std::uint32_t empty = std::numeric_limits<std::uint32_t>::max();
  std::size_t capacity = 16;
  while (capacity < 2 * words.size()) capacity *= 2;
  std::vector<std::uint32_t> slots(capacity, empty);
  const std::hash<std::string_view> hash;
  for (std::size_t i = 0; i < words.size(); ++i) {
    std::size_t slot = hash(words[i]) & (capacity - 1);
    while (slots[slot] != empty && words[slots[slot]] != words[i])
      slot = (slot + 1) & (capacity - 1);
    if (slots[slot] != empty) {
      throw_file_error(where, path, places.describe(static_cast<Index>(i)), ": the word ",
                       quote(words[i]), " appears again (first at ",
                       places.describe(static_cast<Index>(slots[slot])), ")");
    }
    slots[slot] = static_cast<std::uint32_t>(i);
  }
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
  const auto for_lines = [](std::string_view text, auto&& visit) {
    std::size_t pos = 0;
    while (pos < text.size()) {
      const void* found = std::memchr(text.data() + pos, '\n', text.size() - pos);
      const std::size_t stop =
          found ? static_cast<std::size_t>(static_cast<const char*>(found) - text.data())
                : text.size();
      if (!visit(text.substr(pos, stop - pos))) return;
      pos = stop + 1;
    }
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
      for_lines(text.substr(piece.begin, piece.end - piece.begin), [&](std::string_view line) {
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
      for_lines(text.substr(piece.begin, piece.end - piece.begin), [&](std::string_view line) {
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

// Reads the header line "count dim" of a word2vec file; throws naming line 1 when it is not two
// positive integers.
inline std::pair<Index, Index> read_word2vec_header(BlockReader& reader) {
  reader.fill(4096);
  std::string_view text = reader.available();
  if (text.empty()) throw_file_error(reader.where(), reader.path(), "the file is empty");
  std::size_t end = text.find('\n');
  while (end == std::string_view::npos && !reader.at_end() && text.size() < (1u << 20)) {
    reader.fill(text.size() + 4096);
    if (reader.available().size() == text.size()) break;
    text = reader.available();
    end = text.find('\n');
  }
  const std::string_view line = trim_right(text.substr(0, std::min(end, text.size())));
  Index values[2] = {0, 0};
  std::size_t pos = 0;
  bool ok = true;
  for (Index& value : values) {
    while (pos < line.size() && is_separator(line[pos])) ++pos;
    const auto [ptr, error] = std::from_chars(line.data() + pos, line.data() + line.size(), value);
    ok = ok && error == std::errc() && value > 0;
    pos = static_cast<std::size_t>(ptr - line.data());
  }
  if (!ok || pos != line.size() || end == std::string_view::npos) {
    throw_file_error(reader.where(), reader.path(), "line 1: bad header ", quote(line),
                     ": expected \"count dim\", two positive integers");
  }
  reader.consume(end + 1);
  return {values[0], values[1]};
}

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
