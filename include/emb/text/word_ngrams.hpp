#pragma once
// Hashed word n-grams as extra ids in a bag: fastText's -wordNgrams and -bucket
// (src/dictionary.cc, Dictionary::hash and Dictionary::addWordNgrams), bit for bit.

#include <cstdint>      // std::uint32_t, std::int32_t, std::uint64_t
#include <span>         // std::span
#include <string_view>  // std::string_view
#include <vector>       // std::vector

#include "emb/detail/check.hpp"
#include "emb/types.hpp"

namespace emb::text {

// fastText's string hash: 32-bit FNV-1a over the bytes, each byte sign-extended first (fastText
// reads them as int8_t, so bytes >= 0x80 hash differently from textbook FNV-1a).
constexpr std::uint32_t fasttext_hash(std::string_view word) {
  std::uint32_t h = 2166136261u;
  for (const char c : word) {
    h = h ^ static_cast<std::uint32_t>(static_cast<std::int32_t>(static_cast<std::int8_t>(c)));
    h = h * 16777619u;
  }
  return h;
}

// Appends to `ids` the bucket ids of every word n-gram of 2 .. n consecutive words of a line,
// given the words' fasttext_hash values in line order: for each start i, the n-grams
// (i, i + 1), (i, i + 1, i + 2), ... up to n words, each id `offset + hash % buckets` with
// fastText's n-gram hash (h = h * 116049371 + next word's hash, over 64 bits, from the words'
// hashes read as signed 32-bit values). fastText's input table is (words + buckets, dim) with the
// n-grams after the words, so offset is the number of words. n <= 1 adds nothing.
// Throws std::invalid_argument for buckets outside [1, 2^31) (when n > 1) or a negative offset.
//
// Example (fastText's -wordNgrams 2 -bucket 2000000 on "the cat </s>"):
//   std::vector<std::uint32_t> hashes{fasttext_hash("the"), fasttext_hash("cat"),
//                                     fasttext_hash("</s>")};
//   emb::text::add_word_ngrams(ids, hashes, 2, 2'000'000, vocabulary_size);  // 2 ids appended
inline void add_word_ngrams(std::vector<Index>& ids, std::span<const std::uint32_t> hashes, int n,
                            Index buckets, Index offset) {
  if (n <= 1) return;
  if (buckets < 1 || buckets > Index{0x7fffffff}) {
    detail::throw_invalid("emb::text::add_word_ngrams: buckets must be in [1, 2^31), got ",
                          buckets);
  }
  if (offset < 0) {
    detail::throw_invalid("emb::text::add_word_ngrams: offset must be >= 0, got ", offset);
  }
  // fastText keeps the hashes in a std::vector<int32_t>: widening to 64 bits sign-extends.
  auto widened = [&](std::size_t i) {
    return static_cast<std::uint64_t>(
        static_cast<std::int64_t>(static_cast<std::int32_t>(hashes[i])));
  };
  const auto size = hashes.size();
  const auto window = static_cast<std::size_t>(n);
  for (std::size_t i = 0; i < size; ++i) {
    std::uint64_t h = widened(i);
    for (std::size_t j = i + 1; j < size && j < i + window; ++j) {
      h = h * 116049371u + widened(j);
      ids.push_back(offset + static_cast<Index>(h % static_cast<std::uint64_t>(buckets)));
    }
  }
}

}  // namespace emb::text
