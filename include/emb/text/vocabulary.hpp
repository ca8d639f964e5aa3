#pragma once
// Vocabulary: words <-> row indices of an embedding table, with optional counts.

#include <cstdint>      // std::int64_t, std::uint64_t
#include <functional>   // std::hash
#include <optional>     // std::optional
#include <span>         // std::span
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <utility>      // std::move
#include <vector>       // std::vector

#include "emb/detail/check.hpp"
#include "emb/detail/escape.hpp"
#include "emb/detail/prefetch.hpp"
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

  Index size() const { return static_cast<Index>(words_.size()); }
  bool empty() const { return words_.empty(); }
  bool contains(std::string_view word) const { return find(word).has_value(); }

  // The index of `word`, or nullopt when it is not in the vocabulary.
  std::optional<Index> find(std::string_view word) const {
    if (slots_.empty()) return std::nullopt;
    const std::uint64_t hash = std::hash<std::string_view>{}(word);
    for (std::size_t s = hash & mask(); slots_[s].row != empty_slot; s = (s + 1) & mask()) {
      const Slot& slot = slots_[s];
      if (slot.check == check_bits(hash) && words_[slot.row] == word) return Index{slot.row};
    }
    return std::nullopt;
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
    words_.push_back(std::move(word));
    if (count != 0 || !counts_.empty()) {
      counts_.resize(words_.size() - 1, 0);
      counts_.push_back(count);
    }
    if (2 * words_.size() > slots_.size()) {
      rebuild_index();  // at most half full: probes stay short
    } else {
      insert(words_.size() - 1);
    }
    return size() - 1;
  }

 private:
  // The index: open addressing with linear probing over a power-of-two table at most half full,
  // each slot a row and 32 bits of its word's hash (compared first, so a probe rarely reads a
  // word): 8 bytes a slot, at most 16 a word. Built in one pass without an allocation per word,
  // it takes a fraction of the time and memory of a node-based hash map for the hundreds of
  // thousands of words of a pretrained table. Rows are 32-bit: up to 2^32 - 1 words.
  struct Slot {
    std::uint32_t check = 0;
    std::uint32_t row = empty_slot;
  };
  static constexpr std::uint32_t empty_slot = 0xffffffffu;

  std::size_t mask() const { return slots_.size() - 1; }
  // The hash bits a slot keeps: the high ones, as the low ones chose the slot.
  static std::uint32_t check_bits(std::uint64_t hash) {
    return static_cast<std::uint32_t>(hash >> 32);
  }

  // Adds row i; returns the row already holding its word instead, if any.
  std::optional<Index> insert(std::size_t i) {
    return insert(i, std::hash<std::string_view>{}(words_[i]));
  }
  std::optional<Index> insert(std::size_t i, std::uint64_t hash) {
    std::size_t s = hash & mask();
    for (; slots_[s].row != empty_slot; s = (s + 1) & mask()) {
      const Slot& slot = slots_[s];
      if (slot.check == check_bits(hash) && words_[slot.row] == words_[i]) return Index{slot.row};
    }
    slots_[s] = {check_bits(hash), static_cast<std::uint32_t>(i)};
    return std::nullopt;
  }

  void rebuild_index() {
    if (words_.size() >= empty_slot) {
      detail::throw_invalid("emb::Vocabulary: ", words_.size(), " words; at most ", empty_slot - 1,
                            " are supported");
    }
    std::size_t capacity = 16;
    while (capacity < 2 * words_.size()) capacity *= 2;
    slots_.assign(capacity, Slot{});
    // The hashes first, then the inserts with each slot fetched a few words ahead: the table
    // outgrows the caches, and the misses overlap instead of coming one after another.
    constexpr std::size_t ahead = 16;
    std::vector<std::uint64_t> hashes(words_.size());
    for (std::size_t i = 0; i < words_.size(); ++i) {
      hashes[i] = std::hash<std::string_view>{}(words_[i]);
    }
    for (std::size_t i = 0; i < words_.size(); ++i) {
      if (i + ahead < words_.size()) {
        detail::prefetch(&slots_[hashes[i + ahead] & mask()], sizeof(Slot), true);
      }
      if (const auto first = insert(i, hashes[i])) {
        detail::throw_invalid("emb::Vocabulary: the word ", detail::quote(words_[i]),
                              " appears twice (rows ", *first, " and ", i, ")");
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
  std::vector<Slot> slots_;  // the index: see insert
};

}  // namespace emb
