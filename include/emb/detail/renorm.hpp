#pragma once
// max_norm: the looked-up rows whose norm exceeds it are scaled down in place before the gather,
// as PyTorch's embedding_renorm_.

#include <algorithm>  // std::sort, std::unique, std::max
#include <cmath>      // std::abs, std::pow, std::sqrt, std::isinf
#include <cstddef>    // std::size_t
#include <vector>     // std::vector

#include "emb/types.hpp"

namespace emb::detail {

// The p-norm of one row, accumulated in double.
template <class T>
double row_norm(const T* row, Index dim, double p) {
  double acc = 0;
  if (std::isinf(p)) {
    for (Index j = 0; j < dim; ++j) acc = std::max(acc, std::abs(static_cast<double>(row[j])));
    return acc;
  }
  if (p == 2) {
    for (Index j = 0; j < dim; ++j) acc += static_cast<double>(row[j]) * row[j];
    return std::sqrt(acc);
  }
  if (p == 1) {
    for (Index j = 0; j < dim; ++j) acc += std::abs(static_cast<double>(row[j]));
    return acc;
  }
  for (Index j = 0; j < dim; ++j) acc += std::pow(std::abs(static_cast<double>(row[j])), p);
  return std::pow(acc, 1.0 / p);
}

// PyTorch's embedding_renorm_ (CPU): each distinct looked-up row whose norm exceeds max_norm is
// scaled in place by max_norm / (norm + 1e-7). Indices must already be validated.
template <class T, class I>
void renorm_rows(Matrix<T>& weight, const I* indices, std::size_t n, double max_norm,
                 double norm_type) {
  std::vector<Index> distinct(indices, indices + n);
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  const Index dim = weight.cols();
  for (Index r : distinct) {
    T* row = weight.data() + r * dim;
    const double norm = row_norm(row, dim, norm_type);
    if (norm > max_norm) {
      const auto scale = static_cast<T>(max_norm / (norm + 1e-7));
      for (Index j = 0; j < dim; ++j) row[j] *= scale;
    }
  }
}

}  // namespace emb::detail
