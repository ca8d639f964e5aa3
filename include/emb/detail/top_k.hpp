#pragma once
// Nearest rows by dot product for many queries at once: one matrix product per tile of the
// table, and a bounded heap per query (partial selection, never a full sort).

#include <algorithm>  // std::push_heap, std::pop_heap, std::sort_heap, std::min
#include <cmath>      // std::isnan
#include <limits>     // std::numeric_limits
#include <span>       // std::span
#include <utility>    // std::pair
#include <vector>     // std::vector

#include "emb/detail/parallel.hpp"
#include "emb/types.hpp"

namespace emb::detail {

// A candidate row and its score.
template <class T>
struct Scored {
  Index index = 0;
  T score = 0;
};

// Higher score first; equal scores go to the lower row, so the order never depends on threads.
template <class T>
bool better(const Scored<T>& a, const Scored<T>& b) {
  return a.score > b.score || (a.score == b.score && a.index < b.index);
}

// The k best candidates seen so far; the worst is at the front of the heap.
template <class T>
class TopK {
 public:
  explicit TopK(Index k) : k_(static_cast<std::size_t>(k)) { heap_.reserve(k_); }
  void offer(Index index, T score) {
    if (std::isnan(score) || k_ == 0) return;  // NaN (a zero vector) never ranks
    const Scored<T> candidate{index, score};
    if (heap_.size() < k_) {
      heap_.push_back(candidate);
      std::push_heap(heap_.begin(), heap_.end(), better<T>);
    } else if (better(candidate, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), better<T>);
      heap_.back() = candidate;
      std::push_heap(heap_.begin(), heap_.end(), better<T>);
    }
  }
  // Scores below this cannot enter: the k-th best so far, or -infinity while fewer than k.
  T threshold() const {
    if (k_ == 0) return std::numeric_limits<T>::infinity();
    return heap_.size() < k_ ? -std::numeric_limits<T>::infinity() : heap_.front().score;
  }
  // Best first.
  std::vector<Scored<T>> take() {
    std::sort_heap(heap_.begin(), heap_.end(), better<T>);
    return std::move(heap_);
  }

 private:
  std::size_t k_;
  std::vector<Scored<T>> heap_;
};

// Queries come in groups of `queries_per_group` rows (1 for a plain query; 3 for a 3CosMul
// analogy). For each group g: the k rows i of table[0, n) with the best scores, best first,
// skipping the rows in excluded[g]. score(tile, q, first_row) gives the group's scores over a
// tile: an expression indexed by j, from tile(q + t, j), the dot product of query row q + t of the
// block and table row first_row + j. Blocks of queries run on several threads; each group's
// result is computed by one thread in a fixed order.
template <class T, class Score>
std::vector<std::vector<Scored<T>>> top_k(const Matrix<T>& table, Index n, const Matrix<T>& queries,
                                          Index k, std::span<const std::vector<Index>> excluded,
                                          Score&& score, Index queries_per_group = 1) {
  constexpr Index query_block = 64;  // keeps a tile of scores in cache
  constexpr Index row_block = 2048;
  const Index m = queries.rows();
  std::vector<std::vector<Scored<T>>> result(static_cast<std::size_t>(m / queries_per_group));
  const Index groups_per_block = std::max<Index>(1, query_block / queries_per_group);
  const Index group_count = m / queries_per_group;
  const Index blocks = (group_count + groups_per_block - 1) / groups_per_block;
  parallel_for(0, blocks, 1, [&](Index block) {
    const Index g0 = block * groups_per_block;
    const Index g1 = std::min(group_count, g0 + groups_per_block);
    const Index q0 = g0 * queries_per_group, q1 = g1 * queries_per_group;
    std::vector<TopK<T>> best;
    best.reserve(static_cast<std::size_t>(g1 - g0));
    for (Index g = g0; g < g1; ++g) best.emplace_back(k);
    Matrix<T> scores(q1 - q0, std::min(row_block, n));
    for (Index r0 = 0; r0 < n; r0 += row_block) {
      const Index rows = std::min(row_block, n - r0);
      auto tile = scores.leftCols(rows);
      tile.noalias() = queries.middleRows(q0, q1 - q0) * table.middleRows(r0, rows).transpose();
      for (Index g = g0; g < g1; ++g) {
        auto row_scores = score(tile, (g - g0) * queries_per_group, r0);
        const auto& skip = excluded[static_cast<std::size_t>(g)];
        auto& heap = best[static_cast<std::size_t>(g - g0)];
        // Most rows lose to the current k-th best: one comparison each, nothing else.
        T threshold = heap.threshold();
        for (Index j = 0; j < rows; ++j) {
          const T value = row_scores(j);
          if (!(value >= threshold)) continue;  // also skips NaN
          const Index row = r0 + j;
          if (std::find(skip.begin(), skip.end(), row) != skip.end()) continue;
          heap.offer(row, value);
          threshold = heap.threshold();
        }
      }
    }
    for (Index g = g0; g < g1; ++g) {
      result[static_cast<std::size_t>(g)] = best[static_cast<std::size_t>(g - g0)].take();
    }
  });
  return result;
}

}  // namespace emb::detail
