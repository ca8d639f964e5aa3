#pragma once
// WordVectors<T>: pretrained word vectors and the queries gensim's KeyedVectors answers, with
// gensim's semantics: nearest neighbours, analogies, similarity, the odd one out, and the two
// standard evaluations.

#include <algorithm>      // std::find, std::min
#include <cmath>          // std::sqrt
#include <filesystem>     // std::filesystem::path
#include <memory>         // std::unique_ptr
#include <mutex>          // std::once_flag, std::call_once
#include <optional>       // std::optional
#include <span>           // std::span
#include <string>         // std::string
#include <string_view>    // std::string_view
#include <unordered_map>  // std::unordered_map
#include <utility>        // std::move
#include <vector>         // std::vector

#include "emb/detail/check.hpp"
#include "emb/detail/parallel.hpp"
#include "emb/detail/statistics.hpp"
#include "emb/detail/top_k.hpp"
#include "emb/detail/utf8.hpp"
#include "emb/embedding.hpp"
#include "emb/io/load.hpp"
#include "emb/text/evaluation.hpp"
#include "emb/text/vocabulary.hpp"
#include "emb/types.hpp"

namespace emb {

// One answer of a similarity query.
struct Neighbour {
  std::string word;
  Index index = 0;        // its row
  double similarity = 0;  // cosine similarity (3CosMul: the 3CosMul score)
};

// A vocabulary and a frozen Embedding<T> (from_pretrained) of its vectors, row i the vector of
// word i, with the unit vectors cached on first use. Queries are gensim's KeyedVectors methods:
// cosine similarity over unit vectors, input words excluded from answers, exact-case lookups.
//
// Example:
//   auto vectors = emb::WordVectors<float>::load("vectors.bin");
//   for (const auto& n : vectors.similar("king", 5)) std::cout << n.word << ' ' << n.similarity;
//   vectors.analogy("man", "king", "woman");   // queen, hopefully: king - man + woman
template <class T>
class WordVectors {
  static_assert(detail::is_real_v<T>, "emb::WordVectors<T>: T must be float or double");

 public:
  using RowVector = Eigen::Matrix<T, 1, Eigen::Dynamic>;

  // Takes over the words and their vectors (vocabulary.size() rows).
  // Throws std::invalid_argument when the sizes differ or the table is empty.
  WordVectors(Vocabulary vocabulary, Matrix<T> vectors)
      : vocabulary_(std::move(vocabulary)),
        embedding_(make_embedding(vocabulary_.size(), std::move(vectors))) {}

  // From a loader's result (emb::io::load_vectors); throws std::invalid_argument for a duplicate
  // word.
  explicit WordVectors(io::LoadedVectors<T> loaded)
      : WordVectors(Vocabulary(std::move(loaded.words)), std::move(loaded.vectors)) {}

  // Loads a vector file (any format emb::io::load_vectors reads). Throws as load_vectors.
  static WordVectors load(const std::filesystem::path& path, const io::LoadOptions& options = {}) {
    return WordVectors(io::load_vectors<T>(path, options));
  }

  const Vocabulary& vocabulary() const { return vocabulary_; }
  const Embedding<T>& embedding() const { return embedding_; }
  const Matrix<T>& vectors() const { return embedding_.weight(); }
  Index size() const { return vocabulary_.size(); }
  Index dim() const { return embedding_.embedding_dim(); }
  bool contains(std::string_view word) const { return vocabulary_.contains(word); }

  // The vector of `word` (1, dim). Throws std::out_of_range for an unknown word.
  RowVector vector(std::string_view word) const {
    return vectors().row(index_of("emb::WordVectors::vector", word));
  }

  // Every vector scaled to unit L2 norm (a zero vector gives NaNs and never ranks), computed on
  // first use (thread-safe) and kept: (size(), dim()).
  const Matrix<T>& unit_vectors() const {
    std::call_once(cache_->once, [&] {
      const Matrix<T>& weight = vectors();
      cache_->unit.resize(weight.rows(), weight.cols());
      detail::parallel_for(0, weight.rows(), 4096, [&](Index i) {
        cache_->unit.row(i) =
            weight.row(i) /
            static_cast<T>(std::sqrt(weight.row(i).template cast<double>().squaredNorm()));
      });
    });
    return cache_->unit;
  }

  // The k words nearest to `word` by cosine similarity, best first, `word` itself excluded
  // (gensim most_similar(word, topn=k)). Throws std::out_of_range for an unknown word,
  // std::invalid_argument for k < 1.
  std::vector<Neighbour> similar(std::string_view word, Index k = 10) const {
    const std::string words[] = {std::string(word)};
    return most_similar(words, {}, k);
  }

  // The k words nearest to `vector` (1, dim) by cosine similarity, best first, none excluded.
  // Throws std::invalid_argument for a vector of the wrong size or k < 1.
  std::vector<Neighbour> similar(const Eigen::Ref<const RowVector>& vector, Index k = 10) const {
    constexpr const char* where = "emb::WordVectors::similar";
    check_k(where, k);
    if (vector.size() != dim()) {
      detail::throw_invalid(where, ": the vector has ", vector.size(), " values, want ", dim());
    }
    Matrix<T> query = vector;
    normalize(query);
    return answers(query, {std::vector<Index>{}}, k, size()).front();
  }

  // Neighbours of many words at once, through one matrix product: result[i] is similar(words[i],
  // k).
  std::vector<std::vector<Neighbour>> similar(std::span<const std::string> words,
                                              Index k = 10) const {
    constexpr const char* where = "emb::WordVectors::similar";
    check_k(where, k);
    const Matrix<T>& unit = unit_vectors();
    Matrix<T> queries(static_cast<Index>(words.size()), dim());
    std::vector<std::vector<Index>> excluded(words.size());
    for (std::size_t i = 0; i < words.size(); ++i) {
      const Index row = index_of(where, words[i]);
      queries.row(static_cast<Index>(i)) = unit.row(row);
      excluded[i] = {row};
    }
    normalize(queries);
    return answers(queries, excluded, k, size());
  }

  // gensim's most_similar(positive, negative, topn=k, restrict_vocab): the mean of the unit
  // vectors of `positive` minus those of `negative` (each weight 1, divided by their number),
  // normalized, then the k nearest of the first `restrict_vocab` words (all by default), the
  // input words excluded. Throws std::out_of_range for an unknown word, std::invalid_argument
  // for no words at all or k < 1.
  std::vector<Neighbour> most_similar(std::span<const std::string> positive,
                                      std::span<const std::string> negative, Index k = 10,
                                      std::optional<Index> restrict_vocab = {}) const {
    constexpr const char* where = "emb::WordVectors::most_similar";
    check_k(where, k);
    if (positive.empty() && negative.empty()) {
      detail::throw_invalid(where, ": no words given");
    }
    const Matrix<T>& unit = unit_vectors();
    Matrix<T> query = Matrix<T>::Zero(1, dim());
    std::vector<Index> inputs;
    for (const auto& word : positive) inputs.push_back(index_of(where, word));
    for (const auto& word : negative) inputs.push_back(index_of(where, word));
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (i < positive.size()) {
        query += unit.row(inputs[i]);
      } else {
        query -= unit.row(inputs[i]);
      }
    }
    query /= static_cast<T>(inputs.size());
    normalize(query);
    return answers(query, {inputs}, k, restrict_vocab ? std::min(*restrict_vocab, size()) : size())
        .front();
  }

  // "a is to b as c is to ?": the k best words d, inputs excluded. add: 3CosAdd, the words
  // nearest to b - a + c (gensim most_similar(positive=[b, c], negative=[a])); mul: 3CosMul
  // (gensim most_similar_cosmul(positive=[b, c], negative=[a])). Throws as most_similar.
  std::vector<Neighbour> analogy(std::string_view a, std::string_view b, std::string_view c,
                                 Index k = 10, AnalogyMethod method = AnalogyMethod::add) const {
    const std::string positive[] = {std::string(b), std::string(c)};
    const std::string negative[] = {std::string(a)};
    if (method == AnalogyMethod::add) return most_similar(positive, negative, k);
    constexpr const char* where = "emb::WordVectors::analogy";
    check_k(where, k);
    const Matrix<T>& unit = unit_vectors();
    const std::vector<Index> inputs{index_of(where, b), index_of(where, c), index_of(where, a)};
    Matrix<T> queries(3, dim());
    for (Index i = 0; i < 3; ++i) queries.row(i) = unit.row(inputs[static_cast<std::size_t>(i)]);
    return cosmul_answers(queries, {inputs}, k, size()).front();
  }

  // The cosine similarity of two words (gensim similarity). Throws std::out_of_range for an
  // unknown word.
  double similarity(std::string_view w1, std::string_view w2) const {
    constexpr const char* where = "emb::WordVectors::similarity";
    const Matrix<T>& unit = unit_vectors();
    return static_cast<double>(unit.row(index_of(where, w1)).dot(unit.row(index_of(where, w2))));
  }

  // The word least like the others (gensim doesnt_match): the unit vectors' mean is normalized,
  // and the word whose unit vector has the smallest dot product with it is returned (ties: the
  // smallest word). Throws std::out_of_range for an unknown word, std::invalid_argument for an
  // empty list.
  std::string odd_one_out(std::span<const std::string> words) const {
    constexpr const char* where = "emb::WordVectors::odd_one_out";
    if (words.empty()) detail::throw_invalid(where, ": no words given");
    const Matrix<T>& unit = unit_vectors();
    Matrix<T> rows(static_cast<Index>(words.size()), dim());
    for (std::size_t i = 0; i < words.size(); ++i) {
      rows.row(static_cast<Index>(i)) = unit.row(index_of(where, words[i]));
    }
    Matrix<T> mean = rows.colwise().sum() / static_cast<T>(words.size());
    normalize(mean);
    const Eigen::Matrix<T, Eigen::Dynamic, 1> dots = rows * mean.transpose();
    std::size_t worst = 0;
    for (std::size_t i = 1; i < words.size(); ++i) {
      const T d = dots(static_cast<Index>(i)), w = dots(static_cast<Index>(worst));
      if (d < w || (d == w && words[i] < words[worst])) worst = i;
    }
    return words[worst];
  }

  // Accuracy on an analogy test set, as gensim's evaluate_word_analogies: sections start at
  // ": name" lines; a line of other than 4 words is skipped; a question with a word outside the
  // first restrict_vocab words (upper-cased when case_insensitive) is skipped and counted in
  // `skipped`; otherwise the answer is the first of the 5 best words (b - a + c, inputs
  // excluded, searched among the first restrict_vocab words) that is not an input. All questions
  // go through one batched matrix product. Throws std::runtime_error naming the file when it
  // cannot be read or a question comes before the first section; std::invalid_argument for
  // restrict_vocab < 1.
  AnalogyResult evaluate_analogies(const std::filesystem::path& path,
                                   const AnalogyOptions& options = {}) const {
    constexpr const char* where = "emb::WordVectors::evaluate_analogies";
    if (options.restrict_vocab < 1) {
      detail::throw_invalid(where, ": restrict_vocab must be positive, got ",
                            options.restrict_vocab);
    }
    const Index n = std::min(options.restrict_vocab, size());
    const auto known = known_words(n, options.case_insensitive);
    struct Question {
      std::size_t section;
      Index a, b, c;
      std::string key[4];  // a, b, c, expected as compared
    };
    AnalogyResult result;
    std::vector<Question> questions;
    const auto lines = detail::read_lines(where, path);
    for (std::size_t line_no = 0; line_no < lines.size(); ++line_no) {
      const std::string_view line = lines[line_no];
      if (line.starts_with(": ")) {
        std::string_view name = line;
        while (!name.empty() && (name.front() == ':' || name.front() == ' ')) name.remove_prefix(1);
        result.sections.push_back({.section = std::string(detail::strip(name))});
        continue;
      }
      if (result.sections.empty()) {
        detail::throw_file_error(where, path, "line ", line_no + 1,
                                 ": a question before the first \": section\" line");
      }
      const auto fields = detail::split_whitespace(line);
      if (fields.size() != 4) continue;  // gensim skips it, uncounted
      Question q{.section = result.sections.size() - 1, .a = 0, .b = 0, .c = 0, .key = {}};
      bool ok = true;
      for (std::size_t i = 0; i < 4; ++i) {
        q.key[i] = options.case_insensitive ? detail::to_upper(fields[i]) : std::string(fields[i]);
        ok = ok && known.count(q.key[i]) != 0;
      }
      if (!ok) {
        ++result.skipped;
        continue;
      }
      q.a = known.at(q.key[0]), q.b = known.at(q.key[1]), q.c = known.at(q.key[2]);
      questions.push_back(std::move(q));
    }
    const Matrix<T>& unit = unit_vectors();
    const Index per_question = options.method == AnalogyMethod::add ? 1 : 3;
    Matrix<T> queries(static_cast<Index>(questions.size()) * per_question, dim());
    std::vector<std::vector<Index>> excluded(questions.size());
    for (std::size_t i = 0; i < questions.size(); ++i) {
      const auto& q = questions[i];
      const auto row = static_cast<Index>(i) * per_question;
      if (per_question == 1) {
        queries.row(row) = (unit.row(q.b) + unit.row(q.c) - unit.row(q.a)) / T(3);
      } else {
        queries.row(row) = unit.row(q.b), queries.row(row + 1) = unit.row(q.c);
        queries.row(row + 2) = unit.row(q.a);
      }
      excluded[i] = {q.a, q.b, q.c};
    }
    if (per_question == 1) normalize(queries);
    const auto found = per_question == 1 ? answers(queries, excluded, 5, n)
                                         : cosmul_answers(queries, excluded, 5, n);
    for (std::size_t i = 0; i < questions.size(); ++i) {
      const auto& q = questions[i];
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

  // Correlation with human similarity judgements, as gensim's evaluate_word_pairs: lines
  // starting with '#' are skipped, as are lines that are not "word1 word2 score" split by the
  // delimiter; a pair with a word outside the first restrict_vocab words (upper-cased when
  // case_insensitive) is counted as OOV and skipped. Pearson and Spearman (average ranks for
  // ties) between the scores and the cosine similarities; oov_ratio in percent. Throws
  // std::runtime_error naming the file when it cannot be read or no pair is usable;
  // std::invalid_argument for restrict_vocab < 1.
  PairResult evaluate_pairs(const std::filesystem::path& path,
                            const PairOptions& options = {}) const {
    constexpr const char* where = "emb::WordVectors::evaluate_pairs";
    if (options.restrict_vocab < 1) {
      detail::throw_invalid(where, ": restrict_vocab must be positive, got ",
                            options.restrict_vocab);
    }
    const auto known =
        known_words(std::min(options.restrict_vocab, size()), options.case_insensitive);
    const Matrix<T>& unit = unit_vectors();
    std::vector<double> gold, model;
    PairResult result;
    for (const auto& line : detail::read_lines(where, path)) {
      if (line.starts_with('#')) continue;
      std::vector<std::string_view> fields;
      for (std::size_t pos = 0;;) {
        const std::size_t stop = line.find(options.delimiter, pos);
        fields.push_back(std::string_view(line).substr(pos, stop - pos));
        if (stop == std::string::npos) break;
        pos = stop + 1;
      }
      double score = 0;
      if (fields.size() != 3 || !detail::parse_number(detail::strip(fields[2]), score)) continue;
      const auto key = [&](std::string_view word) {
        return options.case_insensitive ? detail::to_upper(word) : std::string(word);
      };
      const auto a = known.find(key(fields[0])), b = known.find(key(fields[1]));
      if (a == known.end() || b == known.end()) {
        ++result.oov;
        continue;
      }
      gold.push_back(score);
      model.push_back(static_cast<double>(unit.row(a->second).dot(unit.row(b->second))));
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

 private:
  struct Cache {
    std::once_flag once;
    Matrix<T> unit;
  };

  static Embedding<T> make_embedding(Index words, Matrix<T>&& vectors) {
    if (vectors.rows() != words) {
      detail::throw_invalid("emb::WordVectors: ", words, " words for ", vectors.rows(),
                            " vectors; they must be equal");
    }
    return Embedding<T>::from_pretrained(std::move(vectors));
  }

  static void check_k(const char* where, Index k) {
    if (k < 1) detail::throw_invalid(where, ": k must be at least 1, got ", k);
  }

  Index index_of(const char* where, std::string_view word) const {
    if (const auto found = vocabulary_.find(word)) return *found;
    detail::throw_out_of_range(where, ": the word \"", word, "\" is not in the vocabulary (",
                               size(), " words)");
  }

  // Each row scaled to unit norm (the norm taken in double, as gensim's unitvec is accurate).
  static void normalize(Matrix<T>& rows) {
    for (Index i = 0; i < rows.rows(); ++i) {
      const double norm = std::sqrt(rows.row(i).template cast<double>().squaredNorm());
      if (norm > 0) rows.row(i) /= static_cast<T>(norm);
    }
  }

  // The first n words keyed as the evaluations compare them; of several words with the same key
  // the first (the most frequent, in a frequency-sorted file) wins, as in gensim.
  std::unordered_map<std::string, Index> known_words(Index n, bool case_insensitive) const {
    std::unordered_map<std::string, Index> known;
    known.reserve(static_cast<std::size_t>(n));
    for (Index i = 0; i < n; ++i) {
      const auto& word = vocabulary_.word(i);
      known.emplace(case_insensitive ? detail::to_upper(word) : word, i);
    }
    return known;
  }

  std::vector<std::vector<Neighbour>> to_neighbours(
      std::vector<std::vector<detail::Scored<T>>>&& found) const {
    std::vector<std::vector<Neighbour>> result(found.size());
    for (std::size_t q = 0; q < found.size(); ++q) {
      for (const auto& hit : found[q]) {
        result[q].push_back(
            {vocabulary_.word(hit.index), hit.index, static_cast<double>(hit.score)});
      }
    }
    return result;
  }

  // Cosine similarity of unit queries with the first n unit vectors.
  std::vector<std::vector<Neighbour>> answers(const Matrix<T>& queries,
                                              const std::vector<std::vector<Index>>& excluded,
                                              Index k, Index n) const {
    return to_neighbours(
        detail::top_k(unit_vectors(), n, queries, k, excluded,
                      [](const auto& tile, Index q, Index) { return tile.row(q); }));
  }

  // 3CosMul over rows (b, c, a) of each question: gensim most_similar_cosmul's score
  // ((1 + cos b)/2 * (1 + cos c)/2) / ((1 + cos a)/2 + 1e-6).
  std::vector<std::vector<Neighbour>> cosmul_answers(
      const Matrix<T>& queries, const std::vector<std::vector<Index>>& excluded, Index k,
      Index n) const {
    return to_neighbours(detail::top_k(
        unit_vectors(), n, queries, k, excluded,
        [](const auto& tile, Index q, Index) {
          const auto shift = [&](Index r) { return (tile.row(q + r).array() + T(1)) / T(2); };
          return ((shift(0) * shift(1)) / (shift(2) + T(1e-6))).eval();
        },
        3));
  }

  Vocabulary vocabulary_;
  Embedding<T> embedding_;
  std::unique_ptr<Cache> cache_ = std::make_unique<Cache>();
};

}  // namespace emb
