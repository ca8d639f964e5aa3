#pragma once
// Nearest rows by dot product for many queries at once: one matrix product per tile of the
// table, and a bounded heap per query (partial selection, never a full sort).

#include <algorithm>  // std::push_heap, std::pop_heap, std::sort_heap, std::min, std::clamp
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

// Fewer query blocks than threads (one query, a few analogies) would leave threads idle while
// one scans the whole table: the table's rows are split too, in parts of at least this many rows.
inline constexpr Index top_k_rows_per_part = 16384;

// The most table rows top_k scores at once: a tile of scores (64 queries) stays in cache.
inline constexpr Index top_k_tile_rows = 2048;

// Queries come in groups of `queries_per_group` rows (1 for a plain query; 3 for a 3CosMul
// analogy). For each group g: the k rows i of the table's first n rows with the best scores, best
// first, skipping the rows in excluded[g]. tiles(first, rows, scratch) gives table rows [first,
// first + rows) as a (rows, dim) row-major matrix expression: a block of a table in memory, or
// rows decoded into `scratch`, a Matrix<T> each task owns (tiles resizes it as it needs; at most
// top_k_tile_rows rows are asked for at once). score(tile, q, first_row) gives the group's scores
// over a tile: an expression indexed by j, from tile(q + t, j), the dot product of query row
// q + t of the block and table row first_row + j. Work is split into blocks of queries and, when
// there are fewer blocks than threads, parts of the table; each (block, part) keeps its own k
// best, merged at the end. `better` orders candidates totally (score, then row), so the k best of
// the union is the k best of the parts' k best, whatever the split: results never depend on
// threads.
template <class T, class Tiles, class Score>
std::vector<std::vector<Scored<T>>> top_k(Tiles&& tiles, Index n, const Matrix<T>& queries, Index k,
                                          std::span<const std::vector<Index>> excluded,
                                          Score&& score, Index queries_per_group = 1) {
  constexpr Index query_block = 64;  // keeps a tile of scores in cache
  constexpr Index row_block = top_k_tile_rows;
  const Index m = queries.rows();
  const Index groups_per_block = std::max<Index>(1, query_block / queries_per_group);
  const Index group_count = m / queries_per_group;
  const Index blocks = (group_count + groups_per_block - 1) / groups_per_block;
  const Index threads = max_threads();
  const Index parts = blocks >= threads
                          ? 1
                          : std::clamp<Index>(threads / std::max<Index>(blocks, 1), 1,
                                              std::max<Index>(1, n / top_k_rows_per_part));
  // found[block * parts + part][g - first group of the block]: that part's k best, best first.
  std::vector<std::vector<std::vector<Scored<T>>>> found(static_cast<std::size_t>(blocks * parts));
  parallel_for(0, blocks * parts, 1, [&](Index task) {
    const Index block = task / parts, part = task % parts;
    const Index g0 = block * groups_per_block;
    const Index g1 = std::min(group_count, g0 + groups_per_block);
    const Index q0 = g0 * queries_per_group, q1 = g1 * queries_per_group;
    const Index begin = n * part / parts, end = n * (part + 1) / parts;
    std::vector<TopK<T>> best;
    best.reserve(static_cast<std::size_t>(g1 - g0));
    for (Index g = g0; g < g1; ++g) best.emplace_back(k);
    Matrix<T> scores(q1 - q0, std::min(row_block, end - begin));
    Matrix<T> scratch;
    std::vector<Index> candidates(static_cast<std::size_t>(scores.cols()));
    for (Index r0 = begin; r0 < end; r0 += row_block) {
      const Index rows = std::min(row_block, end - r0);
      auto tile = scores.leftCols(rows);
      tile.noalias() = queries.middleRows(q0, q1 - q0) * tiles(r0, rows, scratch).transpose();
      for (Index g = g0; g < g1; ++g) {
        auto row_scores = score(tile, (g - g0) * queries_per_group, r0);
        const auto& skip = excluded[static_cast<std::size_t>(g)];
        auto& heap = best[static_cast<std::size_t>(g - g0)];
        // Most rows lose to the k-th best so far: a branch-free pass keeps the columns that might
        // not (never a NaN), and only those are offered, in row order.
        const T threshold = heap.threshold();
        std::size_t count = 0;
        for (Index j = 0; j < rows; ++j) {
          candidates[count] = j;
          count += row_scores(j) >= threshold;
        }
        for (std::size_t c = 0; c < count; ++c) {
          const Index j = candidates[c], row = r0 + j;
          if (std::find(skip.begin(), skip.end(), row) != skip.end()) continue;
          heap.offer(row, row_scores(j));
        }
      }
    }
    auto& out = found[static_cast<std::size_t>(task)];
    for (auto& heap : best) out.push_back(heap.take());
  });
  std::vector<std::vector<Scored<T>>> result(static_cast<std::size_t>(group_count));
  for (Index g = 0; g < group_count; ++g) {
    const Index block = g / groups_per_block;
    const auto at = static_cast<std::size_t>(g - block * groups_per_block);
    if (parts == 1) {
      result[static_cast<std::size_t>(g)] = std::move(found[static_cast<std::size_t>(block)][at]);
      continue;
    }
    TopK<T> merged(k);
    for (Index part = 0; part < parts; ++part) {
      for (const auto& c : found[static_cast<std::size_t>(block * parts + part)][at]) {
        merged.offer(c.index, c.score);
      }
    }
    result[static_cast<std::size_t>(g)] = merged.take();
  }
  return result;
}

}  // namespace emb::detail
