#pragma once
// Vocabulary: words <-> row indices of an embedding table, with optional counts.

#include <cstdint>        // std::int64_t
#include <optional>       // std::optional
#include <span>           // std::span
#include <string>         // std::string
#include <string_view>    // std::string_view
#include <unordered_map>  // std::unordered_map
#include <utility>        // std::move
#include <vector>         // std::vector

#include "emb/detail/check.hpp"
#include "emb/types.hpp"

namespace emb {

// The words of a table in row order and the index of each. A word is any byte string (UTF-8 or
// not), compared byte for byte. Counts (corpus frequencies) are optional.
//
// Example:
//   emb::Vocabulary vocab({"the", "king", "queen"});
//   vocab.index("king");          // 1
//   vocab.find("prince");         // std::nullopt
//   vocab.word(2);                // "queen"
class Vocabulary {
 public:
  Vocabulary() = default;

  // Words in row order; counts empty (no counts) or one per word.
  // Throws std::invalid_argument for a word given twice or counts of the wrong length.
  explicit Vocabulary(std::vector<std::string> words, std::vector<std::int64_t> counts = {})
      : words_(std::move(words)), counts_(std::move(counts)) {
    if (!counts_.empty() && counts_.size() != words_.size()) {
      detail::throw_invalid("emb::Vocabulary: ", counts_.size(), " counts for ", words_.size(),
                            " words; give one count per word or none");
    }
    rebuild_index();
  }

  // The index keys view the strings in words_, so a copy rebuilds them; a move keeps them.
  Vocabulary(const Vocabulary& other) : words_(other.words_), counts_(other.counts_) {
    rebuild_index();
  }
  Vocabulary& operator=(const Vocabulary& other) {
    if (this != &other) *this = Vocabulary(other);
    return *this;
  }
  Vocabulary(Vocabulary&&) noexcept = default;
  Vocabulary& operator=(Vocabulary&&) noexcept = default;
  ~Vocabulary() = default;

  Index size() const { return static_cast<Index>(words_.size()); }
  bool empty() const { return words_.empty(); }
  bool contains(std::string_view word) const { return index_.count(word) != 0; }

  // The index of `word`, or nullopt when it is not in the vocabulary.
  std::optional<Index> find(std::string_view word) const {
    const auto it = index_.find(word);
    if (it == index_.end()) return std::nullopt;
    return it->second;
  }

  // The index of `word`. Throws std::out_of_range when it is not in the vocabulary.
  Index index(std::string_view word) const {
    if (const auto found = find(word)) return *found;
    detail::throw_out_of_range("emb::Vocabulary::index: the word \"", word,
                               "\" is not in the vocabulary (", size(), " words)");
  }

  // The word of row i. Throws std::out_of_range for i outside [0, size()).
  const std::string& word(Index i) const {
    check_row("emb::Vocabulary::word", i);
    return words_[static_cast<std::size_t>(i)];
  }

  // All words in row order.
  std::span<const std::string> words() const { return words_; }

  bool has_counts() const { return !counts_.empty(); }
  // Every count in row order; empty when the vocabulary has no counts.
  std::span<const std::int64_t> counts() const { return counts_; }
  // The count of row i (0 when the vocabulary has no counts). Throws std::out_of_range for a bad i.
  std::int64_t count(Index i) const {
    check_row("emb::Vocabulary::count", i);
    return counts_.empty() ? 0 : counts_[static_cast<std::size_t>(i)];
  }

  // Appends `word` as row size() and returns its index; a word already present keeps its index
  // and, with counts, gets `count` added to its count.
  Index add(std::string word, std::int64_t count = 0) {
    if (const auto found = find(word)) {
      if (count != 0) {
        counts_.resize(words_.size(), 0);  // the first count makes every earlier word count 0
        counts_[static_cast<std::size_t>(*found)] += count;
      }
      return *found;
    }
    const auto* before = words_.data();
    words_.push_back(std::move(word));
    if (count != 0 || !counts_.empty()) {
      counts_.resize(words_.size() - 1, 0);
      counts_.push_back(count);
    }
    if (words_.data() != before) {
      rebuild_index();  // the strings moved: every key must view the new ones
    } else {
      index_.emplace(words_.back(), size() - 1);
    }
    return size() - 1;
  }

 private:
  void rebuild_index() {
    index_.clear();
    index_.reserve(words_.size());
    for (std::size_t i = 0; i < words_.size(); ++i) {
      if (!index_.emplace(words_[i], static_cast<Index>(i)).second) {
        detail::throw_invalid("emb::Vocabulary: the word \"", words_[i], "\" appears twice (rows ",
                              index_.at(words_[i]), " and ", i, ")");
      }
    }
  }

  void check_row(const char* where, Index i) const {
    if (i < 0 || i >= size()) {
      detail::throw_out_of_range(where, ": index ", i, " is out of range [0, ", size(), ")");
    }
  }

  std::vector<std::string> words_;
  std::vector<std::int64_t> counts_;
  std::unordered_map<std::string_view, Index> index_;
};

}  // namespace emb
