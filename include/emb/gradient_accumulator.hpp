#pragma once
// GradientAccumulator<T>: builds a row-sparse Gradient one row at a time, for training loops that
// compute each row's gradient themselves instead of calling backward on a batch.

#include <algorithm>  // std::sort, std::is_sorted, std::max
#include <cstdint>    // std::int32_t
#include <span>       // std::span
#include <utility>    // std::pair
#include <vector>     // std::vector

#include "emb/detail/check.hpp"
#include "emb/gradient.hpp"
#include "emb/types.hpp"

namespace emb {

// Sums gradient rows (row id, values) into an emb::Gradient<T> of a (num_embeddings,
// embedding_dim) table. Rows added several times are summed in the order they were added,
// starting from zero, so finalize() returns bit for bit what Embedding::backward returns for the
// same (index, grad_output row) positions in the same order (a table without padding_idx and
// scale_grad_by_freq).
//
// Made for inner loops (word2vec's skip-gram, a loss written by hand): adding is a lookup in a
// dense row -> slot array and an in-place sum; storage is reused from one batch to the next, so
// once it has grown to the largest batch nothing is allocated but finalize()'s output. Memory:
// 4 bytes per table row for the slot array, plus one (distinct rows, embedding_dim) buffer.
//
// Example:
//   emb::GradientAccumulator<float> acc(table.num_embeddings(), table.embedding_dim());
//   for (auto [row, g] : terms) acc.add(row, g);       // g: a (1, embedding_dim) row
//   optimizer.step(acc.finalize());                    // rows sorted, duplicates summed
//
// A loop that gathers the rows first can work in slots: slot(row) numbers the distinct rows in
// order of first appearance (rows()[slot] == row), add_at(slot, ...) sums into one. The fastest
// order: give every row of the batch a slot, sort_rows(), gather rows(), then sum: finalize then
// hands its buffer to the Gradient instead of copying it.
template <class T>
class GradientAccumulator {
  static_assert(detail::is_real_v<T>, "emb::GradientAccumulator<T>: T must be float or double");

 public:
  using Scalar = T;

  // Throws std::invalid_argument for non-positive sizes or more than 2^31 - 1 rows.
  GradientAccumulator(Index num_embeddings, Index embedding_dim)
      : dim_(checked_dim(num_embeddings, embedding_dim)),
        slot_of_(static_cast<std::size_t>(num_embeddings), -1) {}

  Index num_embeddings() const { return static_cast<Index>(slot_of_.size()); }
  Index embedding_dim() const { return dim_; }

  // Distinct rows added since the last finalize() or clear().
  Index size() const { return static_cast<Index>(rows_.size()); }
  bool empty() const { return rows_.empty(); }

  // The distinct rows in order of first appearance: rows()[slot(r)] == r. Valid until the next
  // call that adds a row, finalize() or clear().
  std::span<const Index> rows() const { return rows_; }

  // The slot of `row`, adding it with a zero gradient the first time it is seen.
  // Throws std::out_of_range for a row outside [0, num_embeddings).
  Index slot(Index row) {
    if (static_cast<std::uint64_t>(row) >= slot_of_.size()) {
      detail::throw_out_of_range("emb::GradientAccumulator: row ", row, " is out of range [0, ",
                                 num_embeddings(), ")");
    }
    auto& s = slot_of_[static_cast<std::size_t>(row)];
    if (s < 0) {
      s = static_cast<std::int32_t>(rows_.size());
      rows_.push_back(row);
    }
    return s;
  }

  // Renumbers the slots in increasing row order, keeping every sum: afterwards rows() is sorted
  // and rows()[slot(r)] == r still holds. Called once every row of a batch has a slot and before
  // anything is added, it costs a sort of the rows, and finalize() then moves the sums into the
  // Gradient instead of copying them.
  void sort_rows() {
    const auto n = rows_.size();
    if (ready_ == 0) {  // no sums yet: zeros of exactly the batch's size
      std::sort(rows_.begin(), rows_.end());
      sums_.setZero(static_cast<Index>(n), dim_);
    } else {
      sort_order();
      Matrix<T> sorted(static_cast<Index>(n), dim_);
      for (std::size_t k = 0; k < n; ++k) {
        rows_[k] = order_[k].first;
        const Index from = order_[k].second;
        if (from < ready_) {
          sorted.row(static_cast<Index>(k)) = sums_.row(from);
        } else {
          sorted.row(static_cast<Index>(k)).setZero();
        }
      }
      sums_.swap(sorted);
    }
    ready_ = static_cast<Index>(n);
    for (std::size_t k = 0; k < n; ++k) {
      slot_of_[static_cast<std::size_t>(rows_[k])] = static_cast<std::int32_t>(k);
    }
  }

  // Adds `values`, a (1, embedding_dim) row expression, to the gradient of `row`. Throws
  // std::out_of_range for a bad row and std::invalid_argument for a bad shape, before anything
  // changes.
  template <class Derived>
  void add(Index row, const Eigen::MatrixBase<Derived>& values) {
    check_shape("add", values);
    sum_of(slot(row)) += values;
  }

  // Adds scale * values to the gradient of `row` (the product is rounded before the sum, unless
  // the compiler contracts it into a fused multiply-add).
  template <class Derived>
  void add(Index row, T scale, const Eigen::MatrixBase<Derived>& values) {
    check_shape("add", values);
    sum_of(slot(row)) += scale * values;
  }

  // add() by slot, for a row already given a slot. Throws std::out_of_range for a slot outside
  // [0, size()) and std::invalid_argument for a bad shape.
  template <class Derived>
  void add_at(Index slot, const Eigen::MatrixBase<Derived>& values) {
    check_shape("add_at", values);
    slot_sum(slot) += values;
  }
  template <class Derived>
  void add_at(Index slot, T scale, const Eigen::MatrixBase<Derived>& values) {
    check_shape("add_at", values);
    slot_sum(slot) += scale * values;
  }

  // Writes the sums into `out` (rows strictly increasing, one values row each; out's row vector
  // keeps its capacity) and clears the accumulator for the next batch. After sort_rows(), the
  // sums are moved, not copied.
  void finalize(Gradient<T>& out) {
    const auto n = rows_.size();
    if (ready_ < size()) prepare();
    out.num_embeddings = num_embeddings();
    if (sums_.rows() == static_cast<Index>(n) && std::is_sorted(rows_.begin(), rows_.end())) {
      out.rows.assign(rows_.begin(), rows_.end());
      out.values.swap(sums_);  // sums_ takes out's old buffer, to be zeroed before its next use
    } else {
      sort_order();
      out.rows.resize(n);
      out.values.resize(static_cast<Index>(n), dim_);
      for (std::size_t k = 0; k < n; ++k) {
        out.rows[k] = order_[k].first;
        out.values.row(static_cast<Index>(k)) = sums_.row(order_[k].second);
      }
    }
    clear();
  }

  // The same, into a new Gradient.
  Gradient<T> finalize() {
    Gradient<T> out;
    finalize(out);
    return out;
  }

  // Forgets every row added so far (the storage is kept).
  void clear() {
    for (Index row : rows_) slot_of_[static_cast<std::size_t>(row)] = -1;
    rows_.clear();
    ready_ = 0;
  }

 private:
  static Index checked_dim(Index num_embeddings, Index embedding_dim) {
    if (num_embeddings <= 0 || num_embeddings > Index{0x7fffffff}) {
      detail::throw_invalid(
          "emb::GradientAccumulator: num_embeddings must be in [1, 2^31 - 1], got ",
          num_embeddings);
    }
    if (embedding_dim <= 0) {
      detail::throw_invalid("emb::GradientAccumulator: embedding_dim must be positive, got ",
                            embedding_dim);
    }
    return embedding_dim;
  }

  template <class Derived>
  void check_shape(const char* where, const Eigen::MatrixBase<Derived>& values) const {
    if (values.rows() != 1 || values.cols() != dim_) {
      detail::throw_invalid("emb::GradientAccumulator::", where, ": values have shape (",
                            values.rows(), ", ", values.cols(), ") but (1, ", dim_, ") is needed");
    }
  }

  // order_: the (row, slot) pairs sorted by row.
  void sort_order() {
    order_.resize(rows_.size());
    for (std::size_t k = 0; k < rows_.size(); ++k) order_[k] = {rows_[k], static_cast<Index>(k)};
    std::sort(order_.begin(), order_.end());
  }

  // The sum of a slot, its buffer row made ready (zero) first if need be.
  auto sum_of(Index slot) {
    if (slot >= ready_) prepare();
    return sums_.row(slot);
  }

  // The same for a slot from the caller, checked: one comparison when its row is ready (always
  // after sort_rows()), as add_at runs once per term of an inner loop.
  auto slot_sum(Index slot) {
    if (static_cast<std::uint64_t>(slot) >= static_cast<std::uint64_t>(ready_)) {
      if (static_cast<std::uint64_t>(slot) >= rows_.size()) {
        detail::throw_out_of_range("emb::GradientAccumulator::add_at: slot ", slot,
                                   " is out of range [0, ", size(), ")");
      }
      prepare();
    }
    return sums_.row(slot);
  }

  // Grows the buffer to every slot given so far (doubling, keeping the sums) and zeroes the rows
  // of the new slots. Slots get buffer rows here rather than in slot(), so that sort_rows() after
  // slot() zeroes each row once.
  void prepare() {
    if (sums_.rows() < size()) {
      sums_.conservativeResize(std::max<Index>({16, 2 * sums_.rows(), size()}), dim_);
    }
    sums_.middleRows(ready_, size() - ready_).setZero();
    ready_ = size();
  }

  Index dim_;
  std::vector<std::int32_t> slot_of_;  // row -> slot, -1 when absent
  std::vector<Index> rows_;            // slot -> row
  Matrix<T> sums_;                     // row k: the sum of slot k, for k < ready_
  Index ready_ = 0;                    // slots [0, ready_) have a zeroed or summed buffer row
  std::vector<std::pair<Index, Index>> order_;  // (row, slot), sorted by row
};

}  // namespace emb
