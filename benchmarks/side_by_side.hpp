#pragma once
// What the side-by-side programs (compare_libtorch*) share: timing one call, the median of
// repetitions, and one thread count for both libraries.

#include <algorithm>  // std::sort
#include <chrono>     // std::chrono::steady_clock
#include <vector>     // std::vector

#include <ATen/Parallel.h>  // at::set_num_threads

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace emb::bench {

// Milliseconds taken by one call of f.
template <class F>
double time_once_ms(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// The median (the mean of the middle two for an even count); v must not be empty.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// LibTorch's intra-op pool and emb's OpenMP threads alike.
inline void set_threads(int threads) {
  at::set_num_threads(threads);
#if defined(_OPENMP)
  omp_set_num_threads(threads);
#endif
}

}  // namespace emb::bench
