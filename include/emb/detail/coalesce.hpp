#pragma once
// The backward step: per-position gradients summed into one row-sparse Gradient, duplicates in
// input order (detail/sort.hpp groups the positions).

#include <algorithm>    // std::max, std::ranges::lower_bound
#include <cstddef>      // std::size_t
#include <cstdint>      // std::int64_t
#include <type_traits>  // std::integral_constant
#include <vector>       // std::vector

#include "emb/detail/columns.hpp"
#include "emb/detail/huge_pages.hpp"
#include "emb/detail/parallel.hpp"
#include "emb/detail/prefetch.hpp"
#include "emb/detail/sort.hpp"
#include "emb/detail/table_options.hpp"
#include "emb/gradient.hpp"
#include "emb/types.hpp"

namespace emb::detail {

// How many positions ahead backward prefetches the rows it will read or add into: enough to hide
// a miss behind the additions in between.
inline constexpr std::size_t coalesce_prefetch_distance = 8;

// Per-position gradients of more bytes than this are read in input order when one thread sums
// every row: they would not stay in cache, and memory serves them fastest in the order they lie.
inline constexpr std::size_t streamed_gradient_bytes = std::size_t{4} << 20;

// Sets out[0, dim) to the sum of scale * rows[positions[k]] for k in [0, count), added in that
// order starting from zero: one group of backward's walk by rows. The sums stay in registers, a
// few vectors of columns at a time, instead of going through `out` for every position: a store
// and a reload per position and vector, which made W3's backward (docs/PERFORMANCE.md) a third
// slower. Each element still gets the same additions in the same order, so the result is bit
// for bit that of `out.setZero(); out += scale * row` per position. The rows of
// positions[k + coalesce_prefetch_distance] are prefetched while the first columns are summed;
// positions[0, visible) may be read (visible >= count).
template <class T>
void sum_rows(T* out, const Eigen::Ref<const Matrix<T>>& rows, const std::int64_t* positions,
              std::size_t count, std::size_t visible, T scale) {
  constexpr std::size_t ahead = coalesce_prefetch_distance;
  const Index dim = rows.cols();
  auto row = [&](std::size_t k, Index column) {
    return rows.data() + positions[k] * rows.outerStride() + column;
  };
  // Sums columns [column, column + width) of every position, `width` fixed: four vectors' worth
  // (64 floats in four registers in a build for AVX-512, 16 for SSE2), then one.
  auto sum_fixed = [&]<Index width>(Index column, std::integral_constant<Index, width>) {
    using Columns = Eigen::Array<T, width, 1>;
    Columns sum = Columns::Zero();
    for (std::size_t k = 0; k < count; ++k) {
      if (column == 0 && k + ahead < visible) prefetch_row(rows, positions[k + ahead]);
      sum = sum + scale * Eigen::Map<const Columns>(row(k, column));
    }
    Eigen::Map<Columns>(out + column) = sum;
  };
  constexpr Index vector =
      EIGEN_MAX_STATIC_ALIGN_BYTES / sizeof(T) > 0 ? EIGEN_MAX_STATIC_ALIGN_BYTES / sizeof(T) : 1;
  Index column = 0;
  for (; column + 4 * vector <= dim; column += 4 * vector) {
    sum_fixed(column, std::integral_constant<Index, 4 * vector>{});
  }
  for (; column + vector <= dim; column += vector) {
    sum_fixed(column, std::integral_constant<Index, vector>{});
  }
  // Then a half and a quarter vector, so that only the last few columns go through `out`: W1's
  // 300 columns are 64 x 4 + 16 x 2 + 8 + 4 in a build for AVX-512, where the 12 after the
  // 16s took a tenth of its backward at two threads. Only with scale 1 (all but
  // scale_grad_by_freq): with another scale these columns must be summed as the walk in input
  // order adds them (Eigen's `out += scale * row`, whose last columns the compiler may fuse into
  // multiply-adds where it does not fuse vector code), or the sums would depend on thread count.
  if constexpr (vector >= 4) {
    auto part = [&](auto width) {
      if (scale == T(1) && column + width <= dim) {
        sum_fixed(column, width);
        column += width;
      }
    };
    part(std::integral_constant<Index, vector / 2>{});
    part(std::integral_constant<Index, vector / 4>{});
  }
  if (column == dim) return;
  // The last columns, fewer than a vector: summed in `out` itself.
  using Tail = Eigen::Array<T, Eigen::Dynamic, 1>;
  Eigen::Map<Tail> tail(out + column, dim - column);
  tail.setZero();
  for (std::size_t k = 0; k < count; ++k) {
    if (column == 0 && k + ahead < visible) prefetch_row(rows, positions[k + ahead]);
    tail = tail + scale * Eigen::Map<const Tail>(row(k, column), dim - column);
  }
}

// out[0, dim) += scale * row[0, dim): one position of a backward's walk in input order. With
// scale 1 (all but scale_grad_by_freq, mean bags and per-sample weights; x + 1 * y is x + y
// exactly), a loop in blocks of 16 columns (for_columns), vector loads and stores from the first
// column: Eigen's `out += row` on rows of run-time length adds single elements until `out` is
// aligned and again at the end, which made W1's backward about a fifth slower in a build for
// AVX-512 (docs/PERFORMANCE.md). Any other scale keeps Eigen's expression, the form of sum_rows's
// last columns, so that scaled sums do not depend on which walk, or how many threads, made them.
template <class T>
void add_row_to(T* out, const T* row, Index dim, T scale) {
  if (scale == T(1)) {
    for_columns(dim, [&](Index j) { out[j] = out[j] + row[j]; });
    return;
  }
  using Columns = Eigen::Array<T, Eigen::Dynamic, 1>;
  Eigen::Map<Columns>(out, dim) += scale * Eigen::Map<const Columns>(row, dim);
}

// Sums per-position gradients into a row-sparse Gradient. For position i, add_row(out, i, scale)
// must add scale * (the gradient flowing into weight[indices[i]]) to `out`. Positions of one row
// are added in input order, starting from zero; the padding row is skipped; with
// scale_grad_by_freq the scale is 1 / (occurrences of the row in the whole call), as PyTorch.
// Rows are split across threads in contiguous ranges, each row summed by one thread: the result
// never depends on thread count. Threads walk the positions of their rows, row by row, each row
// summed by sum_group(out, positions, count, visible, scale), which must set `out` to the sum of
// add_row(.., positions[k], scale) over k in [0, count) and may prefetch for positions[count,
// visible) (sum_rows above, for gradients that are rows of one matrix; coalesce below, one
// add_row per position). One thread summing large gradients reads the positions in input order
// instead, a row's first position setting it with sum_group (a group of one) and the others
// added with add_row (the rows being summed are far fewer bytes than the gradients read, and stay
// in cache): on W1 and W2 of docs/PERFORMANCE.md a quarter less time than jumping to a random
// gradient row for every position.
template <class T, class I, class AddRow, class SumGroup>
Gradient<T> coalesce_groups(const I* indices, std::size_t n, Index num_embeddings, Index dim,
                            const TableOptions& options, AddRow&& add_row, SumGroup&& sum_group) {
  // Threads split the positions evenly, each summing the groups whose positions start in its
  // share: Zipf-distributed ids make a few rows far heavier than the rest, so splitting rows
  // evenly would leave one thread with most of the work. At least 128 KiB of gradient per thread.
  const auto positions_per_thread = static_cast<std::int64_t>(
      std::max<std::size_t>(1, (128 << 10) / (static_cast<std::size_t>(dim) * sizeof(T))));
  const bool input_order = range_count(static_cast<std::int64_t>(n), positions_per_thread) == 1 &&
                           n * static_cast<std::size_t>(dim) * sizeof(T) > streamed_gradient_bytes;
  const Groups groups = group_positions(indices, n, num_embeddings, input_order);
  const auto num_groups = static_cast<std::int64_t>(groups.rows.size());
  // The padding row's group, if any, gets no gradient row: the groups after it move up by one.
  std::int64_t padding_group = num_groups;
  if (options.padding_idx) {
    const auto at = std::ranges::lower_bound(groups.rows, *options.padding_idx);
    if (at != groups.rows.end() && *at == *options.padding_idx) {
      padding_group = at - groups.rows.begin();
    }
  }
  Gradient<T> grad;
  grad.num_embeddings = num_embeddings;
  grad.rows = groups.rows;
  if (padding_group < num_groups) grad.rows.erase(grad.rows.begin() + padding_group);
  auto row_of = [padding_group](std::int64_t g) {
    return static_cast<Index>(g - (g > padding_group));
  };
  auto scale_of = [&](std::int64_t g) {
    const auto u = static_cast<std::size_t>(g);
    return options.scale_grad_by_freq
               ? T(1) / static_cast<T>(groups.starts[u + 1] - groups.starts[u])
               : T(1);
  };
  grad.values = allocate_table<T>(static_cast<Index>(grad.rows.size()), dim);
  constexpr std::size_t ahead = coalesce_prefetch_distance;
  if (input_order) {
    // No pass zeroing the rows first: `started` marks the groups whose first position is in.
    std::vector<std::uint64_t> started((static_cast<std::size_t>(num_groups) + 63) / 64, 0);
    for (std::size_t i = 0; i < n; ++i) {
      if (i + ahead < n && groups.group[i + ahead] != padding_group) {
        prefetch_row(grad.values, row_of(groups.group[i + ahead]), true);
      }
      const std::int64_t g = groups.group[i];
      if (g == padding_group) continue;
      auto out = grad.values.row(row_of(g));
      auto& word = started[static_cast<std::size_t>(g) / 64];
      const std::uint64_t bit = std::uint64_t{1} << (g % 64);
      if (word & bit) {
        add_row(out, static_cast<Index>(i), scale_of(g));
      } else {
        word |= bit;
        const auto position = static_cast<std::int64_t>(i);
        sum_group(out, &position, 1, 1, scale_of(g));
      }
    }
    return grad;
  }
  auto first_group_at = [&](std::int64_t position) {
    return std::lower_bound(groups.starts.begin(), groups.starts.begin() + num_groups, position) -
           groups.starts.begin();
  };
  parallel_ranges(static_cast<std::int64_t>(n), positions_per_thread,
                  [&](std::int64_t begin, std::int64_t end) {
                    for (auto g = first_group_at(begin), last = first_group_at(end); g < last;
                         ++g) {
                      if (g == padding_group) continue;
                      const auto u = static_cast<std::size_t>(g);
                      const auto first = static_cast<std::size_t>(groups.starts[u]);
                      const auto count = static_cast<std::size_t>(groups.starts[u + 1]) - first;
                      sum_group(grad.values.row(row_of(g)), groups.order.data() + first, count,
                                std::min(count + ahead, n - first), scale_of(g));
                    }
                  });
  return grad;
}

// coalesce_groups for gradients that come one position at a time: each group is summed with
// add_row, calling prefetch_position(i) a few positions ahead, which should prefetch what
// add_row(.., i, ..) will read.
template <class T, class I, class AddRow, class PrefetchPosition>
Gradient<T> coalesce(const I* indices, std::size_t n, Index num_embeddings, Index dim,
                     const TableOptions& options, AddRow&& add_row,
                     PrefetchPosition&& prefetch_position) {
  return coalesce_groups<T>(indices, n, num_embeddings, dim, options, add_row,
                            [&](auto out, const std::int64_t* positions, std::size_t count,
                                std::size_t visible, T scale) {
                              constexpr std::size_t ahead = coalesce_prefetch_distance;
                              out.setZero();
                              for (std::size_t k = 0; k < count; ++k) {
                                if (k + ahead < visible) {
                                  prefetch_position(static_cast<Index>(positions[k + ahead]));
                                }
                                add_row(out, static_cast<Index>(positions[k]), scale);
                              }
                            });
}

}  // namespace emb::detail
