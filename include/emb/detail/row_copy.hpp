#pragma once
// Copies of one table row, the inner step of every gather: a row is a few hundred bytes, so
// inline vector moves beat a call to memcpy.

#include <cstddef>  // std::size_t
#include <cstdint>  // std::uintptr_t
#include <cstring>  // std::memcpy

#if defined(__SSE2__)
#include <immintrin.h>  // _mm256_loadu_si256, _mm_loadu_si128, _mm_stream_si128, _mm_sfence
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

// Copies one row with non-temporal stores (built for SSE2, every x86-64 build; otherwise
// copy_row): whole cache lines go to memory without first being read into the cache and without
// evicting what is there, the way memcpy writes a copy larger than the cache. `dst` must be
// 16-byte aligned and `bytes` a multiple of 16, so that every byte is written by such a store:
// 16 bytes at a time up to a cache line boundary, then whole lines, then 16 bytes at a time. Rows
// that follow each other in the output continue each other's lines, and the processor's
// write-combining buffers join the 16-byte pieces of a shared line into one write; had the edges
// been written by ordinary stores, each shared line would be read from memory after all, which is
// how two earlier tries lost on W1 (docs/PERFORMANCE.md). The stores are weakly ordered: the
// writer must call store_fence() before others read them.
inline void copy_row_stream(void* dst, const void* src, std::size_t bytes) {
#if defined(__SSE2__)
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
  auto move16 = [&](std::size_t at) {
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + at),
                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + at)));
  };
  std::size_t at = 0;
  for (; at < bytes && (reinterpret_cast<std::uintptr_t>(d + at) & 63) != 0; at += 16) move16(at);
  for (; at + 64 <= bytes; at += 64) {
#if defined(__AVX512F__)
    _mm512_stream_si512(reinterpret_cast<__m512i*>(d + at), _mm512_loadu_si512(s + at));
#elif defined(__AVX__)
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + at),
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + at)));
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + at + 32),
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + at + 32)));
#else
    for (std::size_t k = 0; k < 64; k += 16) move16(at + k);
#endif
  }
  for (; at < bytes; at += 16) move16(at);
#else
  copy_row(dst, src, bytes);
#endif
}

// Orders the non-temporal stores made so far before any later store: after copy_row_stream,
// before another thread may read what it wrote.
inline void store_fence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

}  // namespace emb::detail
