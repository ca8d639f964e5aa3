#pragma once
// Element-wise loops over a row's columns that the compiler vectorizes at every optimization
// level: the optimizers' updates and backward's sums.

#include "emb/types.hpp"

namespace emb::detail {

// Calls f(j) for j in [0, n), for f an element-wise update (no iteration reads what another
// writes): in blocks of 16 with a constant count, then the rest. At -O2 (CMake's RelWithDebInfo,
// most distributions' package builds) GCC 12 vectorizes a loop only when its count is a known
// multiple of the vector width and it needs no run-time check that the rows it writes and reads
// do not overlap; `ivdep` says they do not. So the optimizers' row loops are vectorized at -O2 as
// at -O3 (docs/PERFORMANCE.md has the figures). Every element gets the same operations either
// way: results do not change.
template <class F>
void for_columns(Index n, F&& f) {
  Index j = 0;
  for (; j + 16 <= n; j += 16) {
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC ivdep
#endif
    for (Index k = 0; k < 16; ++k) f(j + k);
  }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC ivdep
#endif
  for (; j < n; ++j) f(j);
}

}  // namespace emb::detail
