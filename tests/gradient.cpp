// Gradient<T>: dense conversion and merging; table-sized results on huge pages.

#include <vector>

#include <catch2/catch.hpp>
#include <emb/gradient.hpp>

#include "support/huge_pages.hpp"

using emb::Gradient;
using emb::Index;
using emb::Matrix;

namespace {
template <class T>
Gradient<T> make(Index num, std::vector<Index> rows, std::initializer_list<T> values, Index dim) {
  Gradient<T> g;
  g.num_embeddings = num;
  g.values.resize(static_cast<Index>(rows.size()), dim);
  std::copy(values.begin(), values.end(), g.values.data());
  g.rows = std::move(rows);
  return g;
}
}  // namespace

TEMPLATE_TEST_CASE("to_dense places each row and leaves the rest zero", "[gradient]", float,
                   double) {
  const auto g = make<TestType>(5, {1, 4}, {1, 2, 3, 4, 5, 6}, 3);
  CHECK_FALSE(g.empty());
  CHECK(g.embedding_dim() == 3);
  Matrix<TestType> want = Matrix<TestType>::Zero(5, 3);
  want.row(1) << 1, 2, 3;
  want.row(4) << 4, 5, 6;
  CHECK(g.to_dense() == want);
}

TEMPLATE_TEST_CASE("operator+= merges rows and sums shared ones", "[gradient]", float, double) {
  using T = TestType;
  auto a = make<T>(6, {0, 2, 5}, {1, 1, 2, 2, 3, 3}, 2);
  const auto b = make<T>(6, {2, 3}, {10, 10, 20, 20}, 2);
  const Matrix<T> dense = a.to_dense() + b.to_dense();
  a += b;
  CHECK(a.rows == std::vector<Index>{0, 2, 3, 5});
  CHECK(a.to_dense() == dense);

  Gradient<T> empty;  // default-constructed adopts the other's shape
  empty += b;
  CHECK(empty.rows == b.rows);
  CHECK(empty.values == b.values);
  a += Gradient<T>{};
  CHECK(a.to_dense() == dense);
}

TEMPLATE_TEST_CASE("operator+= rejects another table's gradient and changes nothing",
                   "[gradient][errors]", float, double) {
  using T = TestType;
  auto a = make<T>(6, {0}, {1, 1}, 2);
  const auto copy = a;
  REQUIRE_THROWS_AS(a += make<T>(7, {0}, {1, 1}, 2), std::invalid_argument);
  REQUIRE_THROWS_WITH(a += make<T>(6, {0}, {1, 1, 1}, 3),
                      "emb::Gradient::operator+=: cannot add a gradient of a (6, 3) table to a "
                      "gradient of a (6, 2) table");
  CHECK(a.rows == copy.rows);
  CHECK(a.values == copy.values);
}

TEMPLATE_TEST_CASE("from_dense lists every row of a matrix or a vector", "[gradient]", float,
                   double) {
  using T = TestType;
  Matrix<double> dense(3, 2);
  dense << 1, 2, 0, 0, -1, 5;
  const auto g = Gradient<T>::from_dense(dense);
  CHECK(g.num_embeddings == 3);
  CHECK(g.rows == std::vector<Index>{0, 1, 2});  // zero rows too: a dense gradient
  CHECK(g.to_dense() == dense.cast<T>());
  Eigen::VectorXd bias(4);
  bias << 1, 2, 3, 4;
  const auto b = Gradient<T>::from_dense(bias);
  CHECK(b.num_embeddings == 4);
  CHECK(b.embedding_dim() == 1);
  CHECK(b.values.col(0) == bias.cast<T>());
}

TEST_CASE("to_dense, from_dense and merged values of a table's size are on huge pages",
          "[gradient][huge_pages]") {
  using emb::test::advised_cols;
  using emb::test::advised_rows;
  using emb::test::huge_page_advice_of;
  if (!emb::test::huge_page_advice_visible()) return;
  const Matrix<float> dense = Matrix<float>::Constant(advised_rows, advised_cols, 0.25f);
  auto g = Gradient<float>::from_dense(dense);
  CHECK(g.values == dense);
  CHECK(huge_page_advice_of(g.values) == true);
  const Matrix<float> back = g.to_dense();
  CHECK(back == dense);
  CHECK(huge_page_advice_of(back) == true);
  // Every other row: the merge allocates the sum of both (every row) anew.
  Gradient<float> odd;
  odd.num_embeddings = advised_rows;
  for (Index r = 1; r < advised_rows; r += 2) odd.rows.push_back(r);
  odd.values = Matrix<float>::Constant(static_cast<Index>(odd.rows.size()), advised_cols, 1.0f);
  g += odd;
  CHECK(g.values.row(0) == dense.row(0));
  CHECK(g.values.row(1) == Matrix<float>::Constant(1, advised_cols, 1.25f));
  CHECK(huge_page_advice_of(g.values) == true);
}
