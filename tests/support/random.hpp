#pragma once
// Reproducible random test data.

#include <cstddef>  // std::size_t
#include <cstdint>  // std::uint64_t, std::int64_t
#include <vector>   // std::vector

#include <emb/detail/random.hpp>
#include <emb/types.hpp>

namespace emb::test {

// A (rows, cols) matrix of N(0, 1) values, the same for the same seed on every platform.
template <class T>
Matrix<T> random_matrix(Index rows, Index cols, unsigned seed) {
  Matrix<T> m(rows, cols);
  detail::fill_normal(m.data(), m.size(), seed);
  return m;
}

// n ids in [0, rows) as a batch of word or item ids looks: mostly scattered, with a few hot rows
// (every id that is a multiple of 7 is replaced by one of the first 50 rows), the same for the
// same seed on every platform.
template <class I>
std::vector<I> skewed_ids(std::size_t n, std::int64_t rows, std::uint64_t seed) {
  std::vector<I> ids(n);
  std::uint64_t state = seed;
  for (auto& id : ids) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;  // Knuth's MMIX LCG
    const auto r = static_cast<std::int64_t>((state >> 33) % static_cast<std::uint64_t>(rows));
    id = static_cast<I>(r % 7 == 0 ? r % 50 : r);
  }
  return ids;
}

}  // namespace emb::test
