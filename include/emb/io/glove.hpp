#pragma once
// The GloVe text format (Pennington et al.'s glove.*.txt files): "word v1 ... vd" lines and no
// header; the number of words and the dimension come from the file itself.

#include <cstdio>      // std::FILE
#include <filesystem>  // std::filesystem::path
#include <span>        // std::span
#include <string>      // std::string

#include <Eigen/Core>

#include "emb/detail/vector_reader.hpp"
#include "emb/io/format.hpp"
#include "emb/io/word2vec.hpp"  // the text record writer and the checks both formats share
#include "emb/types.hpp"

namespace emb::io {

// Writes `words` and their `vectors` as GloVe text: one "word v1 ... vd" line each, values in
// shortest round-trip form, through a temporary renamed over `path`.
// Throws as save_word2vec: std::invalid_argument for mismatched sizes, an empty table or a word
// that is empty, has whitespace or appears twice; std::runtime_error if it cannot be written.
template <class Derived>
void save_glove(const std::filesystem::path& path, std::span<const std::string> words,
                const Eigen::MatrixBase<Derived>& vectors) {
  constexpr const char* where = "emb::io::save_glove";
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
    detail::write_text_records(file, words, vectors, false);
  });
}

// Reads a GloVe text file into T (float or double): a first pass counts the records and takes
// the dimension from the first one, a second parses them (several threads, same result).
// options.format is ignored; blank lines are skipped; options.limit loads the first words only.
// Throws std::runtime_error naming the file and line for: a missing, unreadable or empty file, a
// line with the wrong number of values or a value that is not a number, a word seen twice, and
// (with strict_utf8) a word that is not UTF-8. std::invalid_argument for limit <= 0.
template <class T = float>
LoadedVectors<T> load_glove(const std::filesystem::path& path, const LoadOptions& options = {}) {
  static_assert(emb::detail::is_real_v<T>, "emb::io::load_glove<T>: T must be float or double");
  constexpr const char* where = "emb::io::load_glove";
  detail::check_limit(where, options);
  Index records = 0, dim = 0;
  {
    emb::detail::BlockReader counter(where, path);
    std::uint64_t line_no = 0;
    for (auto text = counter.next_lines(); !text.empty(); text = counter.next_lines()) {
      std::size_t pos = 0;
      while (pos < text.size()) {
        const std::size_t stop = std::min(text.find('\n', pos), text.size());
        const std::string_view line = text.substr(pos, stop - pos);
        ++line_no;
        if (!emb::detail::is_blank(line)) {
          if (records == 0) {
            dim = emb::detail::count_values(line);
            std::string word;
            if (dim <= 0) {
              const auto problem = emb::detail::parse_record<double>(line, std::max<Index>(dim, 1),
                                                                     word, nullptr, false);
              emb::detail::throw_file_error(where, path, "line ", line_no, ": ",
                                            problem.empty() ? "no values after the word" : problem);
            }
          }
          ++records;
        }
        pos = stop + 1;
      }
    }
    if (records == 0) emb::detail::throw_file_error(where, path, "the file is empty");
  }
  emb::detail::BlockReader reader(where, path);
  emb::detail::Progress progress(options.progress, "loading " + path.filename().string(),
                                 reader.file_size());
  const Index rows = options.limit ? std::min(records, *options.limit) : records;
  LoadedVectors<T> out;
  out.format = VectorFormat::glove;
  out.words.resize(static_cast<std::size_t>(rows));
  out.vectors.resize(rows, dim);
  emb::detail::RecordPlaces places;
  const emb::detail::TextBody body{.rows = rows,
                                   .dim = dim,
                                   .extra_is_error = false,
                                   .declared = records,
                                   .strict_utf8 = options.strict_utf8,
                                   .lines_before = 0};
  emb::detail::parse_text_body(reader, body, out.words, out.vectors, places, progress);
  emb::detail::check_unique(where, path, out.words, places);
  return out;
}

}  // namespace emb::io
