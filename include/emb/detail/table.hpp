#pragma once
// What Embedding and EmbeddingBag share: the weight, its options, validation, max_norm renorm
// and the coalescing of per-position gradients into a row-sparse Gradient.

#include <algorithm>  // std::sort, std::unique, std::max, std::ranges::lower_bound
#include <cmath>      // std::abs, std::pow, std::sqrt, std::isinf
#include <optional>   // std::optional
#include <vector>     // std::vector

#include "emb/detail/check.hpp"
#include "emb/detail/memory.hpp"
#include "emb/detail/parallel.hpp"
#include "emb/detail/sort.hpp"
#include "emb/gradient.hpp"
#include "emb/types.hpp"

namespace emb::detail {

// The options both table kinds take, already validated.
struct TableOptions {
  std::optional<Index> padding_idx{};  // normalized to [0, num_embeddings)
  std::optional<double> max_norm{};
  double norm_type = 2.0;
  bool scale_grad_by_freq = false;
};

inline void check_shape(const char* where, Index num_embeddings, Index embedding_dim) {
  if (num_embeddings <= 0) {
    throw_invalid(where, ": num_embeddings must be positive, got ", num_embeddings);
  }
  if (embedding_dim <= 0) {
    throw_invalid(where, ": embedding_dim must be positive, got ", embedding_dim);
  }
}

// PyTorch's rules: padding_idx in [-num, num), negative counting from the end; max_norm and
// norm_type positive (norm_type may be infinity: the max-abs norm).
inline TableOptions make_table_options(const char* where, Index num_embeddings,
                                       std::optional<Index> padding_idx,
                                       std::optional<double> max_norm, double norm_type,
                                       bool scale_grad_by_freq) {
  TableOptions options{.norm_type = norm_type, .scale_grad_by_freq = scale_grad_by_freq};
  if (padding_idx) {
    const Index p = *padding_idx;
    if (p < -num_embeddings || p >= num_embeddings) {
      throw_out_of_range(where, ": padding_idx ", p, " is out of range [", -num_embeddings, ", ",
                         num_embeddings, ")");
    }
    options.padding_idx = p < 0 ? p + num_embeddings : p;
  }
  if (max_norm) {
    if (!(*max_norm > 0)) throw_invalid(where, ": max_norm must be positive, got ", *max_norm);
    options.max_norm = max_norm;
  }
  if (!(norm_type > 0)) throw_invalid(where, ": norm_type must be positive, got ", norm_type);
  return options;
}

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

// How many rows ahead a gather prefetches: enough to hide a DRAM miss behind the copies of the
// rows in between.
inline constexpr std::size_t prefetch_distance = 8;

// Outputs up to this many bytes are gathered with copy_row_wide (built for AVX-512), larger ones
// with copy_row. Measured on a Skylake-SP Xeon, 2 threads, rows of 256 and 512 bytes: 64-byte
// moves took 8 to 15 % less time for outputs of 1 to 4 MiB, which stay in cache, and 8 to 20 %
// more for outputs of 8 and 32 MiB, which stream to memory.
inline constexpr std::size_t wide_copy_limit = std::size_t{4} << 20;

// Gathers rows: out row i = weight row indices[i]. `out` has row stride `out_stride`. Each
// thread copies a contiguous range of output rows.
template <class T, class I>
void gather_rows(const Matrix<T>& weight, const I* indices, std::size_t n, T* out,
                 Index out_stride) {
  const Index dim = weight.cols();
  const auto bytes = static_cast<std::size_t>(dim) * sizeof(T);
  const T* w = weight.data();
  const auto rows_per_thread =
      static_cast<std::int64_t>(std::max<std::size_t>(1, (64 << 10) / bytes));
  auto gather = [&](auto copy) {
    parallel_ranges(
        static_cast<std::int64_t>(n), rows_per_thread, [&](std::int64_t begin, std::int64_t end) {
          const auto last = static_cast<std::size_t>(end);
          for (auto i = static_cast<std::size_t>(begin); i < last; ++i) {
            if (i + prefetch_distance < last) {
              prefetch(w + static_cast<Index>(indices[i + prefetch_distance]) * dim, bytes);
            }
            copy(out + static_cast<Index>(i) * out_stride, w + static_cast<Index>(indices[i]) * dim,
                 bytes);
          }
        });
  };
  // Lambdas, not function pointers: each copy is inlined into its own instance of the loop.
  if (has_wide_copy && n * bytes <= wide_copy_limit) {
    gather([](void* d, const void* s, std::size_t b) { copy_row_wide(d, s, b); });
  } else {
    gather([](void* d, const void* s, std::size_t b) { copy_row(d, s, b); });
  }
}

// Sums per-position gradients into a row-sparse Gradient. For position i, add_row(out, i, scale)
// must add scale * (the gradient flowing into weight[indices[i]]) to `out`. Positions of one row
// are visited in input order; the padding row is skipped; with scale_grad_by_freq the scale is
// 1 / (occurrences of the row in the whole call), as PyTorch. Rows are split across threads in
// contiguous ranges, each row summed by one thread: the result never depends on thread count.
// The positions of a row are scattered over the input, so their gradients are cache misses:
// prefetch_position(i), called a few positions ahead of add_row, should prefetch what
// add_row(.., i, ..) will read.
template <class T, class I, class AddRow, class PrefetchPosition>
Gradient<T> coalesce(const I* indices, std::size_t n, Index num_embeddings, Index dim,
                     const TableOptions& options, AddRow&& add_row,
                     PrefetchPosition&& prefetch_position) {
  Groups groups = group_positions(indices, n, num_embeddings);
  Gradient<T> grad;
  grad.num_embeddings = num_embeddings;
  grad.rows.reserve(groups.rows.size());
  std::vector<std::size_t> group_of_row;
  group_of_row.reserve(groups.rows.size());
  for (std::size_t g = 0; g < groups.rows.size(); ++g) {
    if (options.padding_idx && groups.rows[g] == *options.padding_idx) continue;
    grad.rows.push_back(groups.rows[g]);
    group_of_row.push_back(g);
  }
  // Not zeroed here: each row is zeroed just before its sum, while it is in cache.
  grad.values.resize(static_cast<Index>(grad.rows.size()), dim);
  // Threads split the positions evenly, each summing the rows whose positions start in its share:
  // Zipf-distributed ids make a few rows far heavier than the rest, so splitting rows evenly
  // would leave one thread with most of the work. At least 128 KiB of gradient per thread.
  const auto positions_per_thread = static_cast<std::int64_t>(
      std::max<std::size_t>(1, (128 << 10) / (static_cast<std::size_t>(dim) * sizeof(T))));
  auto first_row_at = [&](std::int64_t position) {
    return std::ranges::lower_bound(group_of_row, position, {},
                                    [&](std::size_t g) { return groups.starts[g]; }) -
           group_of_row.begin();
  };
  parallel_ranges(
      static_cast<std::int64_t>(n), positions_per_thread,
      [&](std::int64_t begin, std::int64_t end) {
        for (auto k = first_row_at(begin), last_k = first_row_at(end); k < last_k; ++k) {
          const std::size_t g = group_of_row[static_cast<std::size_t>(k)];
          const Index first = groups.starts[g], last = groups.starts[g + 1];
          const T scale = options.scale_grad_by_freq ? T(1) / static_cast<T>(last - first) : T(1);
          auto out = grad.values.row(k);
          out.setZero();
          for (Index p = first; p < last; ++p) {
            const auto u = static_cast<std::size_t>(p);
            if (u + prefetch_distance < n) {
              prefetch_position(groups.order[u + prefetch_distance]);
            }
            add_row(out, groups.order[u], scale);
          }
        }
      });
  return grad;
}

}  // namespace emb::detail
