// EmbeddingBag<T>: pooling modes, input forms, per-sample weights, backward, errors; checked
// against PyTorch and against Embedding followed by the reduction.

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <emb/embedding.hpp>
#include <emb/embedding_bag.hpp>
#include <emb/optim/sgd.hpp>

#include "support/compare.hpp"
#include "support/golden.hpp"
#include "support/random.hpp"

using emb::BagMode;
using emb::BagResult;
using emb::Embedding;
using emb::EmbeddingBag;
using emb::Index;
using emb::Matrix;
using emb::test::random_matrix;
using emb::test::require_close;

namespace {

BagMode parse_mode(const std::string& mode) {
  if (mode == "sum") return BagMode::sum;
  if (mode == "mean") return BagMode::mean;
  REQUIRE(mode == "max");
  return BagMode::max;
}

emb::EmbeddingBagOptions golden_options(const emb::test::Case& c) {
  return {.mode = parse_mode(c.string("mode")),
          .padding_idx = c.has("padding_idx")
                             ? std::optional<Index>(static_cast<Index>(c.scalar("padding_idx")))
                             : std::nullopt,
          .max_norm = c.optional("max_norm"),
          .norm_type = c.scalar("norm_type"),
          .scale_grad_by_freq = c.scalar("scale_grad_by_freq") != 0,
          .include_last_offset = c.scalar("include_last_offset") != 0};
}

template <class T>
std::vector<T> to_vector(const std::vector<double>& values) {
  return {values.begin(), values.end()};
}

// Checks one forward result and its backward against a golden case's PyTorch values.
template <class T>
void check_against_golden(const emb::test::Case& c, EmbeddingBag<T>& table,
                          const BagResult<T>& result, const std::string& what) {
  const std::string suffix = std::is_same_v<T, float> ? "_f32" : "_f64";
  require_close<T>(result.output, c.matrix("out" + suffix), what + " output");
  require_close<T>(table.weight(), c.matrix("weight_after" + suffix), what + " weight");
  const auto grad = table.backward(result, c.matrix("grad_output").template cast<T>());
  require_close<T>(grad.weight.to_dense(), c.matrix("grad" + suffix), what + " grad");
  if (c.has("per_sample_weights")) {
    const auto& want = c.array("grad_psw" + suffix).values;
    REQUIRE(grad.per_sample_weights.size() == want.size());
    const Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>> got(
        grad.per_sample_weights.data(), static_cast<Index>(want.size()));
    const Eigen::Map<const Eigen::Matrix<double, 1, Eigen::Dynamic>> ref(
        want.data(), static_cast<Index>(want.size()));
    require_close<T>(got, ref, what + " per_sample_weights grad");
  } else {
    CHECK(grad.per_sample_weights.empty());
  }
}

// The reference the bag must equal: Embedding's lookup of the bag entries, then the reduction
// written out here; and Embedding's backward of the per-entry gradient that reduction implies.
template <class T>
struct Reference {
  Matrix<T> output;
  Matrix<T> grad;           // dense weight gradient
  std::vector<T> grad_psw;  // empty without weights
};

template <class T>
Reference<T> reduce_with_embedding(const Matrix<T>& weight, const emb::EmbeddingBagOptions& o,
                                   const std::vector<Index>& indices,
                                   const std::vector<Index>& bounds, const std::vector<T>& psw,
                                   const Matrix<T>& grad_output) {
  auto table = Embedding<T>::from_pretrained(weight,
                                             {.padding_idx = o.padding_idx,
                                              .max_norm = o.max_norm,
                                              .norm_type = o.norm_type,
                                              .scale_grad_by_freq = o.scale_grad_by_freq},
                                             false);
  const std::vector<Index> looked_up(indices.begin(), indices.begin() + bounds.back());
  const Matrix<T> rows = table.forward(looked_up);
  const Index pad = table.padding_idx().value_or(-1);
  const auto bags = static_cast<Index>(bounds.size()) - 1;
  const Index dim = weight.cols();
  Reference<T> ref;
  ref.output = Matrix<T>::Zero(bags, dim);
  Matrix<T> per_entry = Matrix<T>::Zero(rows.rows(), dim);  // d loss / d rows
  if (!psw.empty()) ref.grad_psw.assign(indices.size(), T(0));
  for (Index b = 0; b < bags; ++b) {
    std::vector<Index> entries;
    for (Index p = bounds[static_cast<std::size_t>(b)]; p < bounds[static_cast<std::size_t>(b) + 1];
         ++p) {
      if (indices[static_cast<std::size_t>(p)] != pad) entries.push_back(p);
    }
    if (entries.empty()) continue;
    if (o.mode == BagMode::max) {
      for (Index j = 0; j < dim; ++j) {
        Index best = entries.front();
        for (Index p : entries) {
          if (rows(p, j) > rows(best, j)) best = p;
        }
        ref.output(b, j) = rows(best, j);
        per_entry(best, j) = grad_output(b, j);
      }
      continue;
    }
    for (Index p : entries) {
      const T w = psw.empty() ? T(1) : psw[static_cast<std::size_t>(p)];
      ref.output.row(b) += w * rows.row(p);
      per_entry.row(p) = w * grad_output.row(b);
      if (!psw.empty()) {
        ref.grad_psw[static_cast<std::size_t>(p)] = static_cast<T>(
            grad_output.row(b).template cast<double>().dot(rows.row(p).template cast<double>()));
      }
    }
    if (o.mode == BagMode::mean) {
      const auto count = static_cast<T>(entries.size());
      ref.output.row(b) /= count;
      for (Index p : entries) per_entry.row(p) /= count;
    }
  }
  ref.grad = table.backward(looked_up, per_entry).to_dense();
  return ref;
}

}  // namespace

TEMPLATE_TEST_CASE("forward and backward match PyTorch on golden cases", "[embedding_bag][golden]",
                   float, double) {
  using T = TestType;
  const auto path =
      emb::test::golden_path("EMB_GOLDEN_EMBEDDING_BAG", EMB_GOLDEN_DIR "/embedding_bag.txt");
  const auto cases = emb::test::read_golden(path);
  REQUIRE(cases.size() >= 20);
  for (const auto& c : cases) {
    INFO(c.name);
    const auto options = golden_options(c);
    const auto indices = c.ints("indices");
    const std::vector<T> psw = c.has("per_sample_weights")
                                   ? to_vector<T>(c.array("per_sample_weights").values)
                                   : std::vector<T>{};
    auto table = EmbeddingBag<T>::from_pretrained(c.matrix("weight"), options, false);
    if (c.array("indices").shape.size() == 2) {
      Eigen::Tensor<Index, 2, Eigen::RowMajor> batch(c.array("indices").shape[0],
                                                     c.array("indices").shape[1]);
      std::copy(indices.begin(), indices.end(), batch.data());
      if (psw.empty()) {
        check_against_golden(c, table, table.forward(batch), c.name + " (B, L)");
      } else {
        Eigen::Tensor<T, 2, Eigen::RowMajor> weights(batch.dimension(0), batch.dimension(1));
        std::copy(psw.begin(), psw.end(), weights.data());
        check_against_golden(c, table, table.forward(batch, weights), c.name + " (B, L)");
      }
      continue;
    }
    const auto offsets = c.ints("offsets");
    check_against_golden(c, table, table.forward(indices, offsets, psw), c.name + " offsets");
    if (!options.include_last_offset) {  // the same bags as lengths, on a fresh table
      std::vector<Index> lengths;
      for (std::size_t b = 0; b < offsets.size(); ++b) {
        const Index end = b + 1 < offsets.size() ? offsets[b + 1] : Index(indices.size());
        lengths.push_back(end - offsets[b]);
      }
      if (offsets.empty() && !indices.empty()) continue;  // no bags: lengths cannot say that
      auto again = EmbeddingBag<T>::from_pretrained(c.matrix("weight"), options, false);
      check_against_golden(c, again, again.forward_with_lengths(indices, lengths, psw),
                           c.name + " lengths");
    }
  }
}

TEMPLATE_TEST_CASE("EmbeddingBag equals Embedding followed by the reduction on random cases",
                   "[embedding_bag][random]", float, double) {
  using T = TestType;
  std::mt19937_64 rng(Catch::rngSeed());
  auto uniform = [&](Index lo, Index hi) {  // [lo, hi]
    return std::uniform_int_distribution<Index>(lo, hi)(rng);
  };
  for (int round = 0; round < 300; ++round) {
    // Now and then wider than a column block (128 floats, 64 doubles), with and without a tail.
    const Index num = uniform(1, 40), n = uniform(0, 60);
    const Index dim = uniform(0, 7) == 0 ? uniform(60, 270) : uniform(1, 19);
    const auto mode = static_cast<BagMode>(uniform(0, 2));
    emb::EmbeddingBagOptions o{.mode = mode};
    if (uniform(0, 2) == 0) o.padding_idx = uniform(0, num - 1);
    if (uniform(0, 2) == 0) o.max_norm = 0.5 + static_cast<double>(uniform(0, 20)) / 10;
    o.norm_type = uniform(0, 1) ? 2.0 : 1.0;
    o.scale_grad_by_freq = mode != BagMode::max && uniform(0, 2) == 0;
    o.include_last_offset = uniform(0, 1) == 1;
    std::vector<Index> indices(static_cast<std::size_t>(n));
    const Index hot = uniform(1, num);
    for (auto& i : indices) i = uniform(0, 1) ? uniform(0, hot - 1) : uniform(0, num - 1);
    std::vector<Index> offsets{0};
    const Index bags = uniform(1, 8);
    for (Index b = 1; b < bags; ++b) offsets.push_back(uniform(offsets.back(), n));
    std::vector<Index> bounds = offsets;
    if (o.include_last_offset) {
      offsets.push_back(uniform(offsets.back(), n));  // may leave trailing indices in no bag
      bounds = offsets;
    } else {
      bounds.push_back(n);
    }
    std::vector<T> psw;
    if (mode == BagMode::sum && uniform(0, 1)) {
      const Matrix<T> draws = random_matrix<T>(1, n, static_cast<unsigned>(rng()));
      psw.assign(draws.data(), draws.data() + n);
    }
    // Small integers now and then, so max mode meets ties.
    Matrix<T> weight = random_matrix<T>(num, dim, static_cast<unsigned>(rng()));
    if (uniform(0, 3) == 0) weight = (weight * T(2)).array().round().matrix();
    const Matrix<T> grad_output =
        random_matrix<T>(static_cast<Index>(bounds.size()) - 1, dim, static_cast<unsigned>(rng()));
    INFO("round " << round << " mode " << emb::to_string(mode) << " num " << num << " dim " << dim
                  << " n " << n);

    const auto ref = reduce_with_embedding(weight, o, indices, bounds, psw, grad_output);
    auto table = EmbeddingBag<T>::from_pretrained(weight, o, false);
    const auto result = table.forward(indices, offsets, psw);
    require_close<T>(result.output, ref.output, "output");
    const auto grad = table.backward(result, grad_output);
    require_close<T>(grad.weight.to_dense(), ref.grad, "weight grad");
    REQUIRE(grad.per_sample_weights.size() == ref.grad_psw.size());
    for (std::size_t p = 0; p < ref.grad_psw.size(); ++p) {
      CHECK_THAT(static_cast<double>(grad.per_sample_weights[p]),
                 Catch::WithinRel(static_cast<double>(ref.grad_psw[p]), emb::test::rtol<T>) ||
                     Catch::WithinAbs(static_cast<double>(ref.grad_psw[p]), emb::test::atol<T>));
    }
    for (Index r : grad.weight.rows) CHECK(r != table.padding_idx().value_or(-1));
  }
}

TEMPLATE_TEST_CASE("sum, mean and max pool each bag; empty and all-padding bags give zeros",
                   "[embedding_bag][forward]", float, double) {
  using T = TestType;
  Matrix<T> w(5, 3);
  w << 1, 2, 3,  //
      -4, 5, 0,  //
      2, -2, 7,  //
      0, 0, 0,   //  the padding row in the cases below
      10, 10, -10;
  const std::vector<Index> indices{0, 1, 3, 2, 3, 3, 0};
  const std::vector<Index> offsets{0, 3, 4, 4, 6};  // bags {0,1,3} {2} {} {3,3} {0}
  auto sum = EmbeddingBag<T>::from_pretrained(w, {.mode = BagMode::sum, .padding_idx = 3});
  Matrix<T> want(5, 3);
  want << -3, 7, 3, 2, -2, 7, 0, 0, 0, 0, 0, 0, 1, 2, 3;
  CHECK(sum.forward(indices, offsets).output == want);

  auto mean = EmbeddingBag<T>::from_pretrained(w, {.mode = BagMode::mean, .padding_idx = 3});
  want.row(0) << T(-1.5), T(3.5), T(1.5);  // divided by 2 non-padding entries, not 3
  CHECK(mean.forward(indices, offsets).output == want);

  auto max = EmbeddingBag<T>::from_pretrained(w, {.mode = BagMode::max, .padding_idx = 3});
  const auto r = max.forward(indices, offsets);
  want.row(0) << 1, 5, 3;
  CHECK(r.output == want);
  Matrix<Index> argmax(5, 3);
  argmax << 0, 1, 0, 3, 3, 3, -1, -1, -1, -1, -1, -1, 6, 6, 6;
  CHECK(r.argmax == argmax);
  CHECK(r.num_bags() == 5);
  CHECK(r.offsets == std::vector<Index>{0, 3, 4, 4, 6, 7});

  // Without padding_idx row 3 is an ordinary (zero) row.
  auto plain = EmbeddingBag<T>::from_pretrained(w, {.mode = BagMode::mean});
  CHECK(plain.forward(indices, offsets).output(0, 0) == T(-1));
}

TEMPLATE_TEST_CASE("max mode: ties go to the first entry and so does the gradient",
                   "[embedding_bag][max]", float, double) {
  using T = TestType;
  Matrix<T> w(4, 2);
  w << 1, 5, 1, 2, 3, 5, -1, -1;
  auto table = EmbeddingBag<T>::from_pretrained(w, {.mode = BagMode::max}, false);
  // Bag 0 = rows {1, 0, 2}: dim 0 ties rows 1 and 0 below row 2; dim 1 ties rows 0 and 2.
  const auto r = table.forward({1, 0, 2, 3, 3, 1, 0}, {0, 3, 5});
  Matrix<T> out(3, 2);
  out << 3, 5, -1, -1, 1, 5;
  CHECK(r.output == out);
  Matrix<Index> argmax(3, 2);
  argmax << 2, 1, 3, 3, 5, 6;  // bag 2: rows {1, 0} tie on dim 0: position 5 wins
  CHECK(r.argmax == argmax);
  Matrix<T> g(3, 2);
  g << 1, 10, 100, 1000, 7, 70;
  const auto grad = table.backward(r, g);
  CHECK(grad.weight.rows == std::vector<Index>{0, 1, 2, 3});
  Matrix<T> dense(4, 2);
  dense << 0, 10 + 70, 7, 0, 1, 0, 100, 1000;
  CHECK(grad.weight.to_dense() == dense);

  // A looked-up row that wins nothing receives no gradient and is not listed.
  const auto lone = table.forward({3, 0}, {0});
  const auto lone_grad = table.backward(lone, Matrix<T>::Ones(1, 2));
  CHECK(lone_grad.weight.rows == std::vector<Index>{0});
}

TEMPLATE_TEST_CASE("include_last_offset: the last offset ends the last bag",
                   "[embedding_bag][forward]", float, double) {
  using T = TestType;
  Matrix<T> w(6, 2);
  w << 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 30, 40;
  auto table = EmbeddingBag<T>::from_pretrained(
      w, {.mode = BagMode::sum, .max_norm = 20.0, .include_last_offset = true}, false);
  const auto r = table.forward({1, 2, 3, 5, 5}, {0, 2, 3});  // positions 3, 4 are in no bag
  Matrix<T> out(2, 2);
  out << 6, 8, 6, 7;
  CHECK(r.output == out);
  CHECK(table.weight().row(5) == w.row(5));  // not looked up by a bag: not renormed
  const auto g = table.backward(r, Matrix<T>::Ones(2, 2));
  CHECK(g.weight.rows == std::vector<Index>{1, 2, 3});

  const auto none = table.forward({1, 2}, {0});  // one offset: zero bags
  CHECK(none.output.rows() == 0);
  CHECK(none.output.cols() == 2);
}

TEMPLATE_TEST_CASE("(B, L) batches, lengths and int32 give the same bags as offsets",
                   "[embedding_bag][forward]", float, double) {
  using T = TestType;
  const Matrix<T> w = random_matrix<T>(9, 4, 21);
  auto table = EmbeddingBag<T>::from_pretrained(w, {.mode = BagMode::sum, .padding_idx = 2});
  const std::vector<Index> indices{1, 2, 8, 0, 0, 5};
  const std::vector<T> psw{T(0.5), 2, -1, 3, T(0.25), 1};
  const auto want = table.forward(indices, std::vector<Index>{0, 3}, psw);

  Eigen::Tensor<std::int32_t, 2, Eigen::RowMajor> batch(2, 3);
  batch.setValues({{1, 2, 8}, {0, 0, 5}});
  Eigen::Tensor<T, 2, Eigen::RowMajor> weights(2, 3);
  std::copy(psw.begin(), psw.end(), weights.data());
  const auto b = table.forward(batch, weights);
  CHECK(b.output == want.output);
  CHECK(b.offsets == want.offsets);
  CHECK(b.indices == want.indices);

  const auto l = table.forward_with_lengths(indices, std::vector<Index>{3, 3}, psw);
  CHECK(l.output == want.output);
  const std::vector<std::int32_t> i32{1, 2, 8, 0, 0, 5}, o32{0, 3}, l32{3, 3};
  CHECK(table.forward(i32, o32, psw).output == want.output);
  CHECK(table.forward_with_lengths(i32, l32, psw).output == want.output);
  CHECK(table.forward({1, 2, 8, 0, 0, 5}, {0, 3}).output ==
        table.forward(indices, std::vector<Index>{0, 3}).output);

  Eigen::Tensor<Index, 2, Eigen::RowMajor> empty_bags(3, 0);
  const auto e = table.forward(empty_bags);
  CHECK(e.output == Matrix<T>::Zero(3, 4));
  const auto z = table.forward_with_lengths(std::vector<Index>{}, std::vector<Index>{0, 0});
  CHECK(z.output == Matrix<T>::Zero(2, 4));
}

TEMPLATE_TEST_CASE("per_sample_weights: gradient is the dot product, padding gets zero",
                   "[embedding_bag][per_sample_weights]", float, double) {
  using T = TestType;
  Matrix<T> w(4, 2);
  w << 1, 2, 3, 4, 5, 6, 7, 8;
  auto table = EmbeddingBag<T>::from_pretrained(w, {.mode = BagMode::sum, .padding_idx = 1}, false);
  const std::vector<T> psw{2, 3, -1};
  const auto r = table.forward(std::vector<Index>{0, 1, 3}, std::vector<Index>{0, 2}, psw);
  Matrix<T> out(2, 2);
  out << 2, 4, -7, -8;  // row 1 is padding: its weight 3 does not count
  CHECK(r.output == out);
  Matrix<T> g(2, 2);
  g << 1, 10, 100, 1000;
  const auto grad = table.backward(r, g);
  CHECK(grad.per_sample_weights == std::vector<T>{1 + 20, 0, 700 + 8000});
  CHECK(grad.weight.rows == std::vector<Index>{0, 3});
  Matrix<T> values(2, 2);
  values << 2, 20, -100, -1000;
  CHECK(grad.weight.values == values);

  table.set_frozen(true);  // frozen: no weight gradient, the weights' gradient all the same
  const auto frozen = table.backward(r, g);
  CHECK(frozen.weight.empty());
  CHECK(frozen.weight.num_embeddings == 4);
  CHECK(frozen.weight.embedding_dim() == 2);
  CHECK(frozen.per_sample_weights == grad.per_sample_weights);
}

TEMPLATE_TEST_CASE("scale_grad_by_freq divides by the row's count in the whole call",
                   "[embedding_bag][backward]", float, double) {
  using T = TestType;
  // PyTorch 1.13's CPU EmbeddingBag gives rows 3 and 5 2/3 and 1/3 here; the right answer is 1.
  auto table = EmbeddingBag<T>::from_pretrained(
      Matrix<T>::Ones(6, 2), {.mode = BagMode::sum, .scale_grad_by_freq = true}, false);
  const auto r = table.forward({1, 1, 3, 1, 3, 5}, {0, 3});
  const auto g = table.backward(r, Matrix<T>::Ones(2, 2));
  REQUIRE(g.weight.rows == std::vector<Index>{1, 3, 5});
  for (Index k = 0; k < 3; ++k) {
    CHECK_THAT(static_cast<double>(g.weight.values(k, 0)), Catch::WithinAbs(1.0, 1e-6));
  }
  auto mean = EmbeddingBag<T>::from_pretrained(
      Matrix<T>::Ones(6, 2), {.mode = BagMode::mean, .scale_grad_by_freq = true}, false);
  const auto m = mean.backward(mean.forward({1, 1, 3, 1, 3, 5}, {0, 3}), Matrix<T>::Ones(2, 2));
  // row 3: (1/3 from bag 0 + 1/3 from bag 1) / 2 occurrences
  CHECK_THAT(static_cast<double>(m.weight.values(1, 1)), Catch::WithinAbs(1.0 / 3, 1e-6));
}

TEMPLATE_TEST_CASE("backward agrees with finite differences of forward",
                   "[embedding_bag][gradcheck]", double) {
  // loss = sum(forward(...) .* G): its derivatives are backward(result, G).
  using T = TestType;
  const std::vector<Index> idx{2, 5, 2, 0, 3, 5, 2, 1};
  const std::vector<Index> offsets{0, 3, 3, 6};
  const Matrix<T> G = random_matrix<T>(4, 3, 5);
  for (const BagMode mode : {BagMode::sum, BagMode::mean, BagMode::max}) {
    INFO(emb::to_string(mode));
    std::vector<T> psw;
    if (mode == BagMode::sum) psw = {T(0.5), 2, -1, T(1.5), 3, T(-0.25), 1, 2};
    auto table = EmbeddingBag<T>::from_pretrained(random_matrix<T>(6, 3, 9),
                                                  {.mode = mode, .padding_idx = 3}, false);
    const auto grad = table.backward(table.forward(idx, offsets, psw), G);
    const Matrix<T> analytic = grad.weight.to_dense();
    auto loss = [&] { return (table.forward(idx, offsets, psw).output.array() * G.array()).sum(); };
    const T h = 1e-6;
    for (Index r = 0; r < 6; ++r) {
      for (Index d = 0; d < 3; ++d) {
        const T saved = table.weight()(r, d);
        table.weight()(r, d) = saved + h;
        const T up = loss();
        table.weight()(r, d) = saved - h;
        const T down = loss();
        table.weight()(r, d) = saved;
        const T numeric = r == 3 ? T(0) : (up - down) / (2 * h);  // padding gets no gradient
        CHECK_THAT(analytic(r, d), Catch::WithinAbs(numeric, 1e-6));
      }
    }
    for (std::size_t p = 0; p < psw.size(); ++p) {
      const T saved = psw[p];
      psw[p] = saved + h;
      const T up = loss();
      psw[p] = saved - h;
      const T down = loss();
      psw[p] = saved;
      CHECK_THAT(grad.per_sample_weights[p], Catch::WithinAbs((up - down) / (2 * h), 1e-6));
    }
  }
}

TEMPLATE_TEST_CASE("the constructor and from_pretrained behave as Embedding's",
                   "[embedding_bag][init]", float, double) {
  using T = TestType;
  EmbeddingBag<T> a(300, 70, {.padding_idx = -3, .seed = 7});
  Embedding<T> same(300, 70, {.padding_idx = -3, .seed = 7});
  CHECK(a.weight() == same.weight());
  CHECK(a.num_embeddings() == 300);
  CHECK(a.embedding_dim() == 70);
  CHECK(a.padding_idx() == 297);
  CHECK(a.mode() == BagMode::mean);
  CHECK_FALSE(a.include_last_offset());
  CHECK_FALSE(a.scale_grad_by_freq());
  CHECK_FALSE(a.max_norm());
  CHECK(a.norm_type() == 2.0);
  CHECK_FALSE(a.frozen());
  CHECK(a.weight().row(297).isZero(0));

  const Matrix<double> w = random_matrix<double>(6, 4, 3);
  auto frozen = EmbeddingBag<T>::from_pretrained(w, {.mode = BagMode::max, .padding_idx = 2});
  CHECK(frozen.frozen());
  CHECK(frozen.mode() == BagMode::max);
  CHECK(frozen.weight() == w.cast<T>());  // padding row not zeroed
  const auto r = frozen.forward({5, 2, 0}, {0});
  CHECK(frozen.backward(r, Matrix<T>::Ones(1, 4)).weight.empty());
  frozen.set_frozen(false);
  CHECK(frozen.backward(r, Matrix<T>::Ones(1, 4)).weight.rows == std::vector<Index>{0, 5});
}

TEMPLATE_TEST_CASE("bad options throw with the value and the range", "[embedding_bag][errors]",
                   float, double) {
  using E = EmbeddingBag<TestType>;
  REQUIRE_THROWS_WITH(E(0, 3), "emb::EmbeddingBag: num_embeddings must be positive, got 0");
  REQUIRE_THROWS_WITH(E(4, 0), "emb::EmbeddingBag: embedding_dim must be positive, got 0");
  REQUIRE_THROWS_AS(E(4, 3, {.padding_idx = 4}), std::out_of_range);
  REQUIRE_THROWS_WITH(E(4, 3, {.padding_idx = -5}),
                      "emb::EmbeddingBag: padding_idx -5 is out of range [-4, 4)");
  REQUIRE_THROWS_WITH(E(4, 3, {.max_norm = -1.0}),
                      "emb::EmbeddingBag: max_norm must be positive, got -1");
  REQUIRE_THROWS_WITH(E(4, 3, {.norm_type = 0.0}),
                      "emb::EmbeddingBag: norm_type must be positive, got 0");
  REQUIRE_THROWS_AS(E(4, 3, {.mode = BagMode::max, .scale_grad_by_freq = true}),
                    std::invalid_argument);
  REQUIRE_THROWS_WITH(
      E::from_pretrained(Matrix<double>::Zero(2, 3),
                         {.mode = BagMode::max, .scale_grad_by_freq = true}),
      "emb::EmbeddingBag: scale_grad_by_freq is not supported with mode max (as PyTorch)");
}

TEMPLATE_TEST_CASE("bad bags, indices and weights throw and change nothing",
                   "[embedding_bag][errors]", float, double) {
  using T = TestType;
  EmbeddingBag<T> table(10, 3, {.mode = BagMode::sum, .max_norm = 0.5, .seed = 4});
  const Matrix<T> before = table.weight();
  const std::vector<Index> idx{1, 2, 3, 4};
  using V = std::vector<Index>;
  REQUIRE_THROWS_AS(table.forward(idx, V{1, 2}), std::invalid_argument);
  REQUIRE_THROWS_WITH(table.forward(idx, V{1, 2}),
                      "emb::EmbeddingBag::forward: offsets[0] is 1 but must be 0");
  REQUIRE_THROWS_AS(table.forward(idx, V{0, 3, 2}), std::out_of_range);
  REQUIRE_THROWS_WITH(table.forward(idx, V{0, 3, 2}),
                      "emb::EmbeddingBag::forward: offsets[2] is 2, out of range [3, 4]: offsets "
                      "must be non-decreasing and at most the number of indices");
  REQUIRE_THROWS_WITH(table.forward(idx, V{0, 5}),
                      "emb::EmbeddingBag::forward: offsets[1] is 5, out of range [0, 4]: offsets "
                      "must be non-decreasing and at most the number of indices");
  REQUIRE_THROWS_AS(table.forward({1, 2, 12}, {0, 1}), std::out_of_range);
  REQUIRE_THROWS_WITH(table.forward({1, 2, 12}, {0, 1}),
                      "emb::EmbeddingBag::forward: index 12 at position 2 is out of range [0, 10)");
  REQUIRE_THROWS_WITH(table.forward(std::vector<std::int32_t>{1, -1}, std::vector<std::int32_t>{0}),
                      "emb::EmbeddingBag::forward: index -1 at position 1 is out of range [0, 10)");
  REQUIRE_THROWS_WITH(table.forward(idx, V{0}, std::vector<T>{1, 2}),
                      "emb::EmbeddingBag::forward: per_sample_weights has 2 entries but there "
                      "are 4 indices");
  REQUIRE_THROWS_WITH(table.forward_with_lengths(idx, V{2, -1, 3}),
                      "emb::EmbeddingBag::forward_with_lengths: lengths[1] is -1 but must be "
                      "non-negative");
  REQUIRE_THROWS_AS(table.forward_with_lengths(idx, V{2, 1}), std::invalid_argument);
  REQUIRE_THROWS_WITH(table.forward_with_lengths(idx, V{2, 1}),
                      "emb::EmbeddingBag::forward_with_lengths: lengths sum to 3 but there are 4 "
                      "indices");
  Eigen::Tensor<Index, 2, Eigen::RowMajor> batch(2, 2);
  batch.setConstant(1);
  Eigen::Tensor<T, 2, Eigen::RowMajor> psw(2, 3);
  psw.setConstant(1);
  REQUIRE_THROWS_WITH(table.forward(batch, psw),
                      "emb::EmbeddingBag::forward: per_sample_weights has shape (2, 3) but "
                      "indices have (2, 2)");
  CHECK(table.weight() == before);

  auto last = EmbeddingBag<T>::from_pretrained(before, {.include_last_offset = true});
  REQUIRE_THROWS_WITH(last.forward(idx, V{}),
                      "emb::EmbeddingBag::forward: include_last_offset needs at least one offset "
                      "(the end of the last bag), got none");
  for (const BagMode mode : {BagMode::mean, BagMode::max}) {
    auto other = EmbeddingBag<T>::from_pretrained(before, {.mode = mode, .max_norm = 0.5});
    REQUIRE_THROWS_AS(other.forward(idx, V{0}, std::vector<T>(4, 1)), std::invalid_argument);
    REQUIRE_THROWS_WITH(other.forward(idx, V{0}, std::vector<T>(4, 1)),
                        std::string("emb::EmbeddingBag::forward: per_sample_weights is only "
                                    "supported with mode sum (got mode ") +
                            std::string(emb::to_string(mode)) + ")");
    CHECK(other.weight() == before);
  }
}

TEMPLATE_TEST_CASE("backward rejects a wrong grad_output or a result it did not make",
                   "[embedding_bag][errors]", float, double) {
  using T = TestType;
  EmbeddingBag<T> table(10, 3, {.mode = BagMode::max, .seed = 4});
  const auto r = table.forward({1, 2, 3, 4}, {0, 2});
  REQUIRE_THROWS_AS(table.backward(r, Matrix<T>::Ones(3, 3)), std::invalid_argument);
  REQUIRE_THROWS_WITH(table.backward(r, Matrix<T>::Ones(2, 4)),
                      "emb::EmbeddingBag::backward: grad_output has shape (2, 4) but (2, 3) is "
                      "needed");
  EmbeddingBag<T> sum(10, 3, {.mode = BagMode::sum, .seed = 4});
  REQUIRE_THROWS_WITH(sum.backward(r, Matrix<T>::Ones(2, 3)),
                      "emb::EmbeddingBag::backward: the result was made in mode max but this "
                      "table's mode is sum");
  EmbeddingBag<T> small(3, 3, {.mode = BagMode::max, .seed = 4});
  REQUIRE_THROWS_AS(small.backward(r, Matrix<T>::Ones(2, 3)), std::out_of_range);
  REQUIRE_THROWS_WITH(small.backward(r, Matrix<T>::Ones(2, 3)),
                      "emb::EmbeddingBag::backward: index 3 at position 2 is out of range [0, 3)");
  auto tampered = r;
  tampered.argmax(1, 2) = 0;  // position 0 is in bag 0, not bag 1
  REQUIRE_THROWS_WITH(table.backward(tampered, Matrix<T>::Ones(2, 3)),
                      "emb::EmbeddingBag::backward: the result is inconsistent (its output, "
                      "offsets, indices, per_sample_weights and argmax do not fit together)");
  tampered = r;
  tampered.offsets = {0, 3, 2};
  REQUIRE_THROWS_AS(table.backward(tampered, Matrix<T>::Ones(2, 3)), std::invalid_argument);
  tampered = r;
  tampered.per_sample_weights = {1};
  REQUIRE_THROWS_AS(table.backward(tampered, Matrix<T>::Ones(2, 3)), std::invalid_argument);
}

TEMPLATE_TEST_CASE("an optimizer steps an EmbeddingBag's table as it steps an Embedding's",
                   "[embedding_bag][optim]", float, double) {
  using T = TestType;
  emb::EmbeddingBag<T> bag(7, 3, {.mode = emb::BagMode::sum, .seed = 3});
  const Matrix<T> before = bag.weight();
  emb::optim::SGD<T> opt(bag, {.lr = 0.5});
  const auto result = bag.forward({1, 4, 4, 6}, {0, 2});
  const auto grad = bag.backward(result, Matrix<T>::Ones(2, 3));
  opt.step(grad.weight);
  const Matrix<T> want = before - T(0.5) * grad.weight.to_dense();
  CHECK(bag.weight() == want);
  CHECK(opt.steps() == 1);
}

TEMPLATE_TEST_CASE("an EmbeddingBag saves and loads its table, mode and options",
                   "[embedding_bag][checkpoint]", float, double) {
  using T = TestType;
  emb::EmbeddingBag<T> saved(6, 4, {.mode = emb::BagMode::max, .padding_idx = 2, .seed = 4});
  saved.set_frozen(true);
  std::stringstream stream;
  saved.save(stream);
  emb::EmbeddingBag<T> loaded(6, 4, {.seed = 5});
  loaded.load(stream);
  CHECK(loaded.weight() == saved.weight());
  CHECK(loaded.mode() == emb::BagMode::max);
  CHECK(loaded.padding_idx() == 2);
  CHECK(loaded.frozen());

  std::string bytes = stream.str();
  bytes.resize(bytes.size() / 2);  // truncated: throws, changes nothing
  std::stringstream truncated(bytes);
  emb::EmbeddingBag<T> untouched(6, 4, {.seed = 6});
  const Matrix<T> weight = untouched.weight();
  REQUIRE_THROWS_AS(untouched.load(truncated), std::runtime_error);
  CHECK(untouched.weight() == weight);
  CHECK(untouched.mode() == emb::BagMode::mean);

  std::stringstream other_shape;
  emb::EmbeddingBag<T>(5, 4, {.seed = 1}).save(other_shape);
  REQUIRE_THROWS_AS(untouched.load(other_shape), std::runtime_error);
  CHECK(untouched.weight() == weight);

  // A well-formed record of options the constructor refuses is refused too.
  std::stringstream max_by_freq;
  emb::detail::checkpoint::save_table(max_by_freq, "emb::EmbeddingBag",
                                      {.scale_grad_by_freq = true}, false, Matrix<T>(weight),
                                      emb::BagMode::max, false);
  REQUIRE_THROWS_WITH(untouched.load(max_by_freq),
                      "emb::EmbeddingBag::load: the checkpoint holds scale_grad_by_freq with "
                      "mode max, which is not supported (as PyTorch)");
  CHECK(untouched.weight() == weight);
  CHECK(untouched.mode() == emb::BagMode::mean);
  CHECK_FALSE(untouched.scale_grad_by_freq());
}

TEMPLATE_TEST_CASE("lookup pools as forward without renorm, on a const table",
                   "[embedding_bag][lookup]", float, double) {
  using T = TestType;
  const Matrix<T> weight = random_matrix<T>(11, 6, 5) * T(4);
  for (const BagMode mode : {BagMode::sum, BagMode::mean, BagMode::max}) {
    auto table = EmbeddingBag<T>::from_pretrained(weight, {.mode = mode, .padding_idx = 2});
    const EmbeddingBag<T>& reader = table;
    const std::vector<long long> ids{3, 2, 9, 9, 0, 10, 2};
    const std::vector<std::uint32_t> offsets{0, 2, 2, 5};
    const Matrix<T> pooled = reader.lookup(ids, offsets);
    CHECK(pooled == table
                        .forward(std::vector<Index>(ids.begin(), ids.end()),
                                 std::vector<Index>(offsets.begin(), offsets.end()))
                        .output);
    Matrix<T> out(4, 6);
    reader.lookup(ids, offsets, {}, out);
    CHECK(out == pooled);
    Matrix<T> wrong(3, 6);
    REQUIRE_THROWS_WITH(reader.lookup(ids, offsets, {}, wrong),
                        "emb::EmbeddingBag::lookup: out has shape (3, 6) but (4, 6) is needed");
    REQUIRE_THROWS_WITH(
        reader.lookup({1, 11}, {0}),
        "emb::EmbeddingBag::lookup: index 11 at position 1 is out of range [0, 11)");
  }
  // With max_norm, lookup leaves the weight alone and forward renorms it.
  auto table = EmbeddingBag<T>::from_pretrained(weight, {.mode = BagMode::sum, .max_norm = 1.0});
  const Matrix<T> before = table.lookup({1, 4}, {0});
  CHECK(table.weight() == weight);
  CHECK(before.row(0) == weight.row(1) + weight.row(4));
  table.forward({1, 4}, {0});
  CHECK(table.weight() != weight);
}

TEMPLATE_TEST_CASE("options() and from_mapped on EmbeddingBag", "[embedding_bag][mapped]", float,
                   double) {
  using T = TestType;
  auto rows = std::make_shared<Matrix<T>>(random_matrix<T>(9, 4, 6));
  const emb::MappedTable<T> mapped(rows, rows->data(), 9, 4);
  auto table = EmbeddingBag<T>::from_mapped(
      mapped, {.mode = BagMode::max, .padding_idx = 0, .include_last_offset = true});
  const emb::EmbeddingBagOptions o = table.options();
  CHECK(o.mode == BagMode::max);
  CHECK(o.padding_idx == Index{0});
  CHECK(o.include_last_offset);
  CHECK(table.mapped());
  CHECK(table.frozen());
  auto copy = EmbeddingBag<T>::from_pretrained(*rows, o);
  const std::vector<Index> ids{8, 0, 3, 5}, offsets{0, 1, 4};
  CHECK(table.forward(ids, offsets).output == copy.forward(ids, offsets).output);
  REQUIRE_THROWS_AS(table.weight(), std::logic_error);
}
