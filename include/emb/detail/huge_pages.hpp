#pragma once
// Large tables on transparent huge pages. Lookups, scatters and lazy optimizer steps jump between
// random rows of tables of hundreds of megabytes: with 4 KiB pages nearly every row is a TLB
// miss, with 2 MiB pages few are. Linux backs memory with huge pages only where asked
// (madvise mode, the usual default), and only for pages not yet touched, so tables ask right
// after allocation. A hint: elsewhere, or if the kernel declines, nothing changes.

#include <array>    // std::array
#include <cstddef>  // std::size_t
#include <cstdint>  // std::uintptr_t

#if defined(__linux__)
#include <sys/mman.h>  // madvise
#endif

#include "emb/types.hpp"

namespace emb::detail {

// Returns an uninitialized (rows, cols) matrix whose large interior is advised to use huge pages:
// for tables, and for large results (a forward's output, a gradient's values), whose fresh
// memory faults on first touch once per page, so 512 times less often on 2 MiB pages.
template <class T>
Matrix<T> allocate_table(Index rows, Index cols) {
  Matrix<T> m(rows, cols);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t huge = std::uintptr_t{2} << 20;
  const auto bytes = static_cast<std::uintptr_t>(m.size()) * sizeof(T);
  if (bytes >= 4 * huge) {
    const auto begin = reinterpret_cast<std::uintptr_t>(m.data());
    const std::uintptr_t first = (begin + huge - 1) & ~(huge - 1);
    const std::uintptr_t last = (begin + bytes) & ~(huge - 1);
    madvise(reinterpret_cast<void*>(first), static_cast<std::size_t>(last - first), MADV_HUGEPAGE);
  }
#endif
  return m;
}

// A copy of `source`, converted to T, in a matrix from allocate_table.
template <class T, class Derived>
Matrix<T> copy_table(const Eigen::MatrixBase<Derived>& source) {
  Matrix<T> m = allocate_table<T>(source.rows(), source.cols());
  // Through a Map: an assignment to a Map never reallocates (m keeps its huge-page advice).
  Eigen::Map<Matrix<T>>(m.data(), m.rows(), m.cols()) = source.template cast<T>();
  return m;
}

// K matrices (an optimizer's state, each as large as its table) whose copies come from
// copy_table: an implicit copy would allocate them with plain malloc, without the advice, and a
// lazy step on the copy would walk them slower (docs/PERFORMANCE.md: W2's lazy Adam step 8.3 ms
// on huge pages, 10.3 without). Otherwise a std::array.
template <class T, std::size_t K>
struct TableArray : std::array<Matrix<T>, K> {
  TableArray() = default;
  TableArray(const TableArray& other) : std::array<Matrix<T>, K>() {
    for (std::size_t s = 0; s < K; ++s) (*this)[s] = copy_table<T>(other[s]);
  }
  TableArray(TableArray&&) noexcept = default;
  TableArray& operator=(const TableArray& other) {
    if (this != &other) *this = TableArray(other);
    return *this;
  }
  TableArray& operator=(TableArray&&) noexcept = default;
  ~TableArray() = default;
};

}  // namespace emb::detail
