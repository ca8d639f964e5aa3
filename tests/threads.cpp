// Results never depend on the number of threads: every kernel splits work so that each output
// element is computed by one thread in a fixed order.

#include <catch2/catch.hpp>
#include <emb/embedding.hpp>
#include <random>
#if defined(_OPENMP)
#include <omp.h>
#endif

using emb::Index;
using emb::Matrix;

namespace {

// Runs fn with 1 thread, then with 2 and 3, and returns the three results.
template <class Fn>
auto with_threads(Fn&& fn) {
  std::vector<decltype(fn())> results;
  for (int threads : {1, 2, 3}) {
#if defined(_OPENMP)
    omp_set_num_threads(threads);
#else
    (void)threads;
#endif
    results.push_back(fn());
  }
#if defined(_OPENMP)
  omp_set_num_threads(omp_get_num_procs());
#endif
  return results;
}

std::vector<Index> skewed_indices(Index rows, std::size_t n) {
  std::mt19937_64 rng(5);
  std::geometric_distribution<Index> hot(0.01);  // many repeats of a few rows, a long tail
  std::vector<Index> idx(n);
  for (auto& i : idx) i = std::min<Index>(hot(rng) * 37 % rows, rows - 1);
  return idx;
}

}  // namespace

TEMPLATE_TEST_CASE("forward and backward give identical results on 1, 2 and 3 threads", "[threads]",
                   float, double) {
  using T = TestType;
  const Index rows = 20'000, dim = 16;
  const auto idx = skewed_indices(rows, 50'000);
  Matrix<T> grad_out(static_cast<Index>(idx.size()), dim);
  emb::detail::fill_normal(grad_out.data(), grad_out.size(), 9);

  const auto forwards = with_threads([&] {
    emb::Embedding<T> table(rows, dim, {.max_norm = 3.0, .seed = 1});
    return table.forward(idx);
  });
  CHECK(forwards[0] == forwards[1]);
  CHECK(forwards[0] == forwards[2]);

  const auto backwards = with_threads([&] {
    emb::Embedding<T> table(rows, dim, {.padding_idx = 0, .scale_grad_by_freq = true, .seed = 1});
    return table.backward(idx, grad_out).to_dense();
  });
  CHECK(backwards[0] == backwards[1]);
  CHECK(backwards[0] == backwards[2]);

  // A table far larger than the batch: backward sorts instead of counting, in parallel buckets.
  const Index big_rows = 4'000'000;
  auto spread = skewed_indices(big_rows, 70'000);
  for (auto& i : spread) i = i * 1'000'003 % big_rows;  // hot rows scattered over the table
  Matrix<T> spread_grad(static_cast<Index>(spread.size()), 2);
  emb::detail::fill_normal(spread_grad.data(), spread_grad.size(), 10);
  const auto sparse = with_threads([&] {
    emb::Embedding<T> table(big_rows, 2, {.seed = 1});
    const auto g = table.backward(spread, spread_grad);
    return std::pair{g.rows, Matrix<T>(g.values)};
  });
  CHECK(sparse[0] == sparse[1]);
  CHECK(sparse[0] == sparse[2]);
}
