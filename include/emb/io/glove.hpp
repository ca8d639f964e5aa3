#pragma once
// The GloVe text format (Pennington et al.'s glove.*.txt files): "word v1 ... vd" lines and no
// header; the number of words and the dimension come from the file itself.

#include <algorithm>   // std::min, std::max
#include <cstdint>     // std::uint64_t
#include <cstdio>      // std::FILE
#include <filesystem>  // std::filesystem::path
#include <span>        // std::span
#include <string>      // std::string

#include <Eigen/Core>

#include "emb/detail/block_reader.hpp"
#include "emb/detail/check.hpp"
#include "emb/detail/file.hpp"
#include "emb/detail/progress.hpp"
#include "emb/detail/text_parse.hpp"
#include "emb/detail/tokenize.hpp"
#include "emb/detail/unique_words.hpp"
#include "emb/detail/vector_writer.hpp"
#include "emb/io/format.hpp"
#include "emb/io/word2vec.hpp"  // check_limit
#include "emb/types.hpp"

namespace emb::detail {

// load_glove for `where`, the function the user called: a first pass counts the records and
// takes the dimension from the first one, a second parses them (several threads, same result).
template <class T>
io::LoadedVectors<T> read_glove(const char* where, const std::filesystem::path& path,
                                const io::LoadOptions& options) {
  check_limit(where, options);
  Index records = 0, dim = 0;
  {
    BlockReader counter(where, path);
    std::uint64_t line_no = 0;
    for (auto text = counter.next_lines(); !text.empty(); text = counter.next_lines()) {
      for_each_line(text, [&](std::string_view line) {
        ++line_no;
        if (is_blank(line)) return true;
        if (records == 0) {
          dim = count_values(line);
          if (dim <= 0) {
            std::string word;
            const auto problem =
                parse_record<double>(line, std::max<Index>(dim, 1), word, nullptr, false);
            throw_file_error(where, path, "line ", line_no, ": ",
                             problem.empty() ? "no values after the word" : problem);
          }
        }
        ++records;
        return true;
      });
    }
    if (records == 0) throw_file_error(where, path, "the file is empty");
  }
  BlockReader reader(where, path);
  Progress progress(options.progress, "loading " + path.filename().string(), reader.file_size());
  const Index rows = options.limit ? std::min(records, *options.limit) : records;
  io::LoadedVectors<T> out;
  out.format = io::VectorFormat::glove;
  out.words.resize(static_cast<std::size_t>(rows));
  out.vectors.resize(rows, dim);
  RecordPlaces places;
  const TextBody body{.rows = rows,
                      .dim = dim,
                      .extra_is_error = false,
                      .declared = records,
                      .strict_utf8 = options.strict_utf8,
                      .lines_before = 0};
  parse_text_body(reader, body, out.words, out.vectors, places, progress);
  check_unique(where, path, out.words, places);
  return out;
}

// save_glove for `where`, the function the user called.
template <class Derived>
void write_glove(const char* where, const std::filesystem::path& path,
                 std::span<const std::string> words, const Eigen::MatrixBase<Derived>& vectors) {
  check_for_writing(where, words, vectors.rows(), vectors.cols());
  write_file_atomically(where, path,
                        [&](std::FILE* file) { write_text_records(file, words, vectors, false); });
}

}  // namespace emb::detail

namespace emb::io {

// Writes `words` and their `vectors` as GloVe text: one "word v1 ... vd" line each, values in
// shortest round-trip form, through a temporary flushed to the disk and renamed over `path`.
// Throws as save_word2vec: std::invalid_argument for mismatched sizes, an empty table or a word
// that is empty, has whitespace or appears twice; std::runtime_error if it cannot be written.
template <class Derived>
void save_glove(const std::filesystem::path& path, std::span<const std::string> words,
                const Eigen::MatrixBase<Derived>& vectors) {
  emb::detail::write_glove("emb::io::save_glove", path, words, vectors);
}

// Reads a GloVe text file into T (float or double). Blank lines are skipped; options.limit loads
// the first words only; options.format must be automatic or glove.
// Throws std::runtime_error naming the file and line for: a missing, unreadable or empty file, a
// line with the wrong number of values or a value that is not a number, a word seen twice, and
// (with strict_utf8) a word that is not UTF-8. std::invalid_argument for limit <= 0 or another
// options.format.
template <class T = float>
LoadedVectors<T> load_glove(const std::filesystem::path& path, const LoadOptions& options = {}) {
  static_assert(emb::detail::is_real_v<T>, "emb::io::load_glove<T>: T must be float or double");
  constexpr const char* where = "emb::io::load_glove";
  if (options.format != VectorFormat::automatic && options.format != VectorFormat::glove) {
    emb::detail::throw_invalid(where, ": options.format is ", to_string(options.format),
                               "; use load_word2vec or load_vectors");
  }
  return emb::detail::read_glove<T>(where, path, options);
}

}  // namespace emb::io
