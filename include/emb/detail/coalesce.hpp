#pragma once
// The backward step: per-position gradients summed into one row-sparse Gradient, duplicates in
// input order (detail/sort.hpp groups the positions).

#include <algorithm>  // std::max, std::ranges::lower_bound
#include <cstddef>    // std::size_t
#include <cstdint>    // std::int64_t
#include <vector>     // std::vector

#include "emb/detail/huge_pages.hpp"
#include "emb/detail/parallel.hpp"
#include "emb/detail/sort.hpp"
#include "emb/detail/table_options.hpp"
#include "emb/gradient.hpp"
#include "emb/types.hpp"

namespace emb::detail {

// How many positions ahead backward prefetches the gradient rows it will add: enough to hide a
// DRAM miss behind the additions in between.
inline constexpr std::size_t coalesce_prefetch_distance = 8;

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
  grad.values = allocate_table<T>(static_cast<Index>(grad.rows.size()), dim);
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
            if (u + coalesce_prefetch_distance < n) {
              prefetch_position(groups.order[u + coalesce_prefetch_distance]);
            }
            add_row(out, groups.order[u], scale);
          }
        }
      });
  return grad;
}

}  // namespace emb::detail
