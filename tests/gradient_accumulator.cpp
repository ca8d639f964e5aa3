// GradientAccumulator<T>: the same Gradient as Embedding::backward, bit for bit; slots; reuse
// between batches; errors.

#include <cstdint>  // std::uint64_t
#include <random>   // std::mt19937_64
#include <vector>   // std::vector

#include <catch2/catch.hpp>
#include <emb/embedding.hpp>
#include <emb/gradient_accumulator.hpp>

using emb::Gradient;
using emb::GradientAccumulator;
using emb::Index;
using emb::Matrix;

namespace {

// n positions over a table of `num` rows, skewed so that low rows repeat often, as word ids do.
std::vector<Index> skewed_indices(std::size_t n, Index num, std::uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Index> indices(n);
  for (auto& i : indices) i = static_cast<Index>(static_cast<double>(num) * u(engine) * u(engine));
  return indices;
}

template <class T>
Matrix<T> random_rows(Index n, Index dim, std::uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::normal_distribution<double> normal;
  Matrix<T> m(n, dim);
  for (Index k = 0; k < m.size(); ++k) m.data()[k] = static_cast<T>(normal(engine));
  return m;
}

}  // namespace

TEMPLATE_TEST_CASE("finalize equals Embedding::backward bit for bit, duplicates in input order",
                   "[gradient_accumulator]", float, double) {
  using T = TestType;
  const Index num = 37, dim = 13;
  const auto n = GENERATE(std::size_t{1}, std::size_t{5}, std::size_t{300}, std::size_t{5000});
  const auto indices = skewed_indices(n, num, 11 + n);
  const Matrix<T> grad_output = random_rows<T>(static_cast<Index>(n), dim, 17 + n);
  const emb::Embedding<T> table(num, dim, {.seed = 3});
  const Gradient<T> want = table.backward(indices, grad_output);

  GradientAccumulator<T> acc(num, dim);
  for (std::size_t i = 0; i < n; ++i) acc.add(indices[i], grad_output.row(static_cast<Index>(i)));
  const Gradient<T> got = acc.finalize();
  CHECK(got.num_embeddings == num);
  CHECK(got.rows == want.rows);
  CHECK(got.values == want.values);  // exact: the same sums in the same order
  CHECK(acc.empty());
}

TEMPLATE_TEST_CASE("slots number rows in order of first appearance and add_at sums into them",
                   "[gradient_accumulator]", float, double) {
  using T = TestType;
  GradientAccumulator<T> acc(9, 4);
  CHECK(acc.slot(7) == 0);
  CHECK(acc.slot(2) == 1);
  CHECK(acc.slot(7) == 0);
  CHECK(acc.slot(0) == 2);
  CHECK(acc.size() == 3);
  CHECK(std::vector<Index>(acc.rows().begin(), acc.rows().end()) == std::vector<Index>{7, 2, 0});

  Matrix<T> v(1, 4);
  v << 1, 2, 3, 4;
  acc.add_at(0, v);
  acc.add_at(0, T(2), v);
  acc.add(2, T(-1), v);
  const Gradient<T> g = acc.finalize();
  CHECK(g.rows == std::vector<Index>{0, 2, 7});  // sorted; row 0 was given a slot: zero
  Matrix<T> want(3, 4);
  want << 0, 0, 0, 0, -1, -2, -3, -4, 3, 6, 9, 12;
  CHECK(g.values == want);
}

TEMPLATE_TEST_CASE("sort_rows renumbers slots by row and keeps the sums", "[gradient_accumulator]",
                   float, double) {
  using T = TestType;
  const Index num = 41, dim = 5;
  const auto indices = skewed_indices(700, num, 21);
  const Matrix<T> grad_output = random_rows<T>(700, dim, 22);
  const emb::Embedding<T> table(num, dim, {.seed = 4});
  const Gradient<T> want = table.backward(indices, grad_output);
  const bool sums_before = GENERATE(false, true);

  // Slots first (the fast path), or half the sums before sort_rows and half after.
  GradientAccumulator<T> acc(num, dim);
  const std::size_t before = sums_before ? indices.size() / 2 : 0;
  for (std::size_t i = 0; i < before; ++i)
    acc.add(indices[i], grad_output.row(static_cast<Index>(i)));
  for (Index row : indices) acc.slot(row);
  acc.sort_rows();
  CHECK(std::is_sorted(acc.rows().begin(), acc.rows().end()));
  for (Index k = 0; k < acc.size(); ++k)
    CHECK(acc.slot(acc.rows()[static_cast<std::size_t>(k)]) == k);
  for (std::size_t i = before; i < indices.size(); ++i) {
    acc.add_at(acc.slot(indices[i]), grad_output.row(static_cast<Index>(i)));
  }
  Gradient<T> got;
  acc.finalize(got);
  CHECK(got.rows == want.rows);
  CHECK(got.values == want.values);

  // A row first seen after sort_rows still lands in its place.
  acc.slot(7);
  acc.slot(2);
  acc.sort_rows();
  acc.add(30, T(2), Matrix<T>::Ones(1, dim));
  acc.add(2, Matrix<T>::Ones(1, dim));
  acc.finalize(got);
  CHECK(got.rows == std::vector<Index>{2, 7, 30});
  CHECK(got.values.col(0) == (Matrix<T>(3, 1) << 1, 0, 2).finished());
}

TEMPLATE_TEST_CASE("scaled adds equal backward on the scaled rows", "[gradient_accumulator]", float,
                   double) {
  using T = TestType;
  const Index num = 23, dim = 7;
  const auto indices = skewed_indices(400, num, 5);
  const Matrix<T> rows = random_rows<T>(400, dim, 6);
  std::vector<T> scales(400);
  for (std::size_t i = 0; i < scales.size(); ++i) scales[i] = T(0.25) * static_cast<T>(i % 9) - 1;
  Matrix<T> scaled = rows;
  for (Index i = 0; i < scaled.rows(); ++i) scaled.row(i) *= scales[static_cast<std::size_t>(i)];
  const emb::Embedding<T> table(num, dim, {.seed = 1});
  const Gradient<T> want = table.backward(indices, scaled);

  GradientAccumulator<T> acc(num, dim);
  for (std::size_t i = 0; i < indices.size(); ++i) {
    acc.add(indices[i], scales[i], rows.row(static_cast<Index>(i)));
  }
  const Gradient<T> got = acc.finalize();
  CHECK(got.rows == want.rows);
  // A fused multiply-add may round scale * value differently from the separate product.
  const T tolerance = std::is_same_v<T, float> ? T(1e-5) : T(1e-13);
  CHECK((got.values - want.values).cwiseAbs().maxCoeff() <= tolerance);
}

TEMPLATE_TEST_CASE("an accumulator is reused between batches without carrying anything over",
                   "[gradient_accumulator]", float, double) {
  using T = TestType;
  const Index num = 50, dim = 6;
  const emb::Embedding<T> table(num, dim, {.seed = 2});
  GradientAccumulator<T> acc(num, dim);
  Gradient<T> got;
  for (std::uint64_t batch = 0; batch < 4; ++batch) {
    const std::size_t n = 40 + 90 * batch;
    const auto indices = skewed_indices(n, num, 100 + batch);
    const Matrix<T> grad_output = random_rows<T>(static_cast<Index>(n), dim, 200 + batch);
    for (std::size_t i = 0; i < n; ++i) acc.add(indices[i], grad_output.row(static_cast<Index>(i)));
    acc.finalize(got);
    const Gradient<T> want = table.backward(indices, grad_output);
    CHECK(got.rows == want.rows);
    CHECK(got.values == want.values);
  }
  acc.add(3, Matrix<T>::Ones(1, dim));
  acc.clear();
  const Gradient<T> empty = acc.finalize();
  CHECK(empty.empty());
  CHECK(empty.num_embeddings == num);
  CHECK(empty.embedding_dim() == dim);
}

TEMPLATE_TEST_CASE("bad rows, slots and shapes throw and change nothing",
                   "[gradient_accumulator][errors]", float, double) {
  using T = TestType;
  REQUIRE_THROWS_WITH(GradientAccumulator<T>(0, 3),
                      "emb::GradientAccumulator: num_embeddings must be in [1, 2^31 - 1], got 0");
  REQUIRE_THROWS_AS(GradientAccumulator<T>(5, -1), std::invalid_argument);
  GradientAccumulator<T> acc(5, 3);
  acc.add(1, Matrix<T>::Ones(1, 3));
  REQUIRE_THROWS_WITH(acc.add(5, Matrix<T>::Ones(1, 3)),
                      "emb::GradientAccumulator: row 5 is out of range [0, 5)");
  REQUIRE_THROWS_AS(acc.add(-1, Matrix<T>::Ones(1, 3)), std::out_of_range);
  REQUIRE_THROWS_WITH(acc.add(2, Matrix<T>::Ones(3, 1)),
                      "emb::GradientAccumulator::add: values have shape (3, 1) but (1, 3) is "
                      "needed");
  REQUIRE_THROWS_WITH(acc.add_at(1, Matrix<T>::Ones(1, 3)),
                      "emb::GradientAccumulator::add_at: slot 1 is out of range [0, 1)");
  REQUIRE_THROWS_AS(acc.slot(7), std::out_of_range);
  const Gradient<T> g = acc.finalize();
  CHECK(g.rows == std::vector<Index>{1});
  CHECK(g.values == Matrix<T>::Ones(1, 3));
}
