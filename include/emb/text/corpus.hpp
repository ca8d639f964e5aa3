#pragma once
// Corpus: a training text read as word ids, with its counted Vocabulary, tokenized as fastText
// and word2vec tokenize.

#include <algorithm>      // std::sort
#include <cerrno>         // errno
#include <cstdint>        // std::int32_t, std::int64_t
#include <cstring>        // std::strerror
#include <filesystem>     // std::filesystem::path, is_directory
#include <fstream>        // std::ifstream
#include <iterator>       // std::istreambuf_iterator
#include <span>           // std::span
#include <string>         // std::string
#include <string_view>    // std::string_view
#include <unordered_map>  // std::unordered_map
#include <utility>        // std::pair
#include <vector>         // std::vector

#include "emb/detail/check.hpp"
#include "emb/detail/tokenize.hpp"
#include "emb/text/vocabulary.hpp"
#include "emb/types.hpp"

namespace emb {

// Aggregate: pass with designated initializers, e.g. {.min_count = 1}.
struct CorpusOptions {
  // Words seen fewer times are dropped from the vocabulary and from the ids (fastText's and
  // word2vec's -minCount / -min-count, default 5 in both).
  std::int64_t min_count = 5;
  // The token that ends every line, as fastText's and word2vec's Dictionary::EOS / "</s>".
  std::string end_of_line = "</s>";
};

// A text as word ids. Tokenization is fastText's (Dictionary::readWord) and word2vec's
// (ReadWord): tokens are maximal runs of bytes other than ' ', '\t', '\n', '\v', '\f', '\r' and
// '\0'; every '\n' is one more token, end_of_line ("</s>"), so an empty line is that token alone
// and a last line without '\n' has none. Words are byte strings, compared byte for byte.
//
// The vocabulary holds every token, end_of_line included, seen at least min_count times, with
// its count, most frequent first; ties keep the order of first occurrence (fastText leaves ties
// in std::sort's order). Line k is ids[line_starts[k], line_starts[k + 1]): the ids of a line's
// kept tokens, its end_of_line included when kept, as fastText's Dictionary::getLine reads a
// line for training (without its 1024-token cap). Lines with no kept token are not listed.
//
// Example:
//   emb::Corpus corpus = emb::read_corpus("corpus.txt", {.min_count = 5});
//   corpus.vocabulary.word(0);                       // the most frequent word, often "</s>"
//   for (emb::Index k = 0; k < corpus.lines(); ++k) train(corpus.line(k));
struct Corpus {
  Vocabulary vocabulary{};
  std::vector<std::int32_t> ids{};          // the kept tokens, line after line
  std::vector<std::int64_t> line_starts{};  // lines() + 1 offsets into ids
  std::int64_t tokens = 0;     // every token read, end_of_line and dropped words included
  std::int64_t line_ends = 0;  // the end_of_line tokens among them ('\n' in the text)

  Index lines() const {
    return line_starts.empty() ? 0 : static_cast<Index>(line_starts.size()) - 1;
  }

  // The ids of line k. Throws std::out_of_range for k outside [0, lines()).
  std::span<const std::int32_t> line(Index k) const {
    if (k < 0 || k >= lines()) {
      detail::throw_out_of_range("emb::Corpus::line: line ", k, " is out of range [0, ", lines(),
                                 ")");
    }
    const auto begin = static_cast<std::size_t>(line_starts[static_cast<std::size_t>(k)]);
    const auto end = static_cast<std::size_t>(line_starts[static_cast<std::size_t>(k) + 1]);
    return std::span<const std::int32_t>(ids).subspan(begin, end - begin);
  }
};

namespace detail {

// fastText's readWord splits on isspace() in the C locale (the library's whitespace) and on '\0'.
inline bool is_corpus_space(char c) {
  return is_space(c) || c == '\0';
}

// Calls on_token(token, is_end_of_line) for every token of `text`, in order.
template <class OnToken>
void for_each_corpus_token(std::string_view text, OnToken&& on_token) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    const char c = text[i];
    if (c == '\n') {
      on_token(std::string_view{}, true);
      ++i;
    } else if (is_corpus_space(c)) {
      ++i;
    } else {
      const std::size_t begin = i;
      while (i < n && !is_corpus_space(text[i])) ++i;
      on_token(text.substr(begin, i - begin), false);
    }
  }
}

}  // namespace detail

// Reads a corpus held in memory (see Corpus for the rules). Throws std::invalid_argument for a
// min_count below 1 or an end_of_line token that is empty or holds a space character.
inline Corpus parse_corpus(std::string_view text, const CorpusOptions& options = {}) {
  constexpr const char* where = "emb::parse_corpus";
  if (options.min_count < 1) {
    detail::throw_invalid(where, ": min_count must be at least 1, got ", options.min_count);
  }
  if (options.end_of_line.empty()) detail::throw_invalid(where, ": end_of_line is empty");
  for (char c : options.end_of_line) {
    if (detail::is_corpus_space(c)) {
      detail::throw_invalid(where, ": end_of_line holds a space character");
    }
  }
  const std::string_view eol = options.end_of_line;

  // Pass 1: count. Keys view `text` (end_of_line views the options), so no word is copied.
  struct Entry {
    std::int64_t count = 0;
    std::int64_t first = 0;  // order of first occurrence: ties are broken by it
    std::int32_t id = -1;
  };
  std::unordered_map<std::string_view, Entry> entries;
  Corpus corpus;
  detail::for_each_corpus_token(text, [&](std::string_view token, bool end_of_line) {
    auto [it, inserted] = entries.try_emplace(end_of_line ? eol : token);
    if (inserted) it->second.first = static_cast<std::int64_t>(entries.size());
    ++it->second.count;
    ++corpus.tokens;
    corpus.line_ends += end_of_line;
  });

  std::vector<std::pair<std::string_view, Entry*>> kept;
  for (auto& [word, entry] : entries) {
    if (entry.count >= options.min_count) kept.emplace_back(word, &entry);
  }
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
    if (a.second->count != b.second->count) return a.second->count > b.second->count;
    return a.second->first < b.second->first;
  });
  std::vector<std::string> words;
  std::vector<std::int64_t> counts;
  words.reserve(kept.size());
  counts.reserve(kept.size());
  for (std::size_t id = 0; id < kept.size(); ++id) {
    kept[id].second->id = static_cast<std::int32_t>(id);
    words.emplace_back(kept[id].first);
    counts.push_back(kept[id].second->count);
  }
  corpus.vocabulary = Vocabulary(std::move(words), std::move(counts));

  // Pass 2: the ids, line by line.
  corpus.line_starts.push_back(0);
  auto end_line = [&corpus] {
    const auto end = static_cast<std::int64_t>(corpus.ids.size());
    if (end > corpus.line_starts.back()) corpus.line_starts.push_back(end);
  };
  const std::int32_t eol_id = [&] {
    const auto it = entries.find(eol);
    return it == entries.end() ? -1 : it->second.id;
  }();
  detail::for_each_corpus_token(text, [&](std::string_view token, bool end_of_line) {
    const std::int32_t id = end_of_line ? eol_id : entries.find(token)->second.id;
    if (id >= 0) corpus.ids.push_back(id);
    if (end_of_line) end_line();
  });
  end_line();
  return corpus;
}

// Reads the corpus file at `path` (see Corpus for the rules). Throws std::runtime_error naming
// the file when it cannot be read, and what parse_corpus throws for bad options.
inline Corpus read_corpus(const std::filesystem::path& path, const CorpusOptions& options = {}) {
  std::error_code error;  // a directory opens on Linux but reads as nothing: say what it is
  if (std::filesystem::is_directory(path, error)) {
    detail::throw_runtime("emb::read_corpus: ", path.string(), ": is a directory");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    detail::throw_runtime("emb::read_corpus: ", path.string(), ": ", std::strerror(errno));
  }
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) detail::throw_runtime("emb::read_corpus: ", path.string(), ": read failed");
  return parse_corpus(text, options);
}

}  // namespace emb
