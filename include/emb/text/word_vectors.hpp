#pragma once
// WordVectors<T>: pretrained word vectors and the queries gensim's KeyedVectors answers, with
// gensim's semantics: nearest neighbours, analogies, similarity, the odd one out. The standard
// evaluations over them are in text/evaluation.hpp; docs/WORD_VECTORS.md maps every gensim
// KeyedVectors call to its name here.

#include <algorithm>    // std::find, std::min
#include <cmath>        // std::sqrt
#include <filesystem>   // std::filesystem::path
#include <functional>   // std::function
#include <memory>       // std::unique_ptr
#include <mutex>        // std::once_flag, std::call_once
#include <optional>     // std::optional
#include <span>         // std::span
#include <stdexcept>    // std::out_of_range
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <type_traits>  // std::is_same_v
#include <utility>      // std::move
#include <variant>      // std::variant, std::get_if
#include <vector>       // std::vector

#include "emb/detail/check.hpp"
#include "emb/detail/escape.hpp"
#include "emb/detail/parallel.hpp"
#include "emb/detail/top_k.hpp"
#include "emb/embedding.hpp"
#include "emb/io/load.hpp"
#include "emb/quantized.hpp"
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

// A vocabulary and a table of its vectors, row i the vector of word i. Queries are gensim's
// KeyedVectors methods: cosine similarity over unit vectors, input words excluded from answers,
// exact-case lookups. The table is one of:
//   - owned floats (a Matrix<T>, kept as a frozen Embedding<T>): the unit vectors are computed on
//     first use and kept, and every scan multiplies by them;
//   - a float table read where it is, e.g. the pages of a memory-mapped .npy or .safetensors file
//     (Embedding<T>::from_mapped), or a compressed QuantizedTable (float16, bfloat16, int8, int4,
//     int2): nothing the size of the table is ever allocated. A scan decodes a tile of rows at a
//     time into a small buffer, scales each to unit norm by its norm (one value per row, computed
//     on the first scan and kept) and multiplies the tile by the queries.
// The unit rows are computed by the same arithmetic in every form, so a mapped table answers
// exactly as the same rows owned do, and a compressed table exactly as an owned table of its
// decoded values (QuantizedTable::dequantize()) does.
//
// Example:
//   auto vectors = emb::WordVectors<float>::load("vectors.bin");
//   for (const auto& n : vectors.similar("king", 5)) std::cout << n.word << ' ' << n.similarity;
//   vectors.analogy("man", "king", "woman");   // queen, hopefully: king - man + woman
//   emb::WordVectors<float> small(vectors.vocabulary(),
//                                 emb::QuantizedTable::quantize(vectors.vectors(),
//                                                               emb::Storage::int8));
template <class T>
class WordVectors {
  static_assert(detail::is_real_v<T>, "emb::WordVectors<T>: T must be float or double");

 public:
  using RowVector = Eigen::Matrix<T, 1, Eigen::Dynamic>;
  // Gives a word outside the vocabulary a vector (fastText's subwords: emb::to_word_vectors in
  // emb/text/fasttext_vectors.hpp): writes dim() values to `out` and returns true, or returns
  // false when it has none for the word.
  using UnknownWordVector = std::function<bool(std::string_view word, Eigen::Ref<RowVector> out)>;

  // Takes over the words and their vectors (vocabulary.size() rows).
  // Throws std::invalid_argument when the sizes differ or the table is empty.
  WordVectors(Vocabulary vocabulary, Matrix<T> vectors)
      : vocabulary_(std::move(vocabulary)),
        table_(make_embedding(vocabulary_.size(), std::move(vectors))) {}

  // Over a float table of vectors (vocabulary.size() rows), kept as it is: an owned table answers
  // as from its weight; a mapped one (Embedding<T>::from_mapped(emb::io::map_npy<T>(...))) is read
  // from the file's pages, never copied. Throws std::invalid_argument when the sizes differ.
  WordVectors(Vocabulary vocabulary, Embedding<T> table)
      : vocabulary_(std::move(vocabulary)), table_(check_rows(vocabulary_, std::move(table))) {}

  // Over a compressed table (vocabulary.size() rows): queries decode its rows as they scan them,
  // with the answers of WordVectors(vocabulary, table.dequantize()), without that float copy.
  // Throws std::invalid_argument when the sizes differ.
  WordVectors(Vocabulary vocabulary, QuantizedTable table)
      : vocabulary_(std::move(vocabulary)), table_(check_rows(vocabulary_, std::move(table))) {}

  // As above, with vectors for words outside the vocabulary: vector, similar, most_similar,
  // analogy, similarity and odd_one_out then accept any word `unknown` gives a vector to, as
  // gensim's FastTextKeyedVectors does; answers are vocabulary words, and only vocabulary words
  // are excluded from them. Evaluations and the *_batch calls by row use the vocabulary only.
  WordVectors(Vocabulary vocabulary, Matrix<T> vectors, UnknownWordVector unknown)
      : WordVectors(std::move(vocabulary), std::move(vectors)) {
    unknown_ = std::move(unknown);
  }

  // From a loader's result (emb::io::load_vectors); throws std::invalid_argument for a duplicate
  // word.
  explicit WordVectors(io::LoadedVectors<T> loaded)
      : WordVectors(Vocabulary(std::move(loaded.words)), std::move(loaded.vectors)) {}

  // Loads a vector file (any format emb::io::load_vectors reads). Throws as load_vectors.
  static WordVectors load(const std::filesystem::path& path, const io::LoadOptions& options = {}) {
    return WordVectors(detail::read_vectors<T>("emb::WordVectors::load", path, options));
  }

  // Writes the words and vectors in `format` (word2vec, word2vec_binary or glove), as
  // emb::io::save_vectors, which load() reads back (a compressed table writes its decoded
  // values). Throws as save_vectors.
  void save(const std::filesystem::path& path,
            io::VectorFormat format = io::VectorFormat::word2vec_binary) const {
    constexpr const char* where = "emb::WordVectors::save";
    if (const auto* packed = compressed()) {
      detail::write_vectors(where, path, vocabulary_.words(), decoded(*packed), format);
    } else {
      detail::write_vectors(where, path, vocabulary_.words(), view(), format);
    }
  }

  const Vocabulary& vocabulary() const { return vocabulary_; }
  Index size() const { return vocabulary_.size(); }
  Index dim() const {
    const auto* table = std::get_if<Embedding<T>>(&table_);
    return table ? table->embedding_dim() : std::get<QuantizedTable>(table_).embedding_dim();
  }

  // Whether the vectors are an owned Matrix<T> (vectors() and unit_vectors() need one).
  bool owned() const {
    const auto* table = std::get_if<Embedding<T>>(&table_);
    return table && !table->mapped();
  }
  // Whether the vectors are float rows read where they are (Embedding<T>::from_mapped).
  bool mapped() const {
    const auto* table = std::get_if<Embedding<T>>(&table_);
    return table && table->mapped();
  }
  // The compressed table, or nullptr when the vectors are float rows.
  const QuantizedTable* compressed() const { return std::get_if<QuantizedTable>(&table_); }

  // The float table, owned or mapped. Throws std::logic_error for a compressed table.
  const Embedding<T>& embedding() const { return floats("embedding"); }
  // The vectors (size(), dim()), owned. Throws std::logic_error for a mapped table (view() reads
  // it) or a compressed one (compressed()->dequantize() decodes it).
  const Matrix<T>& vectors() const { return owned_weight("vectors"); }
  // The vectors (size(), dim()), owned or mapped, without a copy. Throws std::logic_error for a
  // compressed table.
  Eigen::Map<const Matrix<T>> view() const { return floats("view").view(); }
  bool contains(std::string_view word) const { return vocabulary_.contains(word); }

  // The row of `word`. Throws UnknownWord for a word not in the vocabulary.
  Index index(std::string_view word) const { return index_of("emb::WordVectors::index", word); }

  // The vector of `word` (1, dim). Throws UnknownWord for an unknown word.
  RowVector vector(std::string_view word) const {
    if (const auto found = vocabulary_.find(word)) {
      RowVector out(dim());
      decode(*found, 1, out.data());
      return out;
    }
    RowVector out(dim());
    if (unknown_ && unknown_(word, out)) return out;
    throw UnknownWord("emb::WordVectors::vector", word, size());
  }

  // Every vector scaled to unit L2 norm (a zero vector gives NaNs and never ranks), computed on
  // first use (thread-safe) and kept: (size(), dim()). Only an owned table keeps them; for a
  // mapped or compressed one, which queries without a table-sized copy, throws std::logic_error.
  const Matrix<T>& unit_vectors() const {
    const Matrix<T>& weight = owned_weight("unit_vectors");
    std::call_once(cache_->once, [&] {
      cache_->unit.resize(weight.rows(), weight.cols());
      detail::parallel_for(0, weight.rows(), 4096, [&](Index i) {
        cache_->unit.row(i) = weight.row(i) / row_norm(weight.row(i).data());
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
    Matrix<T> queries(static_cast<Index>(words.size()), dim());
    std::vector<std::vector<Index>> excluded(words.size());
    for (std::size_t i = 0; i < words.size(); ++i) {
      if (const auto row = unit_of(where, words[i], queries.row(static_cast<Index>(i)))) {
        excluded[i] = {*row};
      }
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
    if (!unknown_) {
      const AnalogyQuery query{index_of(where, a), index_of(where, b), index_of(where, c)};
      return analogies(where, {&query, 1}, k, method, size()).front();
    }
    // Rows b, c, a, as analogies() forms them, from unit vectors of any words.
    check_k(where, k);
    Matrix<T> rows(3, dim());
    std::vector<Index> excluded;
    const std::string_view words[] = {b, c, a};
    for (Index i = 0; i < 3; ++i) {
      if (const auto row = unit_of(where, words[i], rows.row(i))) excluded.push_back(*row);
    }
    if (method == AnalogyMethod::mul) return cosmul_answers(rows, {excluded}, k, size()).front();
    Matrix<T> query = (rows.row(0) + rows.row(1) - rows.row(2)) / T(3);
    normalize(query);
    return answers(query, {excluded}, k, size()).front();
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
    Matrix<T> units(2, dim());
    unit_of(where, w1, units.row(0));
    unit_of(where, w2, units.row(1));
    return static_cast<double>(units.row(0).dot(units.row(1)));
  }

  // The word least like the others (gensim doesnt_match): the unit vectors' mean is normalized,
  // and the word whose unit vector has the smallest dot product with it is returned (ties: the
  // smallest word). Throws UnknownWord for an unknown word, std::invalid_argument for an empty
  // list.
  std::string odd_one_out(std::span<const std::string> words) const {
    constexpr const char* where = "emb::WordVectors::odd_one_out";
    if (words.empty()) detail::throw_invalid(where, ": no words given");
    Matrix<T> rows(static_cast<Index>(words.size()), dim());
    for (std::size_t i = 0; i < words.size(); ++i) {
      unit_of(where, words[i], rows.row(static_cast<Index>(i)));
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
    Matrix<T> unit;  // an owned table's unit vectors
    std::once_flag norms_once;
    std::vector<T> norms;  // a mapped or compressed table's row norms
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

  // The unit vector of `word` into `out`, and its row when it is in the vocabulary (nullopt for
  // a word given a vector by unknown_). Throws UnknownWord for a word without a vector.
  std::optional<Index> unit_of(const char* where, std::string_view word,
                               Eigen::Ref<RowVector> out) const {
    if (const auto found = vocabulary_.find(word)) {
      unit_row(*found, out);
      return found;
    }
    if (!unknown_ || !unknown_(word, out)) throw UnknownWord(where, word, size());
    const double norm = std::sqrt(out.template cast<double>().squaredNorm());
    if (norm > 0) out /= static_cast<T>(norm);
    return std::nullopt;
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
    Matrix<T> query = Matrix<T>::Zero(1, dim());
    Matrix<T> unit(1, dim());
    std::vector<Index> inputs;
    const std::size_t count = positive.size() + negative.size();
    for (std::size_t i = 0; i < count; ++i) {
      const bool is_positive = i < positive.size();
      const auto& word = is_positive ? positive[i] : negative[i - positive.size()];
      if (const auto row = unit_of(where, word, unit.row(0))) inputs.push_back(*row);
      if (is_positive) {
        query += unit;
      } else {
        query -= unit;
      }
    }
    query /= static_cast<T>(count);
    normalize(query);
    return answers(query, {inputs}, k, n).front();
  }

  // 3CosAdd or 3CosMul answers of every query among the first n words, inputs excluded.
  std::vector<std::vector<Neighbour>> analogies(const char* where,
                                                std::span<const AnalogyQuery> queries, Index k,
                                                AnalogyMethod method, Index n) const {
    check_k(where, k);
    const Index per_question = method == AnalogyMethod::add ? 1 : 3;
    Matrix<T> rows(static_cast<Index>(queries.size()) * per_question, dim());
    Matrix<T> unit(3, dim());  // rows b, c, a
    std::vector<std::vector<Index>> excluded(queries.size());
    for (std::size_t i = 0; i < queries.size(); ++i) {
      const auto& q = queries[i];
      const auto row = static_cast<Index>(i) * per_question;
      unit_row(q.b, unit.row(0)), unit_row(q.c, unit.row(1)), unit_row(q.a, unit.row(2));
      if (per_question == 1) {
        // As most_similar(positive=[b, c], negative=[a]) forms it, to the last bit.
        rows.row(row) = (unit.row(0) + unit.row(1) - unit.row(2)) / T(3);
      } else {
        rows.middleRows(row, 3) = unit;
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
    return to_neighbours(scan(n, queries, k, excluded,
                              [](const auto& tile, Index q, Index) { return tile.row(q); }));
  }

  // 3CosMul over rows (b, c, a) of each question: gensim most_similar_cosmul's score
  // ((1 + cos b)/2 * (1 + cos c)/2) / ((1 + cos a)/2 + 1e-6).
  std::vector<std::vector<Neighbour>> cosmul_answers(
      const Matrix<T>& queries, const std::vector<std::vector<Index>>& excluded, Index k,
      Index n) const {
    return to_neighbours(scan(
        n, queries, k, excluded,
        [](const auto& tile, Index q, Index) {
          const auto shift = [&](Index r) { return (tile.row(q + r).array() + T(1)) / T(2); };
          return ((shift(0) * shift(1)) / (shift(2) + T(1e-6))).eval();
        },
        3));
  }

  // detail::top_k over the unit vectors: an owned table's kept ones, else tiles of rows decoded
  // and scaled by their kept norms (the same values: see unit_rows).
  template <class Score>
  std::vector<std::vector<detail::Scored<T>>> scan(Index n, const Matrix<T>& queries, Index k,
                                                   std::span<const std::vector<Index>> excluded,
                                                   Score&& score, Index per_group = 1) const {
    if (owned()) {
      const Matrix<T>& unit = unit_vectors();
      return detail::top_k(
          [&](Index first, Index rows, Matrix<T>&) { return unit.middleRows(first, rows); }, n,
          queries, k, excluded, std::forward<Score>(score), per_group);
    }
    row_norms();  // before the threads start
    return detail::top_k(
        [&](Index first, Index rows, Matrix<T>& scratch) {
          if (scratch.rows() < rows || scratch.cols() != dim()) scratch.resize(rows, dim());
          unit_rows(first, rows, scratch.data());
          return Eigen::Map<const Matrix<T>>(scratch.data(), rows, dim());
        },
        n, queries, k, excluded, std::forward<Score>(score), per_group);
  }

  const Embedding<T>& floats(const char* what) const {
    if (const auto* table = std::get_if<Embedding<T>>(&table_)) return *table;
    throw std::logic_error(detail::message("emb::WordVectors::", what, ": the vectors are a ",
                                           to_string(compressed()->storage()),
                                           " compressed table, not float rows"));
  }

  const Matrix<T>& owned_weight(const char* what) const {
    const Embedding<T>& table = floats(what);
    if (table.mapped()) {
      throw std::logic_error(detail::message("emb::WordVectors::", what,
                                             ": the vectors are mapped from a file, not owned (",
                                             "view() reads them)"));
    }
    return table.weight();
  }

  template <class Table>
  static Table check_rows(const Vocabulary& vocabulary, Table&& table) {
    if (table.num_embeddings() != vocabulary.size()) {
      detail::throw_invalid("emb::WordVectors: ", vocabulary.size(), " words for ",
                            table.num_embeddings(), " vectors; they must be equal");
    }
    return std::move(table);
  }

  // A compressed table's rows decoded as T.
  static Matrix<T> decoded(const QuantizedTable& table) {
    if constexpr (std::is_same_v<T, float>) {
      return table.dequantize();
    } else {
      return table.dequantize().template cast<T>();
    }
  }

  // The L2 norm of a row of dim() values (summed in double, as gensim's unitvec is accurate), in a
  // fixed order whatever the row's address: a row read from a file, decoded or owned gets the
  // same norm, so every form of a table has the same unit vectors.
  T row_norm(const T* row) const {
    constexpr int lanes = 8;
    double sum[lanes] = {};
    const Index d = dim(), whole = d / lanes * lanes;
    for (Index j = 0; j < whole; j += lanes) {
      for (int l = 0; l < lanes; ++l) {
        const auto x = static_cast<double>(row[j + l]);
        sum[l] += x * x;
      }
    }
    for (Index j = whole; j < d; ++j) {
      const auto x = static_cast<double>(row[j]);
      sum[j - whole] += x * x;
    }
    const double total =
        ((sum[0] + sum[1]) + (sum[2] + sum[3])) + ((sum[4] + sum[5]) + (sum[6] + sum[7]));
    return static_cast<T>(std::sqrt(total));
  }

  // Rows [first, first + count) as T into `out` ((count, dim()), row-major).
  void decode(Index first, Index count, T* out) const {
    const Index d = dim();
    if (const auto* table = std::get_if<Embedding<T>>(&table_)) {
      const T* rows = table->view().data() + first * d;
      std::copy(rows, rows + count * d, out);
      return;
    }
    std::get<QuantizedTable>(table_).visit_rows([&](const auto& rows) {
      if constexpr (std::is_same_v<T, float>) {
        for (Index i = 0; i < count; ++i) {
          float* row = out + i * d;
          const float* got = rows.columns(first + i, 0, d, row);
          if (got != row) std::copy(got, got + d, row);
        }
      } else {
        std::vector<float> buffer(static_cast<std::size_t>(d));
        for (Index i = 0; i < count; ++i) {
          const float* got = rows.columns(first + i, 0, d, buffer.data());
          std::copy(got, got + d, out + i * d);
        }
      }
    });
  }

  // The unit vector of row r into `out`: unit_vectors().row(r), computed alike for every table.
  void unit_row(Index r, Eigen::Ref<RowVector> out) const {
    if (owned()) {
      out = unit_vectors().row(r);
      return;
    }
    RowVector row(dim());
    decode(r, 1, row.data());
    out = row / row_norm(row.data());
  }

  // Unit rows [first, first + count) into `out` ((count, dim()), row-major), dividing each
  // decoded row by its kept norm as unit_vectors() divides an owned row by its norm.
  void unit_rows(Index first, Index count, T* out) const {
    decode(first, count, out);
    const auto& norms = row_norms();
    for (Index i = 0; i < count; ++i) {
      Eigen::Map<RowVector> row(out + i * dim(), dim());
      row = row / norms[static_cast<std::size_t>(first + i)];
    }
  }

  // The norm of every row of a mapped or compressed table, computed on first use (thread-safe)
  // and kept: size() values, the only per-row memory such a table's queries keep.
  const std::vector<T>& row_norms() const {
    std::call_once(cache_->norms_once, [&] {
      cache_->norms.resize(static_cast<std::size_t>(size()));
      constexpr Index block = 256;
      detail::parallel_for(0, (size() + block - 1) / block, 4, [&](Index b) {
        const Index first = b * block, count = std::min(block, size() - first);
        std::vector<T> rows(static_cast<std::size_t>(count * dim()));
        decode(first, count, rows.data());
        for (Index i = 0; i < count; ++i) {
          cache_->norms[static_cast<std::size_t>(first + i)] = row_norm(rows.data() + i * dim());
        }
      });
    });
    return cache_->norms;
  }

  Vocabulary vocabulary_;
  std::variant<Embedding<T>, QuantizedTable> table_;
  std::unique_ptr<Cache> cache_ = std::make_unique<Cache>();
  UnknownWordVector unknown_;
};

}  // namespace emb
