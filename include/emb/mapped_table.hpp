#pragma once
// MappedTable<T>: read-only table rows that live in memory someone else owns, typically the pages
// of a memory-mapped .npy or .safetensors file. A frozen Embedding or EmbeddingBag built from one
// looks up straight from those pages: nothing is copied, and only the pages a lookup touches are
// read from disk.

#include <memory>   // std::shared_ptr
#include <utility>  // std::move

#include "emb/detail/check.hpp"
#include "emb/types.hpp"

namespace emb {

// A (rows, cols) row-major block of T at `data`, kept alive by `owner` (for a mapped file, the
// mapping: it is unmapped when the last table using it goes away).
//
// Example:
//   emb::MappedTable<float> rows = emb::io::map_npy<float>("table.npy");
//   auto table = emb::Embedding<float>::from_mapped(rows);   // frozen, read-only
template <class T>
class MappedTable {
  static_assert(detail::is_real_v<T>, "emb::MappedTable<T>: T must be float or double");

 public:
  MappedTable() = default;

  // Throws std::invalid_argument for a null data pointer or non-positive sizes.
  MappedTable(std::shared_ptr<const void> owner, const T* data, Index rows, Index cols)
      : owner_(std::move(owner)), data_(data), rows_(rows), cols_(cols) {
    if (data == nullptr) detail::throw_invalid("emb::MappedTable: data is null");
    if (rows <= 0 || cols <= 0) {
      detail::throw_invalid("emb::MappedTable: the shape (", rows, ", ", cols,
                            ") must be positive");
    }
  }

  const T* data() const { return data_; }
  Index rows() const { return rows_; }
  Index cols() const { return cols_; }
  const std::shared_ptr<const void>& owner() const { return owner_; }

  // The rows as a read-only Eigen matrix (no copy).
  Eigen::Map<const Matrix<T>> matrix() const { return {data_, rows_, cols_}; }

 private:
  std::shared_ptr<const void> owner_;
  const T* data_ = nullptr;
  Index rows_ = 0;
  Index cols_ = 0;
};

}  // namespace emb
