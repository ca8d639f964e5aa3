#pragma once
// The pooled forward step: bags given as offsets, lengths or a (B, L) batch become one bounds
// array, validated once, and each bag's rows are pooled (sum, mean, max) from any row source
// (rows.hpp). Shared by EmbeddingBag and the compressed bag.

#include <algorithm>  // std::copy, std::max
#include <array>      // std::array
#include <cstddef>    // std::size_t
#include <span>       // std::span
#include <vector>     // std::vector

#include "emb/bag_mode.hpp"
#include "emb/detail/check.hpp"
#include "emb/detail/parallel.hpp"
#include "emb/detail/prefetch.hpp"
#include "emb/detail/rows.hpp"
#include "emb/types.hpp"

namespace emb::detail {

// Bag bounds from 1-D offsets (PyTorch's form): B + 1 entries, bag b = positions [bounds[b],
// bounds[b + 1]). Offsets start at 0, never decrease and never pass n; without
// include_last_offset the last bag runs to n, with it the last offset ends the last bag.
template <class I>
std::vector<Index> bounds_from_offsets(const char* where, std::span<const I> offsets, Index n,
                                       bool include_last_offset) {
  if (include_last_offset && offsets.empty()) {
    throw_invalid(where,
                  ": include_last_offset needs at least one offset (the end of the last bag), "
                  "got none");
  }
  std::vector<Index> bounds;
  bounds.reserve(offsets.size() + 1);
  for (std::size_t b = 0; b < offsets.size(); ++b) {
    const auto offset = static_cast<Index>(offsets[b]);
    if (b == 0 && offset != 0) throw_invalid(where, ": offsets[0] is ", offset, " but must be 0");
    const Index low = b == 0 ? 0 : bounds.back();
    if (offset < low || offset > n) {
      throw_out_of_range(where, ": offsets[", b, "] is ", offset, ", out of range [", low, ", ", n,
                         "]: offsets must be non-decreasing and at most the number of indices");
    }
    bounds.push_back(offset);
  }
  if (bounds.empty()) {
    bounds.push_back(0);  // no bags
  } else if (!include_last_offset) {
    bounds.push_back(n);  // the last bag runs to the end
  }
  return bounds;
}

// Bag bounds from per-bag lengths (FBGEMM's and caffe2's SparseLengths form): non-negative,
// summing to n.
template <class I>
std::vector<Index> bounds_from_lengths(const char* where, std::span<const I> lengths, Index n) {
  std::vector<Index> bounds{0};
  bounds.reserve(lengths.size() + 1);
  for (std::size_t b = 0; b < lengths.size(); ++b) {
    const auto length = static_cast<Index>(lengths[b]);
    if (length < 0)
      throw_invalid(where, ": lengths[", b, "] is ", length, " but must be non-negative");
    bounds.push_back(bounds.back() + length);
  }
  if (bounds.back() != n) {
    throw_invalid(where, ": lengths sum to ", bounds.back(), " but there are ", n, " indices");
  }
  return bounds;
}

// Bag bounds of a (bags, length) batch of equal-length bags.
inline std::vector<Index> bounds_of_batch(Index bags, Index length) {
  std::vector<Index> bounds(static_cast<std::size_t>(bags) + 1);
  for (std::size_t b = 0; b < bounds.size(); ++b) bounds[b] = static_cast<Index>(b) * length;
  return bounds;
}

// per_sample_weights: only with mode sum, one per index (empty means none).
inline void check_per_sample_weights(const char* where, BagMode mode, std::size_t weights,
                                     std::size_t n) {
  if (weights == 0) return;
  if (mode != BagMode::sum) {
    throw_invalid(where, ": per_sample_weights is only supported with mode sum (got mode ",
                  to_string(mode), ")");
  }
  if (weights != n) {
    throw_invalid(where, ": per_sample_weights has ", weights, " entries but there are ", n,
                  " indices");
  }
}

// Rows come from random places in a large table: asking for the columns of the row a few
// entries ahead (into the next bags too) keeps many loads in flight.
inline constexpr Index bag_prefetch_distance = 16;

// Pools bags of rows from `rows` into out (B, cols) with row stride out_stride: bag b holds the
// positions [bounds[b], bounds[b + 1]) of `indices` (validated), the padding row `pad` (or -1)
// skipped. Sum and mean add the rows (times their per-sample weights, when given) in input order,
// mean then divides by the non-padding count, as PyTorch's CPU kernel; max keeps per dimension
// the largest value and, when argmax is not null, the position that first reached it ((B, cols),
// -1 for a bag with no non-padding entry, whose output is zeros).
template <class Rows, class I>
struct BagPooler {
  using T = typename Rows::Scalar;
  // 512 bytes of columns (128 floats, 64 doubles): running sums or maxima that stay in
  // registers and L1. Wider tables go in several passes over the bag.
  static constexpr Index block = 512 / static_cast<Index>(sizeof(T));

  const Rows& rows;
  const I* indices;
  std::span<const Index> bounds;
  const T* weights;
  BagMode mode;
  Index pad;
  T* out;
  Index out_stride;
  Index* argmax;

  // Bags are independent, so each is pooled by one thread: the output never depends on the
  // number of threads.
  void run() const {
    const Index dim = rows.cols();
    const auto bags = static_cast<Index>(bounds.size()) - 1;
    const Index per_bag = bags == 0 ? 0 : bounds.back() / bags;
    const Index min_bags = std::max<Index>(1, 16384 / std::max<Index>(1, per_bag * dim));
    parallel_for(0, bags, min_bags, [&](Index b) {
      Index c = 0;
      for (; c + block <= dim; c += block) columns<block>(b, c, block);
      if (c < dim) columns<0>(b, c, dim - c);
    });
  }

  // Columns [c, c + width) of bag b; Width > 0 fixes width at compile time, so the compiler
  // unrolls the loop over a row's columns, which keeps more rows' loads in flight.
  template <Index Width>
  void columns(Index b, Index c, Index width) const {
    if (mode == BagMode::max) {
      max_columns<Width>(b, c, width);
    } else {
      sum_columns<Width>(b, c, width);
    }
  }

  void prefetch_ahead(Index p, Index c, Index width) const {
    const Index ahead = p + bag_prefetch_distance;
    if (ahead >= bounds.back()) return;
    const auto* row = static_cast<const char*>(rows.address(static_cast<Index>(indices[ahead])));
    if constexpr (reads_in_place<Rows>) {
      prefetch(row + static_cast<std::size_t>(c) * sizeof(T),
               sizeof(T) * static_cast<std::size_t>(width));
    } else if (c == 0) {
      prefetch(row, rows.row_bytes());
    }
  }

  template <Index Width>
  void sum_columns(Index b, Index c, Index width) const {
    const Index cols = Width > 0 ? Width : width;
    const Index begin = bounds[static_cast<std::size_t>(b)];
    const Index end = bounds[static_cast<std::size_t>(b) + 1];
    std::array<T, static_cast<std::size_t>(block)> acc{};
    std::array<T, static_cast<std::size_t>(block)> scratch;
    Index count = 0;
    for (Index p = begin; p < end; ++p) {
      prefetch_ahead(p, c, cols);
      const auto row = static_cast<Index>(indices[p]);
      if (row == pad) continue;
      const T* src = rows.columns(row, c, cols, scratch.data());
      const T w = weights ? weights[p] : T(1);  // 1 * x is exact: one loop for both
      for (Index j = 0; j < cols; ++j) acc[static_cast<std::size_t>(j)] += w * src[j];
      ++count;
    }
    if (mode == BagMode::mean && count > 0) {
      for (Index j = 0; j < cols; ++j) acc[static_cast<std::size_t>(j)] /= static_cast<T>(count);
    }
    std::copy(acc.begin(), acc.begin() + cols, out + b * out_stride + c);
  }

  template <Index Width>
  void max_columns(Index b, Index c, Index width) const {
    const Index cols = Width > 0 ? Width : width;
    const Index begin = bounds[static_cast<std::size_t>(b)];
    const Index end = bounds[static_cast<std::size_t>(b) + 1];
    std::array<T, static_cast<std::size_t>(block)> best{};
    std::array<T, static_cast<std::size_t>(block)> scratch;
    std::array<Index, static_cast<std::size_t>(block)> arg;
    arg.fill(-1);  // no non-padding entry: zeros and -1
    bool found = false;
    for (Index p = begin; p < end; ++p) {
      prefetch_ahead(p, c, cols);
      const auto row = static_cast<Index>(indices[p]);
      if (row == pad) continue;
      const T* src = rows.columns(row, c, cols, scratch.data());
      for (Index j = 0; j < cols; ++j) {
        const auto k = static_cast<std::size_t>(j);
        const bool wins = !found || src[j] > best[k];  // strict: ties stay with the first
        best[k] = wins ? src[j] : best[k];
        arg[k] = wins ? p : arg[k];
      }
      found = true;
    }
    std::copy(best.begin(), best.begin() + cols, out + b * out_stride + c);
    if (argmax) std::copy(arg.begin(), arg.begin() + cols, argmax + b * rows.cols() + c);
  }
};

template <class Rows, class I>
void pool_bags(const Rows& rows, const I* indices, std::span<const Index> bounds,
               const typename Rows::Scalar* weights, BagMode mode, Index pad,
               typename Rows::Scalar* out, Index out_stride, Index* argmax) {
  BagPooler<Rows, I>{rows, indices, bounds, weights, mode, pad, out, out_stride, argmax}.run();
}

}  // namespace emb::detail
