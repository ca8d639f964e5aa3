// Results never depend on the number of threads: every kernel splits work so that each output
// element is computed by one thread in a fixed order.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <emb/embedding.hpp>
#include <emb/text/word_vectors.hpp>

#include "support/random.hpp"

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

}  // namespace

TEMPLATE_TEST_CASE("forward and backward give identical results on 1, 2 and 3 threads", "[threads]",
                   float, double) {
  using T = TestType;
  const Index rows = 20'000, dim = 16;
  const auto idx = emb::test::skewed_ids<Index>(50'000, rows, 5);
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

  // A table far larger than the batch: backward sorts the positions (a radix sort, split over
  // threads) instead of marking rows in a bitmap.
  const Index big_rows = 4'000'000;
  auto spread = emb::test::skewed_ids<Index>(50'000, big_rows, 5);
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

TEMPLATE_TEST_CASE(
    "backward of a large batch equals a naive scatter-add in input order, on 1, 2 "
    "and 3 threads",
    "[threads][embedding][backward]", float, double) {
  // Backward groups positions by row three ways, chosen by the sizes: a bitmap of the rows that
  // occur when the table has at most bitmap_ratio rows per position, else std::sort for small
  // batches, a radix sort for large ones (the 4,000,000-row case above; tests/embedding.cpp
  // checks each way against a stable sort). It then sums them row by row, each
  // thread its own rows (detail::sum_rows: in registers, four vectors of columns at a time, then
  // one, then half and a quarter of one when the scale is 1, then the last few columns in
  // memory; 95 columns have each of these parts that a build for SSE2, AVX2 or AVX-512 has, for
  // float and double), or, on one thread with more gradient bytes than
  // streamed_gradient_bytes, in input order, a row's first position setting it. Every way adds
  // the positions of a row in input order from zero, as the naive loop does, so all results are
  // equal bit for bit, signs of zeros included: the first and last columns of the gradients
  // are -0.0, whose sums from +0.0 are +0.0.
  using T = TestType;
  const auto size = GENERATE(std::pair<Index, std::size_t>{3'000, 70'000},     // bitmap
                             std::pair<Index, std::size_t>{100'000, 1'000},    // std::sort
                             std::pair<Index, std::size_t>{250'000, 30'000});  // bitmap, sparse
  const Index rows = size.first;  // not a structured binding: lambdas below capture it
  const std::size_t n = size.second;
  const Index dim = 95;
  CAPTURE(rows, n);
  if (n > 1'000) CHECK(n * dim * sizeof(T) > emb::detail::streamed_gradient_bytes);
  const auto idx = emb::test::skewed_ids<std::int32_t>(n, rows, 12345);
  Matrix<T> grad_out(static_cast<Index>(n), dim);
  emb::detail::fill_normal(grad_out.data(), grad_out.size(), 21);
  grad_out.col(0).setConstant(T(-0.0));
  grad_out.col(dim - 1).setConstant(T(-0.0));
  Matrix<T> naive = Matrix<T>::Zero(rows, dim);
  for (std::size_t i = 0; i < idx.size(); ++i) {
    if (idx[i] != 3) naive.row(idx[i]) += grad_out.row(static_cast<Index>(i));
  }
  std::vector<Index> distinct;  // the rows the gradient must list: every index but the padding
  for (const auto i : idx) {
    if (i != 3) distinct.push_back(i);
  }
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  const auto grads = with_threads([&] {
    emb::Embedding<T> table(rows, dim, {.padding_idx = 3, .seed = 1});
    return table.backward(idx, grad_out);
  });
  for (const auto& grad : grads) {
    REQUIRE(grad.rows == distinct);
    for (std::size_t k = 0; k < distinct.size(); ++k) {
      const auto bytes = static_cast<std::size_t>(dim) * sizeof(T);  // rows are contiguous
      if (std::memcmp(grad.values.row(static_cast<Index>(k)).data(), naive.row(distinct[k]).data(),
                      bytes) != 0) {
        FAIL("row " << k);
      }
    }
  }
  // Scaled by frequency: no naive loop to compare with (its rounding could differ by where the
  // compiler fuses a multiply-add), but the same on every thread count.
  const auto scaled = with_threads([&] {
    emb::Embedding<T> table(rows, dim, {.padding_idx = 3, .scale_grad_by_freq = true, .seed = 1});
    const auto g = table.backward(idx, grad_out);
    return std::pair{g.rows, Matrix<T>(g.values)};
  });
  CHECK(scaled[0] == scaled[1]);
  CHECK(scaled[0] == scaled[2]);
}

TEST_CASE("nearest-neighbour queries give identical results on 1, 2 and 3 threads",
          "[threads][word_vectors]") {
  // Enough rows that one query's scan is split over threads (detail::top_k_rows_per_part).
  const Index words = 5 * emb::detail::top_k_rows_per_part + 123, dim = 8;
  std::vector<std::string> names(static_cast<std::size_t>(words));
  for (std::size_t i = 0; i < names.size(); ++i) names[i] = std::to_string(i);
  Matrix<float> vectors(words, dim);
  emb::detail::fill_normal(vectors.data(), vectors.size(), 11);
  vectors.row(17) = vectors.row(3);  // a tie: the lower row ranks first, whatever the split
  const emb::WordVectors<float> v(emb::Vocabulary(names), vectors);

  auto rows_of = [](const std::vector<emb::Neighbour>& found) {
    std::vector<std::pair<Index, double>> out;
    for (const auto& n : found) out.emplace_back(n.index, n.similarity);
    return out;
  };
  const auto one = with_threads([&] { return rows_of(v.similar("3", 50)); });
  CHECK(one[0] == one[1]);
  CHECK(one[0] == one[2]);
  const auto analogies = with_threads([&] {
    return std::pair{rows_of(v.analogy("1", "2", "3", 20)),
                     rows_of(v.analogy("1", "2", "3", 20, emb::AnalogyMethod::mul))};
  });
  CHECK(analogies[0] == analogies[1]);
  CHECK(analogies[0] == analogies[2]);

  // Against every score computed and sorted: (score, row) descending, the word itself left out.
  const Matrix<float>& unit = v.unit_vectors();
  const Eigen::VectorXf scores = unit * unit.row(3).transpose();
  std::vector<Index> order;
  for (Index i = 0; i < words; ++i) {
    if (i != 3) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](Index a, Index b) { return scores(a) > scores(b); });
  REQUIRE(one[0].size() == 50);
  CHECK(one[0][0].first == 17);
  for (std::size_t i = 0; i < 50; ++i) {
    CHECK(one[0][i].first == order[i]);
    CHECK(one[0][i].second == Approx(scores(order[i])).margin(1e-6));
  }
}
