#pragma once
// Reproducible random test data.

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

}  // namespace emb::test
