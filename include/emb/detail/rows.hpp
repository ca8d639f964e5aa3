#pragma once
// Row sources: where the lookup kernels (gather.hpp, bags.hpp) read table rows from. A float
// table reads its rows in place; a compressed table (quantized.hpp) decodes them. Every source
// has this shape:
//
//   struct Rows {
//     using Scalar = float;               // what the kernels produce
//     Index rows() const;  Index cols() const;
//     // Columns [c, c + width) of row r as Scalar (c is a multiple of 64): a pointer into the
//     // table when stored as Scalar, else `scratch` (room for width values) after decoding.
//     const Scalar* columns(Index r, Index c, Index width, Scalar* scratch) const;
//     const void* address(Index r) const;  std::size_t row_bytes() const;  // for prefetching
//   };

#include <cstddef>  // std::size_t

#include "emb/types.hpp"

namespace emb::detail {

// A row-major (rows, cols) block of T read in place: an owned weight or a mapped file's pages.
template <class T>
struct DenseRows {
  using Scalar = T;

  const T* data = nullptr;
  Index num = 0;
  Index dim = 0;

  Index rows() const { return num; }
  Index cols() const { return dim; }
  const T* columns(Index r, Index c, Index /*width*/, T* /*scratch*/) const {
    return data + r * dim + c;
  }
  const void* address(Index r) const { return data + r * dim; }
  std::size_t row_bytes() const { return sizeof(T) * static_cast<std::size_t>(dim); }
};

// Whether a source's rows are stored as its Scalar (the gather then copies instead of decoding).
template <class Rows>
inline constexpr bool reads_in_place = false;
template <class T>
inline constexpr bool reads_in_place<DenseRows<T>> = true;

}  // namespace emb::detail
