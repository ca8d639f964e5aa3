#pragma once
// The internals every optimizer in emb::optim shares: option checks, the gradient check and the
// row loops of a dense and a lazy step. The public surface (lr, set_lr, steps, options, save,
// load) is emb::optim::Optimizer in emb/optim/optimizer.hpp.

#include <algorithm>    // std::lower_bound, std::min
#include <cmath>        // std::sqrt
#include <cstddef>      // std::size_t
#include <type_traits>  // std::bool_constant, std::is_same_v
#include <vector>       // std::vector

#include "emb/detail/check.hpp"
#include "emb/detail/columns.hpp"
#include "emb/detail/parallel.hpp"
#include "emb/gradient.hpp"
#include "emb/types.hpp"

#if defined(__SSE2__)
#include <immintrin.h>  // exact vector square roots
#endif

namespace emb::detail {

// `value` must be >= 0 (NaN fails too).
inline void check_non_negative(const char* where, const char* name, double value) {
  if (!(value >= 0)) throw_invalid(where, ": ", name, " must be in [0, inf), got ", value);
}

// `value` must be > 0 (NaN fails too).
inline void check_positive(const char* where, const char* name, double value) {
  if (!(value > 0)) throw_invalid(where, ": ", name, " must be in (0, inf), got ", value);
}

// A moving-average coefficient: in [0, 1), as PyTorch's betas.
inline void check_beta(const char* where, const char* name, double value) {
  if (!(value >= 0 && value < 1)) {
    throw_invalid(where, ": ", name, " must be in [0, 1), got ", value);
  }
}

// A gradient fits a (num, dim) table when it says so and its rows are strictly increasing and
// in range. Checked in full before a step touches anything; O(rows), not O(table). Messages
// start "<optimizer>::step: ", built only when one is thrown (this runs on every step).
template <class T>
void check_gradient(const char* optimizer, const Gradient<T>& grad, Index num, Index dim) {
  constexpr const char* where = "::step: ";
  const auto nnz = static_cast<Index>(grad.rows.size());
  const bool empty_any_width = nnz == 0 && grad.values.rows() == 0;
  if (grad.num_embeddings != num || (grad.values.cols() != dim && !empty_any_width)) {
    throw_invalid(optimizer, where, "the gradient is of a (", grad.num_embeddings, ", ",
                  grad.values.cols(), ") table but the optimizer's table is (", num, ", ", dim,
                  ")");
  }
  if (grad.values.rows() != nnz) {
    throw_invalid(optimizer, where, "the gradient lists ", nnz, " rows but has ",
                  grad.values.rows(), " rows of values");
  }
  for (std::size_t k = 0; k < grad.rows.size(); ++k) {
    const Index row = grad.rows[k];
    if (row < 0 || row >= num) {
      throw_out_of_range(optimizer, where, "gradient row ", row, " at position ", k,
                         " is out of range [0, ", num, ")");
    }
    if (k > 0 && row <= grad.rows[k - 1]) {
      throw_invalid(optimizer, where, "gradient rows must be strictly increasing, but row ", row,
                    " at position ", k, " follows ", grad.rows[k - 1]);
    }
  }
}

// The dense step: calls update(row, g) for every row of a (num, dim) table in one pass, with g
// the row's gradient, or a row of zeros when the gradient does not list it. Rows are split in
// blocks between threads; each row is updated by one thread.
template <class T, class Update>
void for_each_row(const Gradient<T>& grad, Index num, Index dim, Update&& update) {
  const std::vector<T> zeros(static_cast<std::size_t>(dim), T(0));
  constexpr Index block = 256;
  const Index blocks = (num + block - 1) / block;
  const auto nnz = static_cast<Index>(grad.rows.size());
  parallel_for(0, blocks, 4, [&](Index b) {
    const Index begin = b * block, end = std::min(num, begin + block);
    auto k = static_cast<Index>(std::lower_bound(grad.rows.begin(), grad.rows.end(), begin) -
                                grad.rows.begin());
    for (Index i = begin; i < end; ++i) {
      if (k < nnz && grad.rows[static_cast<std::size_t>(k)] == i) {
        update(i, grad.values.data() + k * dim);
        ++k;
      } else {
        update(i, zeros.data());
      }
    }
  });
}

// Exact (IEEE) square roots of x[0, n), handed to body(at, roots, count) in chunks. std::sqrt
// in a loop is never vectorized while it may set errno, and Eigen's vectorized float sqrt is
// an approximation under its default EIGEN_FAST_MATH; SSE2's sqrt instructions are exact.
template <class T, class Body>
void for_sqrt_chunks(const T* x, Index n, Body&& body) {
  constexpr Index chunk = 256;
  alignas(64) T roots[chunk];
  for (Index at = 0; at < n; at += chunk) {
    const Index count = std::min(chunk, n - at);
    const T* in = x + at;
    Index j = 0;
#if defined(__SSE2__)
    if constexpr (std::is_same_v<T, float>) {
#if defined(__AVX__)
      for (; j + 8 <= count; j += 8)
        _mm256_store_ps(roots + j, _mm256_sqrt_ps(_mm256_loadu_ps(in + j)));
#endif
      for (; j + 4 <= count; j += 4) _mm_store_ps(roots + j, _mm_sqrt_ps(_mm_loadu_ps(in + j)));
    } else {
      for (; j + 2 <= count; j += 2) _mm_store_pd(roots + j, _mm_sqrt_pd(_mm_loadu_pd(in + j)));
    }
#endif
    for (; j < count; ++j) roots[j] = std::sqrt(in[j]);
    body(at, roots, count);
  }
}

// The gradient as PyTorch's SGD and Adagrad first shape it: times sign (-1 to maximize, exact),
// plus weight_decay * w when WithDecay (L2; PyTorch skips a zero decay, so must the caller).
template <bool WithDecay, class T>
T decayed_grad(T sign, T g, T weight_decay, T w) {
  T d = sign * g;
  if constexpr (WithDecay) d = d + weight_decay * w;
  return d;
}

// Calls f with the two run-time flags as std::bool_constant arguments, so that the row kernels
// are compiled once per combination without branches inside their loops (which would keep the
// compiler from vectorizing them).
template <class F>
void with_flags(bool a, bool b, F&& f) {
  if (a) {
    if (b) return f(std::true_type{}, std::true_type{});
    return f(std::true_type{}, std::false_type{});
  }
  if (b) return f(std::false_type{}, std::true_type{});
  return f(std::false_type{}, std::false_type{});
}

// The lazy step: calls update(row, g) for the gradient's rows only, O(rows x dim). Rows of a
// large table are scattered in memory, so the loop is bound by memory latency: it prefetches
// the rows a few iterations ahead (prefetch(row) does that for the weight and the state).
template <class T, class Update, class Prefetch>
void for_each_listed_row(const Gradient<T>& grad, Index dim, Update&& update, Prefetch&& prefetch) {
  constexpr Index ahead = 4;
  const auto nnz = static_cast<Index>(grad.rows.size());
  parallel_for(0, nnz, 256, [&](Index k) {
    if (k + ahead < nnz) prefetch(grad.rows[static_cast<std::size_t>(k + ahead)]);
    update(grad.rows[static_cast<std::size_t>(k)], grad.values.data() + k * dim);
  });
}

}  // namespace emb::detail
