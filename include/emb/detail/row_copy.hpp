#pragma once
// Copies of one table row, the inner step of every gather: a row is a few hundred bytes, so
// inline vector moves beat a call to memcpy.

#include <cstddef>  // std::size_t
#include <cstdint>  // std::uintptr_t
#include <cstring>  // std::memcpy

#if defined(__AVX__)
#include <immintrin.h>  // _mm256_loadu_si256, _mm_loadu_si128
#endif

namespace emb::detail {

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

}  // namespace emb::detail
