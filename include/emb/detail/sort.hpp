#pragma once
// Grouping of positions by index, the heart of backward: positions of equal indices end up
// adjacent and in input order, so sums over them never depend on how work is split.

#include <algorithm>  // std::sort, std::clamp
#include <bit>        // std::bit_width
#include <cstdint>    // std::uint64_t, std::int64_t, std::uint32_t
#include <limits>     // std::numeric_limits
#include <vector>     // std::vector

#include "emb/detail/parallel.hpp"

namespace emb::detail {

// Sorts distinct 64-bit keys whose significant bits are the low `bits` ones. One parallel
// counting pass on the top 11 bits scatters the keys into 2048 buckets, then each bucket is
// sorted on its own (in parallel): linear work, and the buckets are small enough to sort in
// cache. The keys are distinct, so the result is the same whatever the thread count.
inline void sort_keys(std::vector<std::uint64_t>& keys, int bits) {
  const auto n = static_cast<std::int64_t>(keys.size());
  if (n < 4096) {
    std::sort(keys.begin(), keys.end());
    return;
  }
  constexpr int digit = 11;
  const int shift = std::max(0, bits - digit);
  const std::size_t buckets = std::size_t{1} << std::min(bits, digit);
  const std::int64_t parts = std::clamp<std::int64_t>(n / 16384, 1, max_threads());
  std::vector<std::size_t> count(static_cast<std::size_t>(parts) * buckets);
  auto chunk = [&](std::int64_t part) {
    return std::pair{n * part / parts, n * (part + 1) / parts};
  };
  parallel_for(0, parts, 1, [&](std::int64_t part) {
    auto* c = count.data() + static_cast<std::size_t>(part) * buckets;
    const auto [begin, end] = chunk(part);
    for (auto i = begin; i < end; ++i) ++c[keys[static_cast<std::size_t>(i)] >> shift];
  });
  std::vector<std::size_t> bucket_start(buckets + 1);
  std::size_t total = 0;
  for (std::size_t b = 0; b < buckets; ++b) {  // bucket-major: bucket b of part 0, 1, ...
    bucket_start[b] = total;
    for (std::int64_t part = 0; part < parts; ++part) {
      auto& c = count[static_cast<std::size_t>(part) * buckets + b];
      const auto here = c;
      c = total;
      total += here;
    }
  }
  bucket_start[buckets] = total;
  std::vector<std::uint64_t> sorted(keys.size());
  parallel_for(0, parts, 1, [&](std::int64_t part) {
    auto* c = count.data() + static_cast<std::size_t>(part) * buckets;
    const auto [begin, end] = chunk(part);
    for (auto i = begin; i < end; ++i) {
      const auto k = keys[static_cast<std::size_t>(i)];
      sorted[c[k >> shift]++] = k;
    }
  });
  // Threads only for large inputs: below that, waking them costs more than the sorts.
  const std::int64_t buckets_per_thread = n >= 65536 ? 64 : static_cast<std::int64_t>(buckets);
  parallel_for(0, static_cast<std::int64_t>(buckets), buckets_per_thread, [&](std::int64_t b) {
    const auto first =
        sorted.begin() + static_cast<std::ptrdiff_t>(bucket_start[static_cast<std::size_t>(b)]);
    const auto last =
        sorted.begin() + static_cast<std::ptrdiff_t>(bucket_start[static_cast<std::size_t>(b) + 1]);
    std::sort(first, last);
  });
  keys.swap(sorted);
}

// Positions 0..n-1 grouped by index: `order` lists positions sorted by (index, position);
// group g spans order[starts[g] .. starts[g + 1]) and holds index `rows[g]`.
struct Groups {
  std::vector<std::int64_t> rows;
  std::vector<std::int64_t> starts;  // rows.size() + 1 entries
  std::vector<std::int64_t> order;
};

// Up to this many table rows per position, grouping counts rows instead of sorting positions.
inline constexpr std::int64_t counting_sort_ratio = 8;

// `indices` must already be validated to lie in [0, num_embeddings).
template <class I>
Groups group_positions(const I* indices, std::size_t n, std::int64_t num_embeddings) {
  Groups groups;
  groups.order.resize(n);
  const auto pos_bits = static_cast<int>(std::bit_width(n));
  const auto row_bits =
      static_cast<int>(std::bit_width(static_cast<std::uint64_t>(num_embeddings)));
  auto add = [&groups](std::size_t i, std::int64_t row, std::int64_t position) {
    groups.order[i] = position;
    if (groups.rows.empty() || groups.rows.back() != row) {
      groups.rows.push_back(row);
      groups.starts.push_back(static_cast<std::int64_t>(i));
    }
  };
  if (n <= std::numeric_limits<std::uint32_t>::max() &&
      num_embeddings <= counting_sort_ratio * static_cast<std::int64_t>(n)) {
    // Few rows for this many positions (W1, W3 in docs/PERFORMANCE.md): a counting sort by row,
    // one pass over the positions and one over the rows, stable so each group is in input order.
    std::vector<std::uint32_t> next(static_cast<std::size_t>(num_embeddings), 0);
    for (std::size_t i = 0; i < n; ++i) ++next[static_cast<std::size_t>(indices[i])];
    // Branch-free: whether a row occurs is a coin flip the branch predictor would keep missing.
    const auto most = std::min<std::size_t>(n, next.size());
    groups.rows.resize(most + 1);
    groups.starts.resize(most + 1);
    std::size_t found = 0;
    std::uint32_t at = 0;
    for (std::size_t r = 0; r < next.size(); ++r) {
      const std::uint32_t count = next[r];
      groups.rows[found] = static_cast<std::int64_t>(r);
      groups.starts[found] = at;
      next[r] = at;
      at += count;
      found += count != 0;
    }
    groups.rows.resize(found);
    groups.starts.resize(found);
    for (std::size_t i = 0; i < n; ++i) {
      groups.order[next[static_cast<std::size_t>(indices[i])]++] = static_cast<std::int64_t>(i);
    }
  } else if (pos_bits + row_bits <= 64) {
    std::vector<std::uint64_t> keys(n);
    parallel_for(0, static_cast<std::int64_t>(n), 16384, [&](std::int64_t i) {
      const auto u = static_cast<std::size_t>(i);
      keys[u] = (static_cast<std::uint64_t>(indices[u]) << pos_bits) | u;
    });
    sort_keys(keys, pos_bits + row_bits);
    const std::uint64_t pos_mask = (std::uint64_t{1} << pos_bits) - 1;
    for (std::size_t i = 0; i < n; ++i) {
      add(i, static_cast<std::int64_t>(keys[i] >> pos_bits),
          static_cast<std::int64_t>(keys[i] & pos_mask));
    }
  } else {  // astronomically large tables and batches: keys no longer fit in 64 bits
    std::vector<std::int64_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::int64_t>(i);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::int64_t a, std::int64_t b) { return indices[a] < indices[b]; });
    for (std::size_t i = 0; i < n; ++i)
      add(i, static_cast<std::int64_t>(indices[order[i]]), order[i]);
  }
  groups.starts.push_back(static_cast<std::int64_t>(n));
  return groups;
}

}  // namespace emb::detail
