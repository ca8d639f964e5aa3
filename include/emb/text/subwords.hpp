#pragma once
// fastText's subwords: the character n-grams of a word and the table rows they hash to, exactly
// as fastText's Dictionary::computeSubwords (src/dictionary.cc) computes them, so that a model
// trained by fastText, or for it, sees the same rows. Bojanowski et al. 2017, "Enriching Word
// Vectors with Subword Information".

#include <cstdint>      // std::int32_t, std::int64_t, std::uint32_t
#include <limits>       // std::numeric_limits
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <vector>       // std::vector

#include "emb/detail/check.hpp"
#include "emb/text/word_ngrams.hpp"  // emb::text::fasttext_hash
#include "emb/types.hpp"

namespace emb {

// fastText's string hash (FNV-1a over sign-extended bytes), shared with the word n-grams.
using text::fasttext_hash;

// The subword settings of a fastText model (its -minn, -maxn and -bucket). Aggregate.
struct SubwordOptions {
  int minn = 3;                   // shortest n-gram, in UTF-8 characters
  int maxn = 6;                   // longest n-gram; 0 turns subwords off
  std::int64_t bucket = 2000000;  // n-gram rows, after the word rows; > 0 unless maxn is 0

  // Throws std::invalid_argument (naming `where`) for a negative minn or maxn, a bucket outside
  // [0, 2^31) or a bucket of 0 with maxn > 0 (an n-gram would have no row to go to).
  void check(const char* where) const {
    if (minn < 0 || maxn < 0) {
      detail::throw_invalid(where, ": minn ", minn, " and maxn ", maxn, " must not be negative");
    }
    if (bucket < 0 || bucket > std::numeric_limits<std::int32_t>::max()) {
      detail::throw_invalid(where, ": bucket ", bucket, " is out of range [0, 2^31)");
    }
    if (bucket == 0 && maxn > 0) {
      detail::throw_invalid(where, ": bucket is 0 but maxn is ", maxn,
                            ": the n-grams would have no rows");
    }
  }
};

// fastText's end-of-sentence token, which gets no n-grams.
inline constexpr std::string_view end_of_sentence = "</s>";

// Calls f(ngram) (a std::string_view, valid during the call) for every character n-gram of
// "<" + word + ">" with minn to maxn characters, in fastText's order: by start, then by length.
// Characters are UTF-8 sequences (a byte 10xxxxxx continues the previous character, whether or
// not the word is valid UTF-8); the lone "<" and ">" are not n-grams. "</s>" has none.
template <class F>
void for_each_char_ngram(std::string_view word, int minn, int maxn, F&& f) {
  if (maxn <= 0 || word == end_of_sentence) return;
  std::string bracketed;
  bracketed.reserve(word.size() + 2);
  bracketed += '<';
  bracketed += word;
  bracketed += '>';
  const std::string_view w = bracketed;
  const auto continues = [&](std::size_t k) {
    return (static_cast<unsigned char>(w[k]) & 0xc0u) == 0x80u;
  };
  const auto longest = static_cast<std::size_t>(maxn);
  const auto shortest = static_cast<std::size_t>(minn < 0 ? 0 : minn);
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (continues(i)) continue;
    std::size_t j = i;
    for (std::size_t n = 1; j < w.size() && n <= longest; ++n) {
      ++j;
      while (j < w.size() && continues(j)) ++j;
      if (n >= shortest && !(n == 1 && (i == 0 || j == w.size()))) f(w.substr(i, j - i));
    }
  }
}

// The character n-grams of `word` (see for_each_char_ngram), as fastText's print-ngrams lists them.
inline std::vector<std::string> char_ngrams(std::string_view word, int minn, int maxn) {
  std::vector<std::string> ngrams;
  for_each_char_ngram(word, minn, maxn,
                      [&](std::string_view ngram) { ngrams.emplace_back(ngram); });
  return ngrams;
}

// The row of one n-gram in a table whose first `nwords` rows are words: nwords + hash % bucket.
// bucket must be positive (unchecked).
inline Index ngram_row(std::string_view ngram, std::int64_t bucket, Index nwords) {
  return nwords + static_cast<Index>(fasttext_hash(ngram) % static_cast<std::uint32_t>(bucket));
}

// Appends the rows of `word`'s n-grams to `rows`, in for_each_char_ngram's order (a row appears
// once per n-gram hashing to it, as in fastText). Throws std::invalid_argument for options that
// SubwordOptions::check refuses.
inline void append_ngram_rows(std::string_view word, const SubwordOptions& options, Index nwords,
                              std::vector<Index>& rows) {
  options.check("emb::append_ngram_rows");
  for_each_char_ngram(word, options.minn, options.maxn, [&](std::string_view ngram) {
    rows.push_back(ngram_row(ngram, options.bucket, nwords));
  });
}

}  // namespace emb
