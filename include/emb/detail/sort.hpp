#pragma once
// Grouping of positions by index, the heart of backward: positions of equal indices end up
// adjacent and in input order, so sums over them never depend on how work is split.

#include <algorithm>  // std::sort, std::clamp, std::fill
#include <bit>        // std::bit_width, std::countr_zero, std::popcount
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
// starts[g + 1] - starts[g] positions. Backward walks either the groups (each thread its own),
// which lists them in `order`, or, with one thread, the positions in input order, which looks up
// each one's group in `group`: group_positions fills one of the two.
struct Groups {
  std::vector<std::int64_t> rows;
  std::vector<std::int64_t> starts;  // rows.size() + 1 entries
  std::vector<std::int64_t> order;   // n entries, positions sorted by (index, position); or none
  std::vector<std::int64_t> group;   // n entries, group[i] the group of position i; or none
};

// Up to this many table rows per position, grouping marks the rows that occur in a bitmap (two
// arrays of rows / 64 words to clear and scan); beyond, it sorts the positions. Against the radix
// sort, Zipf ids (bench_embedding's grouping, docs/PERFORMANCE.md): faster up to 122 rows per
// position, slower from 152; 64 leaves a margin.
inline constexpr std::int64_t bitmap_ratio = 64;

// `indices` must already be validated to lie in [0, num_embeddings). Fills `group` when
// with_group, else `order`.
template <class I>
Groups group_positions(const I* indices, std::size_t n, std::int64_t num_embeddings,
                       bool with_group = false) {
  Groups groups;
  (with_group ? groups.group : groups.order).resize(n);
  const auto pos_bits = static_cast<int>(std::bit_width(n));
  const auto row_bits =
      static_cast<int>(std::bit_width(static_cast<std::uint64_t>(num_embeddings)));
  // Position `position` comes i-th in grouped order, with index `row`.
  auto add = [&groups, with_group](std::size_t i, std::int64_t row, std::int64_t position) {
    if (groups.rows.empty() || groups.rows.back() != row) {
      groups.rows.push_back(row);
      groups.starts.push_back(static_cast<std::int64_t>(i));
    }
    if (with_group) {
      groups.group[static_cast<std::size_t>(position)] =
          static_cast<std::int64_t>(groups.rows.size()) - 1;
    } else {
      groups.order[i] = position;
    }
  };
  if (n <= std::numeric_limits<std::uint32_t>::max() &&
      num_embeddings <= bitmap_ratio * static_cast<std::int64_t>(n)) {
    // Not too many rows for this many positions (W1, W2, W3 in docs/PERFORMANCE.md): the rows
    // that occur are marked in a bitmap and numbered in increasing order a word of it at a time
    // (a step per row that occurs, not per row of the table); a position's group is then its
    // row's number, the count of rows marked below it. Positions are placed by a counting sort
    // on their groups, stable. Against a radix sort of (row, position) keys, W2's grouping for
    // one thread took 0.46 -> 0.18 ms alone and 0.88-0.99 -> 0.31-0.33 ms in a training loop.
    const auto words = static_cast<std::size_t>((num_embeddings + 63) / 64);
    std::vector<std::uint64_t> occur(words, 0);
    for (std::size_t i = 0; i < n; ++i) {
      const auto r = static_cast<std::uint64_t>(indices[i]);
      occur[r / 64] |= std::uint64_t{1} << (r % 64);
    }
    std::vector<std::uint32_t> before(words);  // rows marked in the words before
    std::uint32_t found = 0;
    for (std::size_t w = 0; w < words; ++w) {
      before[w] = found;
      found += static_cast<std::uint32_t>(std::popcount(occur[w]));
    }
    groups.rows.resize(found);
    for (std::size_t w = 0; w < words; ++w) {
      std::uint32_t g = before[w];
      for (std::uint64_t bits = occur[w]; bits != 0; bits &= bits - 1) {
        groups.rows[g++] = static_cast<std::int64_t>(w * 64) + std::countr_zero(bits);
      }
    }
    // next[g + 1] counts group g's positions, then becomes where its next position goes.
    std::vector<std::uint32_t> next(std::size_t{found} + 1, 0);
    std::vector<std::uint32_t> group(with_group ? 0 : n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto r = static_cast<std::uint64_t>(indices[i]);
      const std::uint64_t below = occur[r / 64] & ((std::uint64_t{1} << (r % 64)) - 1);
      const std::uint32_t g = before[r / 64] + static_cast<std::uint32_t>(std::popcount(below));
      ++next[g + 1];
      if (with_group) {
        groups.group[i] = g;
      } else {
        group[i] = g;
      }
    }
    groups.starts.resize(std::size_t{found} + 1);
    for (std::uint32_t g = 0; g < found; ++g) {
      next[g + 1] += next[g];
      groups.starts[g] = next[g];
    }
    groups.starts.back() = static_cast<std::int64_t>(n);
    if (!with_group) {
      for (std::size_t i = 0; i < n; ++i) {
        groups.order[next[group[i]]++] = static_cast<std::int64_t>(i);
      }
    }
    return groups;
  }
  if (pos_bits + row_bits <= 64) {
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
