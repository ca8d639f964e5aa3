#pragma once
// One way to run a loop on several threads: OpenMP when the build enables it (emb::emb links
// OpenMP::OpenMP_CXX when CMake finds it), a plain loop otherwise. Callers split work so that
// every output element is computed by one thread in a fixed order: results never depend on the
// number of threads.

#include <cstdint>  // std::int64_t

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace emb::detail {

// Calls body(i) for i in [begin, end), on several threads when the range holds at least
// `min_per_thread` iterations per thread (so small calls don't pay for waking threads).
template <class Body>
void parallel_for(std::int64_t begin, std::int64_t end, std::int64_t min_per_thread, Body&& body) {
#if defined(_OPENMP)
  const std::int64_t n = end - begin;
  if (n >= 2 * min_per_thread && omp_get_max_threads() > 1 && !omp_in_parallel()) {
#pragma omp parallel for schedule(static)
    for (std::int64_t i = begin; i < end; ++i) body(i);
    return;
  }
#else
  (void)min_per_thread;
#endif
  for (std::int64_t i = begin; i < end; ++i) body(i);
}

// The number of threads parallel_for may use.
inline int max_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace emb::detail
