#pragma once
// WordVectors<T>: pretrained word vectors and the queries gensim's KeyedVectors answers, with
// gensim's semantics: nearest neighbours, analogies, similarity, the odd one out. The standard
// evaluations over them are in text/evaluation.hpp; docs/WORD_VECTORS.md maps every gensim
// KeyedVectors call to its name here.

#include <algorithm>    // std::find, std::min
#include <cmath>        // std::sqrt
#include <filesystem>   // std::filesystem::path
#include <memory>       // std::unique_ptr
#include <mutex>        // std::once_flag, std::call_once
#include <optional>     // std::optional
#include <span>         // std::span
#include <stdexcept>    // std::out_of_range
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <utility>      // std::move
#include <vector>       // std::vector

#include "emb/detail/check.hpp"
#include "emb/detail/escape.hpp"
#include "emb/detail/parallel.hpp"
#include "emb/detail/top_k.hpp"
#include "emb/embedding.hpp"
#include "emb/io/load.hpp"
#include "emb/text/vocabulary.hpp"
#include "emb/types.hpp"

namespace emb {

// Thrown by every WordVectors query for a word outside the vocabulary: a std::out_of_range whose
// what() names the function called and the word (escaped), and whose word() is the word as given.
class UnknownWord : public std::out_of_range {
 public:
  UnknownWord(const char* where, std::string_view word, Index vocabulary_size)
      : std::out_of_range(detail::message(where, ": the word ", detail::quote(word),
                                          " is not in the vocabulary (", vocabulary_size,
                                          " words)")),
        word_(word) {}
  const std::string& word() const { return word_; }

 private:
  std::string word_;
};

// How an analogy "a is to b as c is to d" ranks candidates d.
enum class AnalogyMethod {
  add,  // 3CosAdd: cos(d, b - a + c) of unit vectors (gensim most_similar(positive=[b, c],
        // negative=[a]))
  mul,  // 3CosMul (Levy and Goldberg 2014, eq. 4, cosines shifted to [0, 1]): gensim
        // most_similar_cosmul
};

// One question of WordVectors::analogy_batch, by rows: "a is to b as c is to ?".
struct AnalogyQuery {
  Index a = 0, b = 0, c = 0;
};

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
    return WordVectors(detail::read_vectors<T>("emb::WordVectors::load", path, options));
  }

  // Writes the words and vectors in `format` (word2vec, word2vec_binary or glove), as
  // emb::io::save_vectors, which load() reads back. Throws as save_vectors.
  void save(const std::filesystem::path& path,
            io::VectorFormat format = io::VectorFormat::word2vec_binary) const {
    detail::write_vectors("emb::WordVectors::save", path, vocabulary_.words(), vectors(), format);
  }

  const Vocabulary& vocabulary() const { return vocabulary_; }
  const Embedding<T>& embedding() const { return embedding_; }
  const Matrix<T>& vectors() const { return embedding_.weight(); }
  Index size() const { return vocabulary_.size(); }
  Index dim() const { return embedding_.embedding_dim(); }
  bool contains(std::string_view word) const { return vocabulary_.contains(word); }

  // The row of `word`. Throws UnknownWord for a word not in the vocabulary.
  Index index(std::string_view word) const { return index_of("emb::WordVectors::index", word); }

  // The vector of `word` (1, dim). Throws UnknownWord for an unknown word.
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
  // (gensim most_similar(word, topn=k)). Throws UnknownWord for an unknown word,
  // std::invalid_argument for k < 1.
  std::vector<Neighbour> similar(std::string_view word, Index k = 10) const {
    const std::string words[] = {std::string(word)};
    return mean_neighbours("emb::WordVectors::similar", words, {}, k, size());
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

  // Neighbours of many words at once, through one matrix product per tile of the table:
  // result[i] is similar(words[i], k). Throws as similar.
  std::vector<std::vector<Neighbour>> similar_batch(std::span<const std::string> words,
                                                    Index k = 10) const {
    constexpr const char* where = "emb::WordVectors::similar_batch";
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
  // input words excluded. Throws UnknownWord for an unknown word, std::invalid_argument for no
  // words at all or k < 1.
  std::vector<Neighbour> most_similar(std::span<const std::string> positive,
                                      std::span<const std::string> negative, Index k = 10,
                                      std::optional<Index> restrict_vocab = {}) const {
    return mean_neighbours("emb::WordVectors::most_similar", positive, negative, k,
                           restrict_vocab ? std::min(*restrict_vocab, size()) : size());
  }

  // "a is to b as c is to ?": the k best words d, inputs excluded. add: 3CosAdd, the words
  // nearest to b - a + c (gensim most_similar(positive=[b, c], negative=[a])); mul: 3CosMul
  // (gensim most_similar_cosmul(positive=[b, c], negative=[a])). Throws UnknownWord for an
  // unknown word, std::invalid_argument for k < 1.
  std::vector<Neighbour> analogy(std::string_view a, std::string_view b, std::string_view c,
                                 Index k = 10, AnalogyMethod method = AnalogyMethod::add) const {
    constexpr const char* where = "emb::WordVectors::analogy";
    const AnalogyQuery query{index_of(where, a), index_of(where, b), index_of(where, c)};
    return analogies(where, {&query, 1}, k, method, size()).front();
  }

  // Many analogies at once, by rows (see index()), answered among the first `restrict_vocab`
  // words (all by default): result[i] is analogy(word(a), word(b), word(c), k, method) for
  // queries[i]. Throws std::out_of_range for a row outside the table, std::invalid_argument for
  // k < 1 or restrict_vocab < 1.
  std::vector<std::vector<Neighbour>> analogy_batch(
      std::span<const AnalogyQuery> queries, Index k = 10,
      AnalogyMethod method = AnalogyMethod::add, std::optional<Index> restrict_vocab = {}) const {
    constexpr const char* where = "emb::WordVectors::analogy_batch";
    if (restrict_vocab && *restrict_vocab < 1) {
      detail::throw_invalid(where, ": restrict_vocab must be positive, got ", *restrict_vocab);
    }
    for (const auto& q : queries) {
      for (const Index row : {q.a, q.b, q.c}) {
        if (row < 0 || row >= size()) {
          detail::throw_out_of_range(where, ": row ", row, " is out of range [0, ", size(), ")");
        }
      }
    }
    return analogies(where, queries, k, method,
                     restrict_vocab ? std::min(*restrict_vocab, size()) : size());
  }

  // The cosine similarity of two words (gensim similarity). Throws UnknownWord for an unknown
  // word.
  double similarity(std::string_view w1, std::string_view w2) const {
    constexpr const char* where = "emb::WordVectors::similarity";
    const Matrix<T>& unit = unit_vectors();
    return static_cast<double>(unit.row(index_of(where, w1)).dot(unit.row(index_of(where, w2))));
  }

  // The word least like the others (gensim doesnt_match): the unit vectors' mean is normalized,
  // and the word whose unit vector has the smallest dot product with it is returned (ties: the
  // smallest word). Throws UnknownWord for an unknown word, std::invalid_argument for an empty
  // list.
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
    throw UnknownWord(where, word, size());
  }

  // Each row scaled to unit norm (the norm taken in double, as gensim's unitvec is accurate).
  static void normalize(Matrix<T>& rows) {
    for (Index i = 0; i < rows.rows(); ++i) {
      const double norm = std::sqrt(rows.row(i).template cast<double>().squaredNorm());
      if (norm > 0) rows.row(i) /= static_cast<T>(norm);
    }
  }

  // The mean of the unit vectors of `positive` minus those of `negative`, normalized, and its k
  // nearest among the first n words, the inputs excluded: similar and most_similar.
  std::vector<Neighbour> mean_neighbours(const char* where, std::span<const std::string> positive,
                                         std::span<const std::string> negative, Index k,
                                         Index n) const {
    check_k(where, k);
    if (positive.empty() && negative.empty()) detail::throw_invalid(where, ": no words given");
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
    return answers(query, {inputs}, k, n).front();
  }

  // 3CosAdd or 3CosMul answers of every query among the first n words, inputs excluded.
  std::vector<std::vector<Neighbour>> analogies(const char* where,
                                                std::span<const AnalogyQuery> queries, Index k,
                                                AnalogyMethod method, Index n) const {
    check_k(where, k);
    const Matrix<T>& unit = unit_vectors();
    const Index per_question = method == AnalogyMethod::add ? 1 : 3;
    Matrix<T> rows(static_cast<Index>(queries.size()) * per_question, dim());
    std::vector<std::vector<Index>> excluded(queries.size());
    for (std::size_t i = 0; i < queries.size(); ++i) {
      const auto& q = queries[i];
      const auto row = static_cast<Index>(i) * per_question;
      if (per_question == 1) {
        // As most_similar(positive=[b, c], negative=[a]) forms it, to the last bit.
        rows.row(row) = (unit.row(q.b) + unit.row(q.c) - unit.row(q.a)) / T(3);
      } else {
        rows.row(row) = unit.row(q.b), rows.row(row + 1) = unit.row(q.c);
        rows.row(row + 2) = unit.row(q.a);
      }
      excluded[i] = {q.b, q.c, q.a};
    }
    if (per_question == 1) {
      normalize(rows);
      return answers(rows, excluded, k, n);
    }
    return cosmul_answers(rows, excluded, k, n);
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
