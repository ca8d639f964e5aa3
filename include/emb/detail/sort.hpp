#pragma once
// Grouping of positions by index, the heart of backward: positions of equal indices end up
// adjacent and in input order, so sums over them never depend on how work is split.

#include <algorithm>  // std::sort
#include <bit>        // std::bit_width
#include <cstdint>    // std::uint64_t, std::int64_t
#include <cstring>    // std::memset
#include <vector>     // std::vector

namespace emb::detail {

// Sorts 64-bit keys whose significant bits are the low `bits` ones. LSD radix sort with 11-bit
// digits: a (1M-row, 64k-index) backward needs 36 bits, so 4 linear passes instead of a
// comparison sort.
inline void radix_sort(std::vector<std::uint64_t>& keys, int bits) {
  constexpr int digit = 11;
  constexpr std::size_t buckets = std::size_t{1} << digit;
  if (keys.size() < 256) {
    std::sort(keys.begin(), keys.end());
    return;
  }
  std::vector<std::uint64_t> scratch(keys.size());
  std::vector<std::size_t> count(buckets);
  for (int shift = 0; shift < bits; shift += digit) {
    std::fill(count.begin(), count.end(), 0);
    for (auto k : keys) ++count[(k >> shift) & (buckets - 1)];
    std::size_t total = 0;
    for (auto& c : count) {
      const auto here = c;
      c = total;
      total += here;
    }
    for (auto k : keys) scratch[count[(k >> shift) & (buckets - 1)]++] = k;
    keys.swap(scratch);
  }
}

// Positions 0..n-1 grouped by index: `order` lists positions sorted by (index, position);
// group g spans order[starts[g] .. starts[g + 1]) and holds index `rows[g]`.
struct Groups {
  std::vector<std::int64_t> rows;
  std::vector<std::int64_t> starts;  // rows.size() + 1 entries
  std::vector<std::int64_t> order;
};

// `indices` must already be validated to lie in [0, num_embeddings).
template <class I>
Groups group_positions(const I* indices, std::size_t n, std::int64_t num_embeddings) {
  Groups groups;
  groups.order.resize(n);
  const auto pos_bits = static_cast<int>(std::bit_width(n));
  const auto row_bits =
      static_cast<int>(std::bit_width(static_cast<std::uint64_t>(num_embeddings)));
  if (pos_bits + row_bits <= 64) {
    std::vector<std::uint64_t> keys(n);
    for (std::size_t i = 0; i < n; ++i) {
      keys[i] = (static_cast<std::uint64_t>(indices[i]) << pos_bits) | i;
    }
    radix_sort(keys, pos_bits + row_bits);
    const std::uint64_t pos_mask = (std::uint64_t{1} << pos_bits) - 1;
    for (std::size_t i = 0; i < n; ++i) {
      groups.order[i] = static_cast<std::int64_t>(keys[i] & pos_mask);
    }
  } else {  // astronomically large tables and batches: keys no longer fit in 64 bits
    for (std::size_t i = 0; i < n; ++i) groups.order[i] = static_cast<std::int64_t>(i);
    std::stable_sort(groups.order.begin(), groups.order.end(),
                     [&](std::int64_t a, std::int64_t b) { return indices[a] < indices[b]; });
  }
  for (std::size_t i = 0; i < n; ++i) {
    const auto row = static_cast<std::int64_t>(indices[groups.order[i]]);
    if (groups.rows.empty() || groups.rows.back() != row) {
      groups.rows.push_back(row);
      groups.starts.push_back(static_cast<std::int64_t>(i));
    }
  }
  groups.starts.push_back(static_cast<std::int64_t>(n));
  return groups;
}

}  // namespace emb::detail
