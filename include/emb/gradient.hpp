#pragma once
// Gradient<T>: the tape-free, row-sparse gradient of one embedding table.

#include <algorithm>  // std::copy
#include <cstddef>    // std::size_t
#include <utility>    // std::swap
#include <vector>     // std::vector

#include "emb/detail/check.hpp"
#include "emb/detail/huge_pages.hpp"
#include "emb/types.hpp"

namespace emb {

// The gradient of a loss with respect to an (num_embeddings, D) table, stored as the rows that
// received gradient and their summed values. This is what PyTorch's `sparse=True` gradient is
// after coalesce(): rows strictly increasing, one values row per listed row.
//
// Example:
//   emb::Gradient<float> g = table.backward(indices, grad_output);
//   for (std::size_t k = 0; k < g.rows.size(); ++k) use(g.rows[k], g.values.row(k));
template <class T>
struct Gradient {
  static_assert(detail::is_real_v<T>, "emb::Gradient<T>: T must be float or double");

  Index num_embeddings = 0;  // rows of the table this gradient belongs to
  std::vector<Index> rows;   // strictly increasing; the padding row is never present
  Matrix<T> values;          // (rows.size(), embedding_dim); row k is the gradient of rows[k]

  // The gradient of a dense parameter, every row listed: values is a copy of `dense`
  // (converted to T). A (rows, cols) matrix is the gradient of a (rows, cols) parameter (a
  // linear layer's weight); a column vector of n values that of an (n, 1) parameter, which is
  // how the optimizers see an Eigen::VectorX<T> (a bias).
  //
  // Example:
  //   emb::optim::SGD<float> opt(bias, {.lr = 0.1});   // bias: Eigen::VectorXf
  //   opt.step(emb::Gradient<float>::from_dense(grad_bias));
  template <class Derived>
  static Gradient from_dense(const Eigen::MatrixBase<Derived>& dense) {
    Gradient g;
    g.num_embeddings = dense.rows();
    g.rows.resize(static_cast<std::size_t>(dense.rows()));
    for (Index i = 0; i < dense.rows(); ++i) g.rows[static_cast<std::size_t>(i)] = i;
    g.values = detail::copy_table<T>(dense);
    return g;
  }

  // True when no row received gradient (a frozen table, an empty batch, padding only).
  bool empty() const { return rows.empty(); }

  // Columns of the table; 0 for a default-constructed gradient.
  Index embedding_dim() const { return values.cols(); }

  // The (num_embeddings, embedding_dim) dense gradient, zero outside `rows`.
  Matrix<T> to_dense() const {
    // A table's size: on huge pages, as a table (detail/huge_pages.hpp).
    Matrix<T> dense = detail::allocate_table<T>(num_embeddings, embedding_dim());
    dense.setZero();
    for (std::size_t k = 0; k < rows.size(); ++k) {
      dense.row(rows[k]) = values.row(static_cast<Index>(k));
    }
    return dense;
  }

  // Adds `other` (a gradient of the same table) into this one, keeping rows strictly
  // increasing. A default-constructed gradient adopts the other's shape.
  // Throws std::invalid_argument when the tables differ; *this is then unchanged.
  Gradient& operator+=(const Gradient& other) {
    if (num_embeddings == 0 && rows.empty()) {
      if (this != &other) *this = other;
      return *this;
    }
    if (other.num_embeddings == 0 && other.rows.empty()) return *this;
    if (other.num_embeddings != num_embeddings || other.embedding_dim() != embedding_dim()) {
      detail::throw_invalid("emb::Gradient::operator+=: cannot add a gradient of a (",
                            other.num_embeddings, ", ", other.embedding_dim(),
                            ") table to a gradient of a (", num_embeddings, ", ", embedding_dim(),
                            ") table");
    }
    std::vector<Index> merged;
    merged.reserve(rows.size() + other.rows.size());
    std::size_t a = 0, b = 0;
    while (a < rows.size() || b < other.rows.size()) {
      if (b == other.rows.size() || (a < rows.size() && rows[a] < other.rows[b])) {
        merged.push_back(rows[a++]);
      } else if (a == rows.size() || other.rows[b] < rows[a]) {
        merged.push_back(other.rows[b++]);
      } else {
        merged.push_back(rows[a]);
        ++a, ++b;
      }
    }
    Matrix<T> sum = detail::allocate_table<T>(static_cast<Index>(merged.size()), embedding_dim());
    a = b = 0;
    for (std::size_t k = 0; k < merged.size(); ++k) {
      const auto out = static_cast<Index>(k);
      const bool in_a = a < rows.size() && rows[a] == merged[k];
      const bool in_b = b < other.rows.size() && other.rows[b] == merged[k];
      if (in_a && in_b) {
        sum.row(out) =
            values.row(static_cast<Index>(a++)) + other.values.row(static_cast<Index>(b++));
      } else if (in_a) {
        sum.row(out) = values.row(static_cast<Index>(a++));
      } else {
        sum.row(out) = other.values.row(static_cast<Index>(b++));
      }
    }
    rows.swap(merged);
    values.swap(sum);
    return *this;
  }
};

}  // namespace emb
