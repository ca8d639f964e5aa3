#pragma once
// The forward step: out row i = table row indices[i], for any row source (rows.hpp).

#include <algorithm>    // std::max, std::copy
#include <cstddef>      // std::size_t
#include <cstdint>      // std::int64_t, std::uintptr_t
#include <type_traits>  // std::true_type, std::false_type

#include "emb/detail/parallel.hpp"
#include "emb/detail/prefetch.hpp"
#include "emb/detail/row_copy.hpp"
#include "emb/detail/rows.hpp"
#include "emb/types.hpp"

namespace emb::detail {

// How many rows ahead a gather prefetches: enough to hide a DRAM miss behind the copies of the
// rows in between.
inline constexpr std::size_t prefetch_distance = 8;

// Tables up to this size are gathered without prefetching (see gather_rows).
inline constexpr std::size_t near_table_bytes = std::size_t{4} << 20;

// A thread's share of the output above this many bytes is written with non-temporal stores
// (copy_row_stream): it would not stay in that core's caches, and ordinary stores would first
// read each line of it. AMD EPYC (docs/PERFORMANCE.md), forward into a buffer, one thread: W1's
// 19.7 MB 1.03 -> 0.73 ms, W2's 33.5 MB 3.19 -> 1.41; at two threads W1's halves (9.8 MB) took
// 0.43 -> 0.71 ms, the output being in the L3 when the forward runs alone, so they stay below.
// 12 MiB is where the two copies cross at one thread, in a scan of shares from 6 to 20 MB.
inline constexpr std::size_t streamed_share_bytes = std::size_t{12} << 20;

// Outputs up to this many bytes are gathered with copy_row_wide (built for AVX-512), larger ones
// with copy_row. Measured on a Skylake-SP Xeon, 2 threads, rows of 256 and 512 bytes: 64-byte
// moves took 8 to 15 % less time for outputs of 1 to 4 MiB, which stay in cache, and 8 to 20 %
// more for outputs of 8 and 32 MiB, which stream to memory.
inline constexpr std::size_t wide_copy_limit = std::size_t{4} << 20;

// Gathers rows: out row i = row indices[i] of `rows`. `out` has row stride `out_stride`. Each
// thread copies (or decodes) a contiguous range of output rows. Indices must be validated.
template <class Rows, class I>
void gather_rows(const Rows& rows, const I* indices, std::size_t n, typename Rows::Scalar* out,
                 Index out_stride) {
  using Scalar = typename Rows::Scalar;
  const Index dim = rows.cols();
  const std::size_t stored = rows.row_bytes();
  const auto rows_per_thread = static_cast<std::int64_t>(
      std::max<std::size_t>(1, (64 << 10) / (static_cast<std::size_t>(dim) * sizeof(Scalar))));
  // A table of at most near_table_bytes stays in cache when it is used at all often, and
  // prefetching its rows only costs instructions: W3 (2.5 MB) gathered 9 % faster without them.
  const bool far = static_cast<std::size_t>(rows.rows()) * stored > near_table_bytes;
  auto gather = [&](auto copy, auto streaming) {
    auto loop = [&](auto prefetching) {
      parallel_ranges(
          static_cast<std::int64_t>(n), rows_per_thread, [&](std::int64_t begin, std::int64_t end) {
            const auto last = static_cast<std::size_t>(end);
            for (auto i = static_cast<std::size_t>(begin); i < last; ++i) {
              if (prefetching() && i + prefetch_distance < last) {
                prefetch(rows.address(static_cast<Index>(indices[i + prefetch_distance])), stored);
              }
              copy(out + static_cast<Index>(i) * out_stride, static_cast<Index>(indices[i]));
            }
            if constexpr (streaming()) store_fence();
          });
    };
    if (far) {
      loop(std::true_type{});
    } else {
      loop(std::false_type{});
    }
  };
  if constexpr (reads_in_place<Rows>) {
    // Lambdas, not function pointers: each copy is inlined into its own instance of the loop.
    const std::size_t bytes = n * stored;
    const auto threads =
        static_cast<std::size_t>(range_count(static_cast<std::int64_t>(n), rows_per_thread));
    if (bytes / threads > streamed_share_bytes && stored % 16 == 0 &&
        static_cast<std::size_t>(out_stride) * sizeof(Scalar) == stored &&
        reinterpret_cast<std::uintptr_t>(out) % 16 == 0) {
      gather([&](Scalar* d, Index r) { copy_row_stream(d, rows.address(r), stored); },
             std::true_type{});
    } else if (has_wide_copy && bytes <= wide_copy_limit) {
      gather([&](Scalar* d, Index r) { copy_row_wide(d, rows.address(r), stored); },
             std::false_type{});
    } else {
      gather([&](Scalar* d, Index r) { copy_row(d, rows.address(r), stored); }, std::false_type{});
    }
  } else {
    gather(
        [&](Scalar* d, Index r) {
          const Scalar* got = rows.columns(r, 0, dim, d);  // decodes straight into the output
          if (got != d) std::copy(got, got + dim, d);
        },
        std::false_type{});
  }
}

}  // namespace emb::detail
