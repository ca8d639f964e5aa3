#pragma once
// Word-vector evaluation sets, read as gensim reads them: analogy questions ("questions-words.txt":
// ": section" lines, then "a b c expected" lines) and word-pair similarity judgements
// ("wordsim353.tsv": "# comment" lines, then "word1<TAB>word2<TAB>score" lines); the options and
// results of WordVectors::evaluate_analogies and WordVectors::evaluate_pairs.

#include <cstdint>      // std::int64_t
#include <filesystem>   // std::filesystem::path
#include <fstream>      // std::ifstream
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <vector>       // std::vector

#include "emb/detail/file.hpp"
#include "emb/detail/vector_reader.hpp"
#include "emb/types.hpp"

namespace emb {

// How WordVectors::analogy ranks candidates d for "a is to b as c is to d".
enum class AnalogyMethod {
  add,  // 3CosAdd: cos(d, b - a + c) of unit vectors (gensim most_similar(positive=[b, c],
        // negative=[a]))
  mul,  // 3CosMul (Levy and Goldberg 2014, eq. 4, cosines shifted to [0, 1]): gensim
        // most_similar_cosmul
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

namespace detail {

// The lines of a text file, '\r\n' read as '\n' (as Python's text mode). Throws std::runtime_error
// naming the file when it cannot be read.
inline std::vector<std::string> read_lines(const char* where, const std::filesystem::path& path) {
  emb::detail::BlockReader reader(where, path);
  std::vector<std::string> lines;
  for (auto text = reader.next_lines(); !text.empty(); text = reader.next_lines()) {
    std::size_t pos = 0;
    while (pos < text.size()) {
      const std::size_t stop = std::min(text.find('\n', pos), text.size());
      std::string_view line = text.substr(pos, stop - pos);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      lines.emplace_back(line);
      pos = stop + 1;
    }
  }
  return lines;
}

inline bool is_space(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

// Python's str.split(): runs of whitespace separate, no empty fields.
inline std::vector<std::string_view> split_whitespace(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && is_space(line[pos])) ++pos;
    const std::size_t start = pos;
    while (pos < line.size() && !is_space(line[pos])) ++pos;
    if (pos > start) fields.push_back(line.substr(start, pos - start));
  }
  return fields;
}

inline std::string_view strip(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace detail
}  // namespace emb
