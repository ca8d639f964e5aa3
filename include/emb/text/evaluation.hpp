#pragma once
// The two standard evaluations of word vectors, as gensim's KeyedVectors runs them, and the files
// they read: analogy questions ("questions-words.txt": ": section" lines, then "a b c expected"
// lines) and word-pair similarity judgements ("wordsim353.tsv": "# comment" lines, then
// "word1<TAB>word2<TAB>score" lines).

#include <algorithm>      // std::min
#include <array>          // std::array
#include <cstddef>        // std::size_t
#include <filesystem>     // std::filesystem::path
#include <string>         // std::string
#include <string_view>    // std::string_view
#include <unordered_map>  // std::unordered_map
#include <vector>         // std::vector

#include "emb/detail/block_reader.hpp"
#include "emb/detail/check.hpp"
#include "emb/detail/file.hpp"
#include "emb/detail/parse_number.hpp"
#include "emb/detail/statistics.hpp"
#include "emb/detail/tokenize.hpp"
#include "emb/detail/utf8.hpp"
#include "emb/text/word_vectors.hpp"
#include "emb/types.hpp"

namespace emb {

// An analogy test set as read_analogy_questions finds it.
struct AnalogyQuestions {
  struct Question {
    std::size_t section = 0;           // index into `sections`
    std::array<std::string, 4> words;  // a b c expected: "a is to b as c is to expected"
  };
  std::vector<std::string> sections;  // the names after ": "
  std::vector<Question> questions;    // in file order; lines of other than 4 words are left out
};

// One line of a word-pair file.
struct WordPair {
  std::string first, second;
  double score = 0;
};

// Aggregate: pass with designated initializers. Defaults are gensim's evaluate_word_analogies.
struct AnalogyOptions {
  Index restrict_vocab = 300000;  // only the first words count as known, and as answers
  bool case_insensitive = true;   // compare upper-cased words; the first of case variants wins
  AnalogyMethod method = AnalogyMethod::add;
};

struct AnalogySection {
  std::string section;  // the name after ": "
  Index correct = 0;
  Index total = 0;  // questions answered (those with unknown words are skipped)
};

struct AnalogyResult {
  double accuracy = 0;  // correct / total over all sections (0 when total is 0)
  Index correct = 0;
  Index total = 0;
  Index skipped = 0;  // questions with a word outside the known vocabulary
  std::vector<AnalogySection> sections;
};

// Aggregate: pass with designated initializers. Defaults are gensim's evaluate_word_pairs.
struct PairOptions {
  Index restrict_vocab = 300000;
  bool case_insensitive = true;
  char delimiter = '\t';
};

struct PairResult {
  double pearson = 0;    // Pearson's r between the file's scores and the cosine similarities
  double spearman = 0;   // Spearman's rho (ties get average ranks)
  double oov_ratio = 0;  // percent of pairs skipped for an unknown word
  Index pairs = 0;       // pairs used
  Index oov = 0;         // pairs skipped
};

}  // namespace emb

namespace emb::detail {

// The lines of a text file, '\r\n' read as '\n' (as Python's text mode). Throws std::runtime_error
// naming the file when it cannot be read.
inline std::vector<std::string> read_lines(const char* where, const std::filesystem::path& path) {
  BlockReader reader(where, path);
  std::vector<std::string> lines;
  for (auto text = reader.next_lines(); !text.empty(); text = reader.next_lines()) {
    for_each_line(text, [&](std::string_view line) {
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      lines.emplace_back(line);
      return true;
    });
  }
  return lines;
}

// read_analogy_questions for `where`, the function the user called.
inline AnalogyQuestions parse_analogy_questions(const char* where,
                                                const std::filesystem::path& path) {
  AnalogyQuestions out;
  const auto lines = read_lines(where, path);
  for (std::size_t line_no = 0; line_no < lines.size(); ++line_no) {
    const std::string_view line = lines[line_no];
    if (line.starts_with(": ")) {
      std::string_view name = line;
      while (!name.empty() && (name.front() == ':' || name.front() == ' ')) name.remove_prefix(1);
      out.sections.emplace_back(strip(name));
      continue;
    }
    if (out.sections.empty()) {
      throw_file_error(where, path, "line ", line_no + 1,
                       ": a question before the first \": section\" line");
    }
    const auto fields = split_whitespace(line);
    if (fields.size() != 4) continue;  // gensim skips it, uncounted
    AnalogyQuestions::Question question{.section = out.sections.size() - 1, .words = {}};
    for (std::size_t i = 0; i < 4; ++i) question.words[i] = std::string(fields[i]);
    out.questions.push_back(std::move(question));
  }
  return out;
}

// read_word_pairs for `where`, the function the user called.
inline std::vector<WordPair> parse_word_pairs(const char* where, const std::filesystem::path& path,
                                              char delimiter) {
  std::vector<WordPair> out;
  for (const auto& line : read_lines(where, path)) {
    if (line.starts_with('#')) continue;
    std::vector<std::string_view> fields;
    for (std::size_t pos = 0;;) {
      const std::size_t stop = line.find(delimiter, pos);
      fields.push_back(std::string_view(line).substr(pos, stop - pos));
      if (stop == std::string::npos) break;
      pos = stop + 1;
    }
    double score = 0;
    if (fields.size() != 3 || !parse_number(strip(fields[2]), score)) continue;  // as gensim
    out.push_back({std::string(fields[0]), std::string(fields[1]), score});
  }
  return out;
}

inline void check_restrict(const char* where, Index restrict_vocab) {
  if (restrict_vocab < 1) {
    throw_invalid(where, ": restrict_vocab must be positive, got ", restrict_vocab);
  }
}

// The first n words keyed as the evaluations compare them; of several words with the same key
// the first (the most frequent, in a frequency-sorted file) wins, as in gensim.
inline std::unordered_map<std::string, Index> known_words(const Vocabulary& vocabulary, Index n,
                                                          bool case_insensitive) {
  std::unordered_map<std::string, Index> known;
  known.reserve(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) {
    const auto& word = vocabulary.word(i);
    known.emplace(case_insensitive ? to_upper(word) : word, i);
  }
  return known;
}

}  // namespace emb::detail

namespace emb {

// Reads an analogy test set: sections start at ": name" lines; a line of other than 4 words is
// left out, as gensim does. Throws std::runtime_error naming the file when it cannot be read or
// a question comes before the first section.
inline AnalogyQuestions read_analogy_questions(const std::filesystem::path& path) {
  return detail::parse_analogy_questions("emb::read_analogy_questions", path);
}

// Reads a word-pair file: lines starting with '#' and lines that are not "word1 word2 score"
// split by `delimiter` (the score a number) are left out, as gensim does. Throws
// std::runtime_error naming the file when it cannot be read.
inline std::vector<WordPair> read_word_pairs(const std::filesystem::path& path,
                                             char delimiter = '\t') {
  return detail::parse_word_pairs("emb::read_word_pairs", path, delimiter);
}

// Accuracy on an analogy test set (read as read_analogy_questions reads it), as gensim's
// evaluate_word_analogies: a question with a word outside the first restrict_vocab words
// (upper-cased when case_insensitive) is skipped and counted in `skipped`; otherwise the answer
// is the first of the 5 best words (options.method, inputs excluded, searched among the first
// restrict_vocab words) that is not an input. All questions go through one batched query.
// Throws std::runtime_error naming the file when it cannot be read or a question comes before
// the first section; std::invalid_argument for restrict_vocab < 1.
template <class T>
AnalogyResult evaluate_analogies(const WordVectors<T>& vectors, const std::filesystem::path& path,
                                 const AnalogyOptions& options = {}) {
  constexpr const char* where = "emb::evaluate_analogies";
  detail::check_restrict(where, options.restrict_vocab);
  const Index n = std::min(options.restrict_vocab, vectors.size());
  const auto known = detail::known_words(vectors.vocabulary(), n, options.case_insensitive);
  const auto file = detail::parse_analogy_questions(where, path);
  AnalogyResult result;
  for (const auto& name : file.sections) result.sections.push_back({.section = name});
  struct Asked {
    std::size_t section;
    std::array<std::string, 4> key;  // a, b, c, expected as compared
  };
  std::vector<Asked> asked;
  std::vector<AnalogyQuery> queries;
  for (const auto& question : file.questions) {
    Asked q{.section = question.section, .key = {}};
    bool ok = true;
    for (std::size_t i = 0; i < 4; ++i) {
      q.key[i] = options.case_insensitive ? detail::to_upper(question.words[i]) : question.words[i];
      ok = ok && known.count(q.key[i]) != 0;
    }
    if (!ok) {
      ++result.skipped;
      continue;
    }
    queries.push_back({known.at(q.key[0]), known.at(q.key[1]), known.at(q.key[2])});
    asked.push_back(std::move(q));
  }
  const auto found = vectors.analogy_batch(queries, 5, options.method, n);
  for (std::size_t i = 0; i < asked.size(); ++i) {
    const auto& q = asked[i];
    std::string predicted;
    for (const auto& candidate : found[i]) {
      predicted = options.case_insensitive ? detail::to_upper(candidate.word) : candidate.word;
      if (known.count(predicted) && predicted != q.key[0] && predicted != q.key[1] &&
          predicted != q.key[2]) {
        break;
      }
    }
    auto& section = result.sections[q.section];
    ++section.total;
    if (!found[i].empty() && predicted == q.key[3]) ++section.correct;
  }
  for (const auto& section : result.sections) {
    result.correct += section.correct;
    result.total += section.total;
  }
  result.accuracy = result.total == 0
                        ? 0.0
                        : static_cast<double>(result.correct) / static_cast<double>(result.total);
  return result;
}

// Correlation with human similarity judgements (a file read as read_word_pairs reads it), as
// gensim's evaluate_word_pairs: a pair with a word outside the first restrict_vocab words
// (upper-cased when case_insensitive) is counted as OOV and skipped. Pearson and Spearman
// (average ranks for ties) between the scores and the cosine similarities; oov_ratio in percent.
// Throws std::runtime_error naming the file when it cannot be read or no pair is usable;
// std::invalid_argument for restrict_vocab < 1.
template <class T>
PairResult evaluate_pairs(const WordVectors<T>& vectors, const std::filesystem::path& path,
                          const PairOptions& options = {}) {
  constexpr const char* where = "emb::evaluate_pairs";
  detail::check_restrict(where, options.restrict_vocab);
  const auto known =
      detail::known_words(vectors.vocabulary(), std::min(options.restrict_vocab, vectors.size()),
                          options.case_insensitive);
  const auto key = [&](const std::string& word) {
    return options.case_insensitive ? detail::to_upper(word) : word;
  };
  std::vector<double> gold, model;
  PairResult result;
  for (const auto& pair : detail::parse_word_pairs(where, path, options.delimiter)) {
    const auto a = known.find(key(pair.first)), b = known.find(key(pair.second));
    if (a == known.end() || b == known.end()) {
      ++result.oov;
      continue;
    }
    gold.push_back(pair.score);
    model.push_back(vectors.similarity(vectors.vocabulary().word(a->second),
                                       vectors.vocabulary().word(b->second)));
  }
  if (gold.empty()) {
    detail::throw_file_error(where, path, "no usable word pairs (", result.oov,
                             " with unknown words)");
  }
  result.pairs = static_cast<Index>(gold.size());
  result.pearson = detail::pearson(gold, model);
  result.spearman = detail::spearman(gold, model);
  result.oov_ratio =
      100.0 * static_cast<double>(result.oov) / static_cast<double>(result.pairs + result.oov);
  return result;
}

}  // namespace emb
