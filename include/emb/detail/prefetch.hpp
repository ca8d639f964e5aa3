#pragma once
// Software prefetch of table rows. Gathers, scatters and lazy optimizer steps jump between random
// rows, so the hardware prefetcher cannot guess the next one: the kernels ask for the rows they
// reach a few iterations ahead.

#include <cstddef>  // std::size_t
#include <cstdint>  // std::uintptr_t

#include "emb/types.hpp"

namespace emb::detail {

// Asks the cache for the `bytes` at `data` ahead of their use (for writing when `for_write`):
// gathers, scatters and lazy steps jump between random rows, so the hardware prefetcher cannot
// guess the next one. Every cache line the range touches is asked for: Eigen aligns a matrix
// only to its widest vector (in a build for SSE2, 16 bytes: large ones start 16 bytes past a
// page), so a row often straddles one more line than its size suggests. A no-op where the
// compiler has no prefetch builtin.
inline void prefetch(const void* data, std::size_t bytes, bool for_write = false) {
#if defined(__GNUC__) || defined(__clang__)
  constexpr std::uintptr_t line = 64;
  const auto begin = reinterpret_cast<std::uintptr_t>(data) & ~(line - 1);
  const auto end = reinterpret_cast<std::uintptr_t>(data) + bytes;
  // The empty volatile asm keeps each loop alive: C++ lets the compiler assume loops end
  // (-ffinite-loops), and GCC 12 then deletes a loop whose only statements are prefetches as if
  // it did nothing, which silently took every prefetch out of some kernels (the quantized bags
  // ran 2.7x slower). The asm emits no instruction.
  if (for_write) {
    for (auto p = begin; p < end; p += line) {
      __builtin_prefetch(reinterpret_cast<void*>(p), 1);
      asm volatile("" ::"r"(p));
    }
  } else {
    for (auto p = begin; p < end; p += line) {
      __builtin_prefetch(reinterpret_cast<void*>(p));
      asm volatile("" ::"r"(p));
    }
  }
#else
  (void)data, (void)bytes, (void)for_write;
#endif
}

// Prefetches row r of a row-major matrix, Map or Ref: the rows a scatter or an optimizer step
// reaches next.
template <class Derived>
void prefetch_row(const Eigen::MatrixBase<Derived>& m, Index r, bool for_write = false) {
  const Derived& d = m.derived();
  prefetch(d.data() + r * d.outerStride(),
           static_cast<std::size_t>(d.cols()) * sizeof(typename Derived::Scalar), for_write);
}

}  // namespace emb::detail
