// Embedding<T>: construction, forward, backward, max_norm, errors; checked against PyTorch.
// Also: copies and loaded tables on huge pages.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <emb/embedding.hpp>
#include <emb/io/npy.hpp>
#include <emb/io/safetensors.hpp>

#include "support/compare.hpp"
#include "support/golden.hpp"
#include "support/huge_pages.hpp"
#include "support/random.hpp"
#include "support/temp_dir.hpp"

using emb::Embedding;
using emb::Index;
using emb::Matrix;
using emb::test::random_matrix;
using emb::test::require_close;

namespace {

// Runs N-d indices through the Tensor overloads of the rank the golden case has.
template <class T, int R>
void check_tensor_case(const emb::test::Case& c, Embedding<T>& table, const Matrix<double>& out,
                       const Matrix<double>& grad) {
  const auto& shape = c.array("indices").shape;
  std::array<Eigen::Index, std::size_t{R}> dims{};
  std::array<Eigen::Index, std::size_t{R} + 1> gdims{};
  for (std::size_t r = 0; r < std::size_t{R}; ++r) dims[r] = gdims[r] = shape[r];
  gdims[std::size_t{R}] = table.embedding_dim();
  Eigen::Tensor<Index, R, Eigen::RowMajor> indices(dims);
  const auto flat = c.ints("indices");
  std::copy(flat.begin(), flat.end(), indices.data());
  Eigen::Tensor<T, R + 1, Eigen::RowMajor> grad_output(gdims);
  Eigen::Map<Matrix<T>>(grad_output.data(), indices.size(), table.embedding_dim()) =
      c.matrix("grad_output").template cast<T>();

  const auto result = table.forward(indices);
  for (std::size_t r = 0; r < std::size_t{R}; ++r) {
    REQUIRE(result.dimension(r) == indices.dimension(r));
  }
  REQUIRE(result.dimension(std::size_t{R}) == table.embedding_dim());
  Eigen::Map<const Matrix<T>> flat_out(result.data(), indices.size(), table.embedding_dim());
  require_close<T>(flat_out, out, c.name + " output");
  require_close<T>(table.backward(indices, grad_output).to_dense(), grad, c.name + " grad");
}

}  // namespace

TEMPLATE_TEST_CASE("forward and backward match PyTorch on golden cases", "[embedding][golden]",
                   float, double) {
  using T = TestType;
  const auto path = emb::test::golden_path("EMB_GOLDEN_EMBEDDING", EMB_GOLDEN_DIR "/embedding.txt");
  const auto cases = emb::test::read_golden(path);
  REQUIRE(cases.size() >= 20);
  const std::string suffix = std::is_same_v<T, float> ? "_f32" : "_f64";
  for (const auto& c : cases) {
    INFO(c.name);
    const emb::EmbeddingOptions options{
        .padding_idx = c.has("padding_idx")
                           ? std::optional<Index>(static_cast<Index>(c.scalar("padding_idx")))
                           : std::nullopt,
        .max_norm = c.optional("max_norm"),
        .norm_type = c.scalar("norm_type"),
        .scale_grad_by_freq = c.scalar("scale_grad_by_freq") != 0};
    auto table = Embedding<T>::from_pretrained(c.matrix("weight"), options, false);
    const auto rank = c.array("indices").shape.size();
    const auto out = c.matrix("out" + suffix);
    const auto grad = c.matrix("grad" + suffix);
    if (rank == 1) {
      const auto indices = c.ints("indices");
      require_close<T>(table.forward(indices), out, c.name + " output");
      require_close<T>(
          table.backward(indices, c.matrix("grad_output").template cast<T>()).to_dense(), grad,
          c.name + " grad");
    } else if (rank == 0) {
      check_tensor_case<T, 0>(c, table, out, grad);
    } else if (rank == 2) {
      check_tensor_case<T, 2>(c, table, out, grad);
    } else {
      REQUIRE(rank == 3);
      check_tensor_case<T, 3>(c, table, out, grad);
    }
    require_close<T>(table.weight(), c.matrix("weight_after" + suffix), c.name + " weight");
  }
}

TEMPLATE_TEST_CASE("the constructor draws N(0, 1), reproducibly with a seed, padding row zero",
                   "[embedding][init]", float, double) {
  Embedding<TestType> a(300, 70, {.padding_idx = -3, .seed = 7});
  Embedding<TestType> b(300, 70, {.padding_idx = 297, .seed = 7});
  Embedding<TestType> c(300, 70, {.seed = 8});
  CHECK(a.num_embeddings() == 300);
  CHECK(a.embedding_dim() == 70);
  CHECK(a.padding_idx() == 297);
  CHECK(a.weight() == b.weight());
  CHECK(a.weight() != c.weight());
  CHECK(a.weight().row(297).isZero(0));
  CHECK_FALSE(a.frozen());
  const auto w = c.weight().template cast<double>();
  const double mean = w.mean();
  const double var = (w.array() - mean).square().mean();
  CHECK(std::abs(mean) < 0.02);              // 21,000 draws: sd of the mean is 0.007
  CHECK(std::abs(var - 1.0) < 0.04);         // sd of the variance is about 0.01
  CHECK((w.array().abs() > 3).count() > 0);  // tails exist, as a normal's do
}

TEMPLATE_TEST_CASE("from_pretrained copies, freezes by default and keeps the padding row",
                   "[embedding][pretrained]", float, double) {
  using T = TestType;
  const Matrix<double> w = random_matrix<double>(6, 4, 3);
  auto frozen = Embedding<T>::from_pretrained(w, {.padding_idx = 2});
  CHECK(frozen.frozen());
  CHECK(frozen.weight().row(2) == w.row(2).template cast<T>());  // not zeroed
  const std::vector<Index> idx{5, 2, 0, 5};
  const Matrix<T> out = frozen.forward(idx);
  for (std::size_t i = 0; i < idx.size(); ++i) {
    CHECK(out.row(static_cast<Index>(i)) == w.row(idx[i]).template cast<T>());
  }
  const auto g = frozen.backward(idx, Matrix<T>::Ones(4, 4));
  CHECK(g.empty());
  CHECK(g.num_embeddings == 6);
  CHECK(g.embedding_dim() == 4);

  auto trainable = Embedding<T>::from_pretrained(w, {}, false);
  CHECK_FALSE(trainable.frozen());
  CHECK_FALSE(trainable.backward(idx, Matrix<T>::Ones(4, 4)).empty());
  trainable.set_frozen(true);
  CHECK(trainable.backward(idx, Matrix<T>::Ones(4, 4)).empty());
  trainable.weight()(0, 0) = 42;  // a copy: the source is untouched
  CHECK(w(0, 0) != 42);
}

TEMPLATE_TEST_CASE("forward accepts int64 and int32 spans, vectors, braced lists and out",
                   "[embedding][forward]", float, double) {
  using T = TestType;
  Embedding<T> table(9, 5, {.seed = 1});
  const std::vector<Index> i64{8, 0, 3};
  const std::vector<std::int32_t> i32{8, 0, 3};
  const Matrix<T> want = table.forward(std::span<const Index>(i64));
  CHECK(table.forward(i64) == want);
  CHECK(table.forward(i32) == want);
  CHECK(table.forward({8, 0, 3}) == want);

  Matrix<T> big = Matrix<T>::Constant(5, 7, T(-1));  // out may be a block of a larger matrix
  table.forward(i32, big.block(1, 1, 3, 5));
  CHECK(big.block(1, 1, 3, 5) == want);
  CHECK((big.col(0).array() == T(-1)).all());
  CHECK((big.row(4).array() == T(-1)).all());

  const Matrix<T> empty = table.forward(std::vector<Index>{});
  CHECK(empty.rows() == 0);
  CHECK(empty.cols() == 5);
}

TEMPLATE_TEST_CASE("ids of any 4- or 8-byte integer type are accepted, unsigned ones checked",
                   "[embedding][forward]", float, double) {
  using T = TestType;
  Embedding<T> table(9, 5, {.seed = 2});
  const Matrix<T> want = table.forward({8, 0, 3});
  CHECK(table.forward(std::vector<long long>{8, 0, 3}) == want);
  CHECK(table.forward(std::vector<std::size_t>{8, 0, 3}) == want);
  CHECK(table.forward(std::vector<std::uint32_t>{8, 0, 3}) == want);
  CHECK(table.forward(std::array<int, 3>{8, 0, 3}) == want);
  CHECK(table.backward(std::vector<std::size_t>{8, 0, 3}, Matrix<T>::Ones(3, 5)).rows ==
        std::vector<Index>{0, 3, 8});
  // An unsigned id past the signed range is refused and named as the caller wrote it.
  const std::vector<std::uint64_t> huge{1, std::numeric_limits<std::uint64_t>::max()};
  REQUIRE_THROWS_WITH(table.forward(huge),
                      "emb::Embedding::forward: index 18446744073709551615 at position 1 is out "
                      "of range [0, 9)");
  REQUIRE_THROWS_WITH(table.lookup(std::vector<std::uint32_t>{9}),
                      "emb::Embedding::lookup: index 9 at position 0 is out of range [0, 9)");
}

TEMPLATE_TEST_CASE("lookup is forward without renorm, and works on a const table",
                   "[embedding][lookup]", float, double) {
  using T = TestType;
  const Matrix<T> weight = random_matrix<T>(7, 4, 3) * T(5);  // norms far above max_norm
  auto table = Embedding<T>::from_pretrained(weight, {.max_norm = 1.0});
  const Embedding<T>& reader = table;
  const std::vector<Index> ids{6, 2, 2, 0};
  const Matrix<T> looked = reader.lookup(ids);
  for (Index i = 0; i < 4; ++i)
    CHECK(looked.row(i) == weight.row(ids[static_cast<std::size_t>(i)]));
  CHECK(table.weight() == weight);  // lookup renormed nothing
  Matrix<T> out(4, 4);
  reader.lookup(ids, out);
  CHECK(out == looked);
  Matrix<T> wrong(3, 4);
  REQUIRE_THROWS_WITH(reader.lookup(ids, wrong),
                      "emb::Embedding::lookup: out has shape (3, 4) but (4, 4) is needed");
  const Matrix<T> renormed = table.forward(ids);  // forward renorms in place, as PyTorch
  CHECK(table.weight() != weight);
  CHECK(reader.lookup(ids) == renormed);
}

TEMPLATE_TEST_CASE("options() returns the options in force", "[embedding]", float, double) {
  using T = TestType;
  Embedding<T> table(6, 2,
                     {.padding_idx = -1,
                      .max_norm = 2.0,
                      .norm_type = 1.0,
                      .scale_grad_by_freq = true,
                      .seed = 3});
  const emb::EmbeddingOptions o = table.options();
  CHECK(o.padding_idx == Index{5});
  CHECK(o.max_norm == 2.0);
  CHECK(o.norm_type == 1.0);
  CHECK(o.scale_grad_by_freq);
  CHECK_FALSE(o.seed.has_value());
}

TEMPLATE_TEST_CASE("a mapped table looks up in place, read-only and frozen", "[embedding][mapped]",
                   float, double) {
  using T = TestType;
  auto rows = std::make_shared<Matrix<T>>(random_matrix<T>(8, 3, 4));
  const emb::MappedTable<T> mapped(rows, rows->data(), 8, 3);
  auto table = Embedding<T>::from_mapped(mapped, {.padding_idx = 1});
  CHECK(table.mapped());
  CHECK(table.frozen());
  CHECK(table.view().data() == rows->data());  // nothing copied
  const Matrix<T> out = table.forward({7, 1, 0});
  CHECK(out.row(0) == rows->row(7));
  CHECK(table.backward({7, 1, 0}, Matrix<T>::Ones(3, 3)).empty());
  REQUIRE_THROWS_AS(table.weight(), std::logic_error);
  REQUIRE_THROWS_AS(table.set_frozen(false), std::logic_error);
  REQUIRE_THROWS_AS(Embedding<T>::from_mapped(mapped, {.max_norm = 1.0}), std::invalid_argument);
  // Saved, it loads into an ordinary table with the same rows.
  std::stringstream stream;
  table.save(stream);
  Embedding<T> owned(8, 3);
  owned.load(stream);
  CHECK(owned.weight() == *rows);
  CHECK(owned.padding_idx() == Index{1});
  CHECK(owned.frozen());
}

TEMPLATE_TEST_CASE("forward on N-d batches gives one more dimension", "[embedding][forward]", float,
                   double) {
  using T = TestType;
  Embedding<T> table(10, 5, {.seed = 2});
  Eigen::Tensor<std::int32_t, 2, Eigen::RowMajor> batch(3, 4);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 4; ++j) batch(i, j) = (i * 4 + j) % 10;
  }
  const auto out = table.forward(batch);
  REQUIRE(out.dimension(0) == 3);
  REQUIRE(out.dimension(1) == 4);
  REQUIRE(out.dimension(2) == 5);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 4; ++j) {
      for (int d = 0; d < 5; ++d) CHECK(out(i, j, d) == table.weight()(batch(i, j), d));
    }
  }
  Eigen::Tensor<Index, 0, Eigen::RowMajor> scalar;
  scalar() = 7;
  const auto one = table.forward(scalar);
  REQUIRE(one.dimension(0) == 5);
  for (int d = 0; d < 5; ++d) CHECK(one(d) == table.weight()(7, d));

  Eigen::Tensor<Index, 2, Eigen::RowMajor> none(0, 4);
  const auto zero = table.forward(none);
  CHECK(zero.dimension(0) == 0);
  CHECK(zero.dimension(1) == 4);
  CHECK(zero.dimension(2) == 5);
}

TEMPLATE_TEST_CASE("backward sums duplicate indices in input order and skips padding",
                   "[embedding][backward]", float, double) {
  using T = TestType;
  Embedding<T> table(7, 3, {.padding_idx = 1, .seed = 3});
  const std::vector<Index> idx{4, 1, 4, 0, 4, 1, 6};
  const Matrix<T> grad_out = random_matrix<T>(7, 3, 11);
  const auto g = table.backward(idx, grad_out);
  CHECK(g.num_embeddings == 7);
  CHECK(g.rows == std::vector<Index>{0, 4, 6});
  const Matrix<T> row4 = (grad_out.row(0) + grad_out.row(2)) + grad_out.row(4);  // input order
  CHECK(g.values.row(1) == row4);
  CHECK(g.values.row(0) == grad_out.row(3));
  CHECK(g.values.row(2) == grad_out.row(6));
}

TEST_CASE("backward's grouping lists the rows that occur, each with its positions in input order",
          "[embedding][backward]") {
  // detail::group_positions marks the rows that occur in a bitmap when the table has at most
  // bitmap_ratio rows per position, else sorts with std::sort (few positions) or a radix sort
  // (many). Every way must give what a stable sort of the positions by row gives: `order` for
  // the walk by rows, `group` for the walk in input order.
  const auto size = GENERATE(std::pair<std::int64_t, std::size_t>{1, 5},  // bitmap
                             std::pair<std::int64_t, std::size_t>{63, 100},
                             std::pair<std::int64_t, std::size_t>{64, 9},
                             std::pair<std::int64_t, std::size_t>{65, 1'000},
                             std::pair<std::int64_t, std::size_t>{3'001, 700},
                             std::pair<std::int64_t, std::size_t>{640, 10},
                             std::pair<std::int64_t, std::size_t>{641, 10},  // std::sort
                             std::pair<std::int64_t, std::size_t>{100'000, 1'000},
                             std::pair<std::int64_t, std::size_t>{1'000'003, 5'000});  // radix
  const std::int64_t rows = size.first;
  const std::size_t n = size.second;
  CAPTURE(rows, n);
  auto idx = emb::test::skewed_ids<std::int64_t>(n, rows, 99);
  idx.front() = rows - 1;  // the last row, and the first, occur
  idx.back() = 0;
  std::vector<std::int64_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::int64_t>(i);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return idx[static_cast<std::size_t>(a)] < idx[static_cast<std::size_t>(b)];
  });
  std::vector<std::int64_t> occurring, starts, group(n);
  for (std::size_t k = 0; k < n; ++k) {
    const auto row = idx[static_cast<std::size_t>(order[k])];
    if (occurring.empty() || occurring.back() != row) {
      occurring.push_back(row);
      starts.push_back(static_cast<std::int64_t>(k));
    }
    group[static_cast<std::size_t>(order[k])] = static_cast<std::int64_t>(occurring.size()) - 1;
  }
  starts.push_back(static_cast<std::int64_t>(n));
  for (const bool with_group : {false, true}) {
    const auto g = emb::detail::group_positions(idx.data(), n, rows, with_group);
    CHECK(g.rows == occurring);
    CHECK(g.starts == starts);
    CHECK(g.order == (with_group ? std::vector<std::int64_t>{} : order));
    CHECK(g.group == (with_group ? group : std::vector<std::int64_t>{}));
  }
}

TEMPLATE_TEST_CASE("scale_grad_by_freq divides by the count in the call, padding included",
                   "[embedding][backward]", float, double) {
  using T = TestType;
  Embedding<T> table(5, 2, {.padding_idx = 0, .scale_grad_by_freq = true, .seed = 3});
  const std::vector<Index> idx{3, 0, 3, 3, 2};
  const Matrix<T> grad_out = Matrix<T>::Ones(5, 2);
  const auto g = table.backward(idx, grad_out);
  REQUIRE(g.rows == std::vector<Index>{2, 3});
  CHECK_THAT(static_cast<double>(g.values(1, 0)), Catch::WithinAbs(1.0, 1e-6));  // 3 x 1/3
  CHECK(g.values(0, 1) == T(1));
}

TEMPLATE_TEST_CASE("backward agrees with finite differences of forward", "[embedding][gradcheck]",
                   double) {
  // loss(W) = sum(forward(idx) .* G); dloss/dW is backward(idx, G).
  using T = TestType;
  const std::vector<Index> idx{2, 5, 2, 0, 3, 5, 2};
  const Matrix<T> G = random_matrix<T>(7, 4, 5);
  auto table = Embedding<T>::from_pretrained(random_matrix<T>(6, 4, 9), {.padding_idx = 3}, false);
  const Matrix<T> analytic = table.backward(idx, G).to_dense();
  auto loss = [&](Embedding<T>& t) { return (t.forward(idx).array() * G.array()).sum(); };
  const T h = 1e-6;
  for (Index r = 0; r < 6; ++r) {
    for (Index d = 0; d < 4; ++d) {
      const T saved = table.weight()(r, d);
      table.weight()(r, d) = saved + h;
      const T up = loss(table);
      table.weight()(r, d) = saved - h;
      const T down = loss(table);
      table.weight()(r, d) = saved;
      const T numeric = r == 3 ? T(0) : (up - down) / (2 * h);  // padding gets no gradient
      CHECK_THAT(analytic(r, d), Catch::WithinAbs(numeric, 1e-6));
    }
  }
}

TEMPLATE_TEST_CASE("max_norm renorms each distinct looked-up row once, in place",
                   "[embedding][max_norm]", float, double) {
  using T = TestType;
  Matrix<T> w(4, 2);
  w << 3, 4, T(0.3), T(0.4), 6, 8, -1, 0;
  auto table = Embedding<T>::from_pretrained(w, {.max_norm = 1.0});
  const Matrix<T> out = table.forward({0, 0, 1});
  const double scale = 1.0 / (5.0 + 1e-7);
  CHECK_THAT(static_cast<double>(table.weight()(0, 0)), Catch::WithinRel(3 * scale, 1e-6));
  CHECK(table.weight().row(1) == w.row(1));  // under the norm: untouched
  CHECK(table.weight().row(2) == w.row(2));  // not looked up: untouched
  CHECK(out.row(1) == table.weight().row(0));

  auto inf = Embedding<T>::from_pretrained(w, {.max_norm = 2.0, .norm_type = INFINITY});
  inf.forward({2});
  CHECK_THAT(static_cast<double>(inf.weight()(2, 1)), Catch::WithinRel(8 * 2 / (8 + 1e-7), 1e-6));
}

TEMPLATE_TEST_CASE("bad constructor arguments throw with the value and the range",
                   "[embedding][errors]", float, double) {
  using T = TestType;
  using E = Embedding<T>;
  REQUIRE_THROWS_AS(E(0, 3), std::invalid_argument);
  REQUIRE_THROWS_WITH(E(0, 3), "emb::Embedding: num_embeddings must be positive, got 0");
  REQUIRE_THROWS_WITH(E(4, -1), "emb::Embedding: embedding_dim must be positive, got -1");
  REQUIRE_THROWS_AS(E(4, 3, {.padding_idx = 4}), std::out_of_range);
  REQUIRE_THROWS_WITH(E(4, 3, {.padding_idx = 4}),
                      "emb::Embedding: padding_idx 4 is out of range [-4, 4)");
  REQUIRE_THROWS_WITH(E(4, 3, {.padding_idx = -5}),
                      "emb::Embedding: padding_idx -5 is out of range [-4, 4)");
  REQUIRE_THROWS_AS(E(4, 3, {.max_norm = 0.0}), std::invalid_argument);
  REQUIRE_THROWS_WITH(E(4, 3, {.max_norm = -1.0}),
                      "emb::Embedding: max_norm must be positive, got -1");
  REQUIRE_THROWS_WITH(E(4, 3, {.norm_type = 0.0}),
                      "emb::Embedding: norm_type must be positive, got 0");
  REQUIRE_THROWS_WITH(E::from_pretrained(Matrix<double>(0, 3)),
                      "emb::Embedding: num_embeddings must be positive, got 0");
  REQUIRE_THROWS_WITH(E::from_pretrained(Matrix<double>::Zero(2, 3), {.padding_idx = 2}),
                      "emb::Embedding: padding_idx 2 is out of range [-2, 2)");
}

TEMPLATE_TEST_CASE("bad indices and shapes throw and change nothing", "[embedding][errors]", float,
                   double) {
  using T = TestType;
  Embedding<T> table(10, 3, {.max_norm = 0.5, .seed = 4});
  const Matrix<T> before = table.weight();
  // The first indices are valid and would be renormed: nothing may change all the same.
  REQUIRE_THROWS_AS(table.forward({1, 2, 12}), std::out_of_range);
  REQUIRE_THROWS_WITH(table.forward({1, 2, 12}),
                      "emb::Embedding::forward: index 12 at position 2 is out of range [0, 10)");
  REQUIRE_THROWS_WITH(table.forward(std::vector<std::int32_t>{-1}),
                      "emb::Embedding::forward: index -1 at position 0 is out of range [0, 10)");
  Matrix<T> wrong(2, 4);
  REQUIRE_THROWS_AS(table.forward({1, 2}, wrong), std::invalid_argument);
  REQUIRE_THROWS_WITH(table.forward({1, 2}, wrong),
                      "emb::Embedding::forward: out has shape (2, 4) but (2, 3) is needed");
  CHECK(table.weight() == before);

  REQUIRE_THROWS_WITH(
      table.backward({1, 2}, Matrix<T>::Ones(3, 3)),
      "emb::Embedding::backward: grad_output has shape (3, 3) but (2, 3) is needed");
  REQUIRE_THROWS_AS(table.backward({1, 10}, Matrix<T>::Ones(2, 3)), std::out_of_range);
  REQUIRE_THROWS_WITH(table.backward({1, 10}, Matrix<T>::Ones(2, 3)),
                      "emb::Embedding::backward: index 10 at position 1 is out of range [0, 10)");
  table.set_frozen(true);  // a frozen table still rejects bad input
  REQUIRE_THROWS_AS(table.backward({1, 10}, Matrix<T>::Ones(2, 3)), std::out_of_range);

  Eigen::Tensor<Index, 2, Eigen::RowMajor> idx(2, 2);
  idx.setConstant(1);
  Eigen::Tensor<T, 3, Eigen::RowMajor> bad(2, 3, 3);
  REQUIRE_THROWS_WITH(
      table.backward(idx, bad),
      "emb::Embedding::backward: grad_output dimension 1 is 3 but the indices' is 2");
  Eigen::Tensor<T, 3, Eigen::RowMajor> bad_dim(2, 2, 4);
  REQUIRE_THROWS_WITH(table.backward(idx, bad_dim),
                      "emb::Embedding::backward: grad_output's last dimension is 4 but "
                      "embedding_dim is 3");
  CHECK(table.weight() == before);
}

TEST_CASE("copied, reloaded and loaded tables and large results are on huge pages, as new tables",
          "[embedding][huge_pages]") {
  using emb::test::advised_cols;
  using emb::test::advised_rows;
  using emb::test::huge_page_advice_of;
  if (!emb::test::huge_page_advice_visible()) return;
  const Embedding<float> table(advised_rows, advised_cols, {.seed = 1});
  CHECK(huge_page_advice_of(table.weight()) == true);

  const Embedding<float> copy = table;
  CHECK(copy.weight() == table.weight());
  CHECK(huge_page_advice_of(copy.weight()) == true);

  Embedding<float> assigned(2, 3);
  assigned = table;
  CHECK(assigned.weight() == table.weight());
  CHECK(huge_page_advice_of(assigned.weight()) == true);

  std::stringstream checkpoint;
  table.save(checkpoint);
  Embedding<float> reloaded(advised_rows, advised_cols);
  reloaded.load(checkpoint);
  CHECK(reloaded.weight() == table.weight());
  CHECK(huge_page_advice_of(reloaded.weight()) == true);

  const emb::test::TempDir dir;
  emb::io::save_npy<float>(dir / "table.npy", table.weight());
  const auto from_npy =
      Embedding<float>::from_pretrained(emb::io::load_npy<float>(dir / "table.npy"));
  CHECK(from_npy.weight() == table.weight());
  CHECK(huge_page_advice_of(from_npy.weight()) == true);

  emb::io::save_safetensors(dir / "table.safetensors", {{"weight", table.weight()}});
  const auto from_safetensors = Embedding<float>::from_pretrained(
      emb::io::load_safetensors<float>(dir / "table.safetensors", "weight"));
  CHECK(from_safetensors.weight() == table.weight());
  CHECK(huge_page_advice_of(from_safetensors.weight()) == true);

  // Every row once, backwards: the output and the gradient's values are 33 MiB as well.
  std::vector<Index> ids(static_cast<std::size_t>(advised_rows));
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = advised_rows - 1 - static_cast<Index>(i);
  const Matrix<float> out = table.lookup(ids);
  CHECK(out.row(0) == table.weight().row(advised_rows - 1));
  CHECK(huge_page_advice_of(out) == true);
  const auto grad = table.backward(ids, out);
  CHECK(grad.values.row(0) == table.weight().row(0));
  CHECK(huge_page_advice_of(grad.values) == true);
}
