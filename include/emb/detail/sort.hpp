#pragma once
// Grouping of positions by index, the heart of backward: positions of equal indices end up
// adjacent and in input order, so sums over them never depend on how work is split.

#include <algorithm>  // std::sort, std::clamp, std::fill
#include <bit>        // std::bit_width, std::countr_zero
#include <cstdint>    // std::uint64_t, std::int64_t, std::uint32_t
#include <limits>     // std::numeric_limits
#include <utility>    // std::pair
#include <vector>     // std::vector

#include "emb/detail/parallel.hpp"

namespace emb::detail {

// Sorts 64-bit keys whose low `low` bits are already in increasing order (a position) by their
// bits [low, high) (an index), keeping that order among keys equal there: the result is the
// keys sorted. Least significant digit first, one counting pass per digit of at most 11 bits
// (two for a million rows), each pass split over threads in contiguous parts and stable: linear
// work, and the same result whatever the thread count.
inline void sort_keys(std::vector<std::uint64_t>& keys, int low, int high) {
  const auto n = static_cast<std::int64_t>(keys.size());
  if (n < 4096 || high <= low) {
    std::sort(keys.begin(), keys.end());
    return;
  }
  const int passes = (high - low + 10) / 11;
  const int digit = (high - low + passes - 1) / passes;
  const std::size_t buckets = std::size_t{1} << digit;
  const std::uint64_t mask = buckets - 1;
  const std::int64_t parts = std::clamp<std::int64_t>(n / 16384, 1, max_threads());
  std::vector<std::size_t> count(static_cast<std::size_t>(parts) * buckets);
  std::vector<std::uint64_t> sorted(keys.size());
  auto chunk = [&](std::int64_t part) {
    return std::pair{n * part / parts, n * (part + 1) / parts};
  };
  for (int shift = low; shift < high; shift += digit) {
    std::fill(count.begin(), count.end(), 0);
    parallel_for(0, parts, 1, [&](std::int64_t part) {
      auto* c = count.data() + static_cast<std::size_t>(part) * buckets;
      const auto [begin, end] = chunk(part);
      for (auto i = begin; i < end; ++i) ++c[(keys[static_cast<std::size_t>(i)] >> shift) & mask];
    });
    std::size_t total = 0;
    for (std::size_t b = 0; b < buckets; ++b) {  // bucket-major: bucket b of part 0, 1, ...
      for (std::int64_t part = 0; part < parts; ++part) {
        auto& c = count[static_cast<std::size_t>(part) * buckets + b];
        const auto here = c;
        c = total;
        total += here;
      }
    }
    parallel_for(0, parts, 1, [&](std::int64_t part) {
      auto* c = count.data() + static_cast<std::size_t>(part) * buckets;
      const auto [begin, end] = chunk(part);
      for (auto i = begin; i < end; ++i) {
        const auto k = keys[static_cast<std::size_t>(i)];
        sorted[c[(k >> shift) & mask]++] = k;
      }
    });
    keys.swap(sorted);
  }
}

// Positions 0..n-1 grouped by index: group g holds index rows[g] (increasing) and
// starts[g + 1] - starts[g] positions, listed in input order in order[starts[g] ..
// starts[g + 1]); group[i] is the group of position i, when asked for. Backward walks either the
// groups (each thread its own) or, with one thread, the positions in input order.
struct Groups {
  std::vector<std::int64_t> rows;
  std::vector<std::int64_t> starts;  // rows.size() + 1 entries
  std::vector<std::int64_t> order;   // n entries: positions sorted by (index, position)
  std::vector<std::int64_t> group;   // n entries, or none
};

// Up to this many table rows per position, grouping counts rows instead of sorting positions.
inline constexpr std::int64_t counting_sort_ratio = 8;

// `indices` must already be validated to lie in [0, num_embeddings). `group` is filled when
// with_group.
template <class I>
Groups group_positions(const I* indices, std::size_t n, std::int64_t num_embeddings,
                       bool with_group = false) {
  Groups groups;
  groups.order.resize(n);
  if (with_group) groups.group.resize(n);
  const auto pos_bits = static_cast<int>(std::bit_width(n));
  const auto row_bits =
      static_cast<int>(std::bit_width(static_cast<std::uint64_t>(num_embeddings)));
  // Position `position` comes i-th in grouped order, with index `row`.
  auto add = [&groups, with_group](std::size_t i, std::int64_t row, std::int64_t position) {
    groups.order[i] = position;
    if (groups.rows.empty() || groups.rows.back() != row) {
      groups.rows.push_back(row);
      groups.starts.push_back(static_cast<std::int64_t>(i));
    }
    if (with_group) {
      groups.group[static_cast<std::size_t>(position)] =
          static_cast<std::int64_t>(groups.rows.size()) - 1;
    }
  };
  if (n <= std::numeric_limits<std::uint32_t>::max() &&
      num_embeddings <= counting_sort_ratio * static_cast<std::int64_t>(n)) {
    // Few rows for this many positions (W1, W3 in docs/PERFORMANCE.md): a counting sort by row,
    // stable so each group is in input order. The positions are counted by row; the rows that
    // occur are found 64 at a time (a word of bits from their counts, then one step per bit
    // set), not one by one: a branch-free step for every row of the table was over half the
    // grouping's time (W3's backward 0.041 -> 0.035 ms, docs/PERFORMANCE.md). Then each position
    // is placed.
    std::vector<std::uint32_t> number(static_cast<std::size_t>(num_embeddings), 0);
    for (std::size_t i = 0; i < n; ++i) ++number[static_cast<std::size_t>(indices[i])];
    const auto most = std::min<std::size_t>(n, number.size());  // rows that can occur
    groups.rows.reserve(most);
    groups.starts.reserve(most + 1);
    std::uint32_t at = 0;
    for (std::size_t base = 0; base < number.size(); base += 64) {
      const std::size_t width = std::min<std::size_t>(64, number.size() - base);
      const std::uint32_t* counts = number.data() + base;
      std::uint64_t occur = 0;
      for (std::size_t b = 0; b < width; ++b) {
        occur |= static_cast<std::uint64_t>(counts[b] != 0) << b;
      }
      for (; occur != 0; occur &= occur - 1) {
        const std::size_t r = base + static_cast<std::size_t>(std::countr_zero(occur));
        const std::uint32_t count = number[r];
        number[r] = with_group ? static_cast<std::uint32_t>(groups.rows.size())
                               : at;  // the row's group, or where its positions go
        groups.rows.push_back(static_cast<std::int64_t>(r));
        groups.starts.push_back(at);
        at += count;
      }
    }
    const auto found = static_cast<std::uint32_t>(groups.rows.size());
    if (with_group) {
      std::vector<std::uint32_t> next(found);
      for (std::uint32_t g = 0; g < found; ++g) {
        next[g] = static_cast<std::uint32_t>(groups.starts[g]);
      }
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t g = number[static_cast<std::size_t>(indices[i])];
        groups.group[i] = g;
        groups.order[next[g]++] = static_cast<std::int64_t>(i);
      }
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        groups.order[number[static_cast<std::size_t>(indices[i])]++] = static_cast<std::int64_t>(i);
      }
    }
  } else if (pos_bits + row_bits <= 64) {
    std::vector<std::uint64_t> keys(n);
    parallel_for(0, static_cast<std::int64_t>(n), 16384, [&](std::int64_t i) {
      const auto u = static_cast<std::size_t>(i);
      keys[u] = (static_cast<std::uint64_t>(indices[u]) << pos_bits) | u;
    });
    sort_keys(keys, pos_bits, pos_bits + row_bits);
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
