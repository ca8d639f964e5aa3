#pragma once
// Large tables on transparent huge pages. Lookups, scatters and lazy optimizer steps jump between
// random rows of tables of hundreds of megabytes: with 4 KiB pages nearly every row is a TLB
// miss, with 2 MiB pages few are. Linux backs memory with huge pages only where asked
// (madvise mode, the usual default), and only for pages not yet touched, so tables ask right
// after allocation. A hint: elsewhere, or if the kernel declines, nothing changes.

#include <cstddef>  // std::size_t
#include <cstdint>  // std::uintptr_t
#include <cstring>  // std::memcpy

#if defined(__AVX__)
#include <immintrin.h>  // _mm256_loadu_si256, _mm_loadu_si128
#endif

#if defined(__linux__)
#include <sys/mman.h>  // madvise
#endif

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
  if (for_write) {
    for (auto p = begin; p < end; p += line) __builtin_prefetch(reinterpret_cast<void*>(p), 1);
  } else {
    for (auto p = begin; p < end; p += line) __builtin_prefetch(reinterpret_cast<void*>(p));
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

// Copies one table row of `bytes` bytes (the ranges do not overlap). Built for AVX, inline 32-byte
// moves: a gather copies thousands of rows of a few hundred bytes, and the call to memcpy and its
// size dispatch cost as much as such a copy. The stores are aligned, so none straddles two cache
// lines; when table and output start at the same offset in a line (both are Eigen matrices,
// aligned alike), the loads line up too. Built without AVX, memcpy, which glibc points at its AVX
// version at run time: faster than the 16-byte moves the compiler could inline.
inline void copy_row(void* dst, const void* src, std::size_t bytes) {
#if defined(__AVX__)
  if (bytes >= 32) {
    auto* d = static_cast<char*>(dst);
    const auto* s = static_cast<const char*>(src);
    auto move = [&](std::size_t at) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + at),
                          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + at)));
    };
    const std::size_t head = (std::uintptr_t{0} - reinterpret_cast<std::uintptr_t>(d)) & 31;
    if (head) move(0);  // covers [0, head), and a little more
    std::size_t at = head;
    for (; at + 32 <= bytes; at += 32) move(at);
    if (bytes - at > 16) {
      move(bytes - 32);
    } else if (bytes > at) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + bytes - 16),
                       _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + bytes - 16)));
    }
    return;
  }
#endif
  std::memcpy(dst, src, bytes);
}

// Whether copy_row_wide differs from copy_row: built for AVX-512.
#if defined(__AVX512F__)
inline constexpr bool has_wide_copy = true;
#else
inline constexpr bool has_wide_copy = false;
#endif

// copy_row with 64-byte moves, a cache line each, where built for AVX-512 (otherwise copy_row).
// Half the loads and stores per line. Measured faster while the gather's output stays in cache
// and slower once it streams to memory (gather_rows chooses, and says what was measured).
inline void copy_row_wide(void* dst, const void* src, std::size_t bytes) {
#if defined(__AVX512F__)
  if (bytes >= 64) {
    auto* d = static_cast<char*>(dst);
    const auto* s = static_cast<const char*>(src);
    auto move = [&](std::size_t at) { _mm512_storeu_si512(d + at, _mm512_loadu_si512(s + at)); };
    const std::size_t head = (std::uintptr_t{0} - reinterpret_cast<std::uintptr_t>(d)) & 63;
    if (head) move(0);  // covers [0, head), and a little more
    std::size_t at = head;
    for (; at + 64 <= bytes; at += 64) move(at);
    if (bytes > at) move(bytes - 64);  // the tail, overlapping bytes already copied
    return;
  }
#endif
  copy_row(dst, src, bytes);
}

// Returns an uninitialized (rows, cols) matrix whose large interior is advised to use huge pages.
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
  m = source.template cast<T>();
  return m;
}

}  // namespace emb::detail
