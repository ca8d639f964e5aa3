#pragma once
// The two samplers of word2vec-style training: frequent-word subsampling and the unigram table
// negatives are drawn from, with fastText's formulas.

#include <cmath>    // std::pow, std::sqrt, std::ceil
#include <cstdint>  // std::int32_t, std::int64_t, std::uint64_t
#include <span>     // std::span
#include <vector>   // std::vector

#include "emb/detail/check.hpp"
#include "emb/types.hpp"

namespace emb {

// Frequent-word subsampling (Mikolov et al., 2013), with the formula of fastText's
// Dictionary::initTableDiscard (src/dictionary.cc) and word2vec.c's TrainModelThread: a word of
// frequency f = count / total_tokens is kept with probability
//   p = sqrt(t / f) + t / f
// (p >= 1 keeps every occurrence). fastText's total is every token it read, "</s>" and words
// below minCount included: Corpus::tokens. The probabilities are stored as float, as fastText's.
//
// Example:
//   emb::Subsampler keep(corpus.vocabulary.counts(), corpus.tokens, 1e-4);
//   if (keep(id, uniform01(rng))) kept.push_back(id);
class Subsampler {
 public:
  // Throws std::invalid_argument for a t outside (0, 1], a total_tokens below 1, or a count
  // below 1 or above total_tokens.
  Subsampler(std::span<const std::int64_t> counts, std::int64_t total_tokens, double t = 1e-4) {
    if (!(t > 0 && t <= 1)) detail::throw_invalid("emb::Subsampler: t must be in (0, 1], got ", t);
    if (total_tokens < 1) {
      detail::throw_invalid("emb::Subsampler: total_tokens must be positive, got ", total_tokens);
    }
    keep_.reserve(counts.size());
    for (std::size_t w = 0; w < counts.size(); ++w) {
      if (counts[w] < 1 || counts[w] > total_tokens) {
        detail::throw_invalid("emb::Subsampler: count ", counts[w], " of word ", w,
                              " is outside [1, total_tokens = ", total_tokens, "]");
      }
      const double f = static_cast<double>(counts[w]) / static_cast<double>(total_tokens);
      keep_.push_back(static_cast<float>(std::sqrt(t / f) + t / f));
    }
  }

  Index size() const { return static_cast<Index>(keep_.size()); }

  // The probability of keeping an occurrence of word `id` (may exceed 1). `id` must be in
  // [0, size()): it is not checked, as this is called for every token.
  float keep_probability(Index id) const { return keep_[static_cast<std::size_t>(id)]; }

  // Whether to keep an occurrence of `id`, given a uniform draw in [0, 1): fastText discards
  // it when uniform > p.
  bool operator()(Index id, float uniform) const { return !(uniform > keep_probability(id)); }

 private:
  std::vector<float> keep_;
};

// Aggregate: pass with designated initializers, e.g. {.power = 0.5}.
struct NegativeSamplerOptions {
  // Negatives are drawn with probability proportional to count^power. 0.75 is word2vec.c's and
  // gensim's (ns_exponent); fastText uses 0.5.
  double power = 0.75;
  // Entries of the table: fastText's and word2vec.c's 10^7 (NEGATIVE_TABLE_SIZE, table_size).
  std::int64_t table_size = 10'000'000;
  // Seeds the table's shuffle: the same seed gives the same table on every platform.
  std::uint64_t seed = 0;
};

// The table negatives are drawn from (fastText's NegativeSamplingLoss / initTableNegatives,
// src/loss.cc): word w fills ceil(c_w * table_size / z) entries, c_w = count_w ^ power and
// z = sum of c_w, so every word gets at least one. The table is then shuffled, so that it can be
// read sequentially from a random start (fastText before 0.9 read it so; 0.9 draws a random entry
// each time, the same distribution at a cache miss per draw).
//
// Example:
//   emb::NegativeSampler negatives(corpus.vocabulary.counts(), {.seed = 1});
//   std::size_t cursor = negatives.start(random_64_bits);  // one cursor per thread
//   std::int32_t word = negatives.draw(cursor, context_word);
class NegativeSampler {
 public:
  // Throws std::invalid_argument for no words, a count below 1, a power below 0 or not finite,
  // or a table_size below 1 or above 2^31.
  explicit NegativeSampler(std::span<const std::int64_t> counts,
                           const NegativeSamplerOptions& options = {}) {
    constexpr const char* where = "emb::NegativeSampler";
    if (counts.empty()) detail::throw_invalid(where, ": no words");
    if (!(options.power >= 0 && std::isfinite(options.power))) {
      detail::throw_invalid(where, ": power must be finite and non-negative, got ", options.power);
    }
    if (options.table_size < 1 || options.table_size > (std::int64_t{1} << 31)) {
      detail::throw_invalid(where, ": table_size must be in [1, 2^31], got ", options.table_size);
    }
    double z = 0;
    for (std::size_t w = 0; w < counts.size(); ++w) {
      if (counts[w] < 1) {
        detail::throw_invalid(where, ": count ", counts[w], " of word ", w, " is below 1");
      }
      z += std::pow(static_cast<double>(counts[w]), options.power);
    }
    const auto size = static_cast<double>(options.table_size);
    table_.reserve(static_cast<std::size_t>(options.table_size) +
                   counts.size());  // ceil adds <1 each
    for (std::size_t w = 0; w < counts.size(); ++w) {
      const double c = std::pow(static_cast<double>(counts[w]), options.power);
      const auto n = static_cast<std::size_t>(std::ceil(c * size / z));
      table_.insert(table_.end(), n, static_cast<std::int32_t>(w));
    }
    // Fisher-Yates over splitmix64: std::shuffle's result differs between standard libraries.
    std::uint64_t state = options.seed;
    for (std::size_t i = table_.size() - 1; i > 0; --i) {
      std::uint64_t z64 = (state += 0x9e3779b97f4a7c15ULL);
      z64 = (z64 ^ (z64 >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z64 = (z64 ^ (z64 >> 27)) * 0x94d049bb133111ebULL;
      z64 ^= z64 >> 31;
      std::swap(table_[i], table_[z64 % (i + 1)]);
    }
    words_ = static_cast<Index>(counts.size());
  }

  // Words of the vocabulary the table was built for.
  Index size() const { return words_; }

  // The shuffled table.
  std::span<const std::int32_t> table() const { return table_; }

  // A cursor into the table for a reader: `random` reduced to a table position.
  std::size_t start(std::uint64_t random) const { return random % table_.size(); }

  // The next entry at `cursor` that differs from `positive` (fastText's rule; with a single
  // word that word), advancing the cursor and wrapping at the table's end.
  std::int32_t draw(std::size_t& cursor, std::int32_t positive) const {
    std::int32_t word;
    do {
      word = table_[cursor];
      if (++cursor == table_.size()) cursor = 0;
    } while (word == positive && words_ > 1);
    return word;
  }

 private:
  std::vector<std::int32_t> table_;
  Index words_ = 0;
};

}  // namespace emb
