#pragma once
// One way to run a loop on several threads: OpenMP when the build enables it (emb::emb links
// OpenMP::OpenMP_CXX when CMake finds it), a plain loop otherwise. Callers split work so that
// every output element is computed by one thread in a fixed order: results never depend on the
// number of threads.

#include <algorithm>  // std::min
#include <cstdint>    // std::int64_t

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

// How many ranges parallel_ranges(n, min_per_thread, ...) splits [0, n) into: one per thread,
// and at least min_per_thread items in each; 1 inside a parallel region or without OpenMP.
inline std::int64_t range_count(std::int64_t n, std::int64_t min_per_thread) {
#if defined(_OPENMP)
  const std::int64_t most = min_per_thread > 0 ? n / min_per_thread : n;
  const std::int64_t threads = std::min<std::int64_t>(omp_get_max_threads(), most);
  if (threads > 1 && !omp_in_parallel()) return threads;
#else
  (void)n;
  (void)min_per_thread;
#endif
  return 1;
}

// Splits [0, n) into one contiguous range per thread and calls body(begin, end) for each, on
// several threads when every thread gets at least `min_per_thread` items. Contiguous ranges keep
// each thread streaming through its part (prefetching works, no false sharing of outputs).
template <class Body>
void parallel_ranges(std::int64_t n, std::int64_t min_per_thread, Body&& body) {
  const std::int64_t threads = range_count(n, min_per_thread);
  if (threads > 1) {
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) num_threads(static_cast <int>(threads))
    for (std::int64_t t = 0; t < threads; ++t) body(n * t / threads, n * (t + 1) / threads);
#endif
    return;
  }
  if (n > 0) body(std::int64_t{0}, n);
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
