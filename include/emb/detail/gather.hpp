#pragma once
// The forward step: out row i = table row indices[i], for any row source (rows.hpp).

#include <algorithm>    // std::max, std::copy
#include <cstddef>      // std::size_t
#include <cstdint>      // std::int64_t
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
  auto gather = [&](auto copy) {
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
    if (has_wide_copy && n * stored <= wide_copy_limit) {
      gather([&](Scalar* d, Index r) { copy_row_wide(d, rows.address(r), stored); });
    } else {
      gather([&](Scalar* d, Index r) { copy_row(d, rows.address(r), stored); });
    }
  } else {
    gather([&](Scalar* d, Index r) {
      const Scalar* got = rows.columns(r, 0, dim, d);  // decodes straight into the output
      if (got != d) std::copy(got, got + dim, d);
    });
  }
}

}  // namespace emb::detail
