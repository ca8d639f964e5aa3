// emb::optim: trajectories against PyTorch, lazy vs dense, checkpoints, option validation.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <emb/embedding.hpp>
#include <emb/optim.hpp>

#include "support/compare.hpp"
#include "support/golden.hpp"
#include "support/huge_pages.hpp"

using emb::Embedding;
using emb::Gradient;
using emb::Index;
using emb::Matrix;
using emb::test::require_close;

namespace {

template <class T>
Matrix<T> random_matrix(Index rows, Index cols, std::uint64_t seed) {
  Matrix<T> m(rows, cols);
  emb::detail::fill_normal(m.data(), m.size(), seed);
  return m;
}

// A gradient of a (num, values.cols()) table on `rows` (strictly increasing).
template <class T>
Gradient<T> gradient(Index num, std::vector<Index> rows, Matrix<T> values) {
  Gradient<T> g;
  g.num_embeddings = num;
  g.rows = std::move(rows);
  g.values = std::move(values);
  return g;
}

// A random gradient touching each row with probability `density`, rows drawn by `seed`.
template <class T>
Gradient<T> random_gradient(Index num, Index dim, double density, std::uint64_t seed) {
  Matrix<double> coin = random_matrix<double>(num, 1, seed);
  std::vector<Index> rows;
  for (Index i = 0; i < num; ++i) {
    if (coin(i, 0) < density * 4 - 2) rows.push_back(i);  // N(0,1) < 4d-2: roughly d of rows
  }
  return gradient<T>(num, rows, random_matrix<T>(static_cast<Index>(rows.size()), dim, seed + 1));
}

// Step s of a golden case as a Gradient: the rows marked in `touched`.
template <class T>
Gradient<T> golden_gradient(const emb::test::Case& c, Index s, Index num, Index dim) {
  const auto touched = c.ints("touched");
  const auto& grads = c.array("grads").values;
  std::vector<Index> rows;
  for (Index i = 0; i < num; ++i) {
    if (touched[static_cast<std::size_t>(s * num + i)]) rows.push_back(i);
  }
  Matrix<T> values(static_cast<Index>(rows.size()), dim);
  for (std::size_t k = 0; k < rows.size(); ++k) {
    for (Index j = 0; j < dim; ++j) {
      values(static_cast<Index>(k), j) =
          static_cast<T>(grads[static_cast<std::size_t>((s * num + rows[k]) * dim + j)]);
    }
  }
  return gradient<T>(num, std::move(rows), std::move(values));
}

// Runs the case's trajectory and compares the weight after every step with PyTorch's. Halfway,
// the run moves to a fresh table and optimizer through a checkpoint, so a resumed run is held
// to the same goldens.
template <class T, class Opt, class Options>
void check_trajectory(const emb::test::Case& c, const Options& options) {
  const std::string suffix = std::is_same_v<T, float> ? "_f32" : "_f64";
  const Matrix<double> weight = c.matrix("weight");
  const Index num = weight.rows(), dim = weight.cols();
  const auto lrs = c.array("lrs").values;
  const auto steps = static_cast<Index>(lrs.size());
  const Matrix<double> want = c.matrix("weights" + suffix);  // (steps * num, dim)
  auto table = Embedding<T>::from_pretrained(weight, {}, false);
  Opt opt(table, options);
  Embedding<T> resumed_table(num, dim, {.seed = 1});
  Opt resumed(resumed_table);
  Embedding<T>* t = &table;
  Opt* o = &opt;
  for (Index s = 0; s < steps; ++s) {
    if (s == steps / 2 && s > 0) {
      std::stringstream checkpoint;
      t->save(checkpoint);
      o->save(checkpoint);
      resumed_table.load(checkpoint);
      resumed.load(checkpoint);
      t = &resumed_table;
      o = &resumed;
    }
    o->set_lr(lrs[static_cast<std::size_t>(s)]);
    o->step(golden_gradient<T>(c, s, num, dim));
    CHECK(o->steps() == s + 1);
    require_close<T>(t->weight(), want.middleRows(s * num, num),
                     c.name + " (" + c.string("reference") + ") step " + std::to_string(s));
  }
}

bool flag(const emb::test::Case& c, const char* key) {
  return c.scalar(key) != 0;
}

// AdamOptions and AdamWOptions have the same fields.
template <class Options>
Options adam_options(const emb::test::Case& c) {
  const auto& betas = c.array("betas").values;
  return {.lr = c.scalar("lr"),
          .betas = {betas[0], betas[1]},
          .eps = c.scalar("eps"),
          .weight_decay = c.scalar("weight_decay"),
          .amsgrad = flag(c, "amsgrad"),
          .maximize = flag(c, "maximize"),
          .lazy = flag(c, "lazy")};
}

}  // namespace

TEMPLATE_TEST_CASE("trajectories match PyTorch on golden cases", "[optim][golden]", float, double) {
  using T = TestType;
  namespace optim = emb::optim;

#define EVERY_OPTIMIZER                                                                         \
  optim::SGD<float>, optim::SGD<double>, optim::Adam<float>, optim::Adam<double>,               \
      optim::AdamW<float>, optim::AdamW<double>, optim::Adagrad<float>, optim::Adagrad<double>, \
      optim::RowWiseAdagrad<float>, optim::RowWiseAdagrad<double>
  const auto path = emb::test::golden_path("EMB_GOLDEN_OPTIM", EMB_GOLDEN_DIR "/optim.txt");
  const auto cases = emb::test::read_golden(path);
  REQUIRE(cases.size() >= 20);
  for (const auto& c : cases) {
    INFO(c.name);
    const auto& kind = c.string("optimizer");
    const bool lazy = flag(c, "lazy");
    if (kind == "sgd") {
      check_trajectory<T, optim::SGD<T>>(c,
                                         optim::SGDOptions{.lr = c.scalar("lr"),
                                                           .momentum = c.scalar("momentum"),
                                                           .dampening = c.scalar("dampening"),
                                                           .weight_decay = c.scalar("weight_decay"),
                                                           .nesterov = flag(c, "nesterov"),
                                                           .maximize = flag(c, "maximize"),
                                                           .lazy = lazy});
    } else if (kind == "adam") {
      check_trajectory<T, optim::Adam<T>>(c, adam_options<optim::AdamOptions>(c));
    } else if (kind == "adamw") {
      check_trajectory<T, optim::AdamW<T>>(c, adam_options<optim::AdamWOptions>(c));
    } else if (kind == "adagrad") {
      check_trajectory<T, optim::Adagrad<T>>(
          c,
          optim::AdagradOptions{.lr = c.scalar("lr"),
                                .lr_decay = c.scalar("lr_decay"),
                                .weight_decay = c.scalar("weight_decay"),
                                .initial_accumulator_value = c.scalar("initial_accumulator_value"),
                                .eps = c.scalar("eps"),
                                .maximize = flag(c, "maximize"),
                                .lazy = lazy});
    } else {
      REQUIRE(kind == "rowwise");
      const auto mode = c.string("weight_decay_mode") == "l2" ? optim::WeightDecayMode::l2
                                                              : optim::WeightDecayMode::decoupled;
      check_trajectory<T, optim::RowWiseAdagrad<T>>(
          c, optim::RowWiseAdagradOptions{
                 .lr = c.scalar("lr"),
                 .weight_decay = c.scalar("weight_decay"),
                 .initial_accumulator_value = c.scalar("initial_accumulator_value"),
                 .eps = c.scalar("eps"),
                 .weight_decay_mode = mode,
                 .maximize = flag(c, "maximize"),
                 .lazy = lazy});
    }
  }
}

TEMPLATE_TEST_CASE("SGD rejects bad options with the value and the range", "[optim][sgd][errors]",
                   float, double) {
  using emb::optim::SGD;
  Embedding<TestType> table(6, 3, {.seed = 1});
  REQUIRE_THROWS_AS(SGD(table, {.lr = -0.1}), std::invalid_argument);
  REQUIRE_THROWS_WITH(SGD(table, {.lr = -0.1}),
                      "emb::optim::SGD: lr must be in [0, inf), got -0.10000000000000001");
  REQUIRE_THROWS_WITH(SGD(table, {.momentum = -1}),
                      "emb::optim::SGD: momentum must be in [0, inf), got -1");
  REQUIRE_THROWS_WITH(SGD(table, {.weight_decay = -1}),
                      "emb::optim::SGD: weight_decay must be in [0, inf), got -1");
  REQUIRE_THROWS_WITH(SGD(table, {.nesterov = true}),
                      "emb::optim::SGD: nesterov needs momentum > 0 and dampening == 0, got "
                      "momentum 0 and dampening 0");
  REQUIRE_THROWS_WITH(SGD(table, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}),
                      "emb::optim::SGD: nesterov needs momentum > 0 and dampening == 0, got "
                      "momentum 0.90000000000000002 and dampening 0.10000000000000001");
  SGD<TestType> opt(table, {.lr = 0.5});
  REQUIRE_THROWS_WITH(opt.set_lr(-2), "emb::optim::SGD: lr must be in [0, inf), got -2");
  CHECK(opt.lr() == 0.5);
  opt.set_lr(0.25);
  CHECK(opt.lr() == 0.25);
}

TEMPLATE_TEST_CASE("a lazy SGD step moves only the gradient's rows, bit for bit",
                   "[optim][sgd][lazy]", float, double) {
  using T = TestType;
  Embedding<T> table(50, 7, {.seed = 2});
  emb::optim::SGD<T> opt(table, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .lazy = true});
  const Matrix<T> before = table.weight();
  const auto g = gradient<T>(50, {3, 17, 49}, random_matrix<T>(3, 7, 5));
  opt.step(g);
  opt.step(g);
  for (Index i = 0; i < 50; ++i) {
    const bool touched = i == 3 || i == 17 || i == 49;
    CHECK((table.weight().row(i) == before.row(i)) != touched);
    CHECK(opt.momentum_buffer().row(i).isZero(0) != touched);
  }
  CHECK(opt.steps() == 2);
}

namespace {

namespace optim = emb::optim;

// Options that exercise every state an optimizer keeps.
template <class Opt>
struct Busy;
template <class T>
struct Busy<optim::SGD<T>> {
  static optim::SGDOptions options(bool lazy) {
    return {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01, .lazy = lazy};
  }
};
template <class T>
struct Busy<optim::Adam<T>> {
  static optim::AdamOptions options(bool lazy) {
    return {.lr = 0.01, .weight_decay = 0.01, .amsgrad = true, .lazy = lazy};
  }
};
template <class T>
struct Busy<optim::AdamW<T>> {
  static optim::AdamWOptions options(bool lazy) {
    return {.lr = 0.01, .amsgrad = true, .lazy = lazy};
  }
};
template <class T>
struct Busy<optim::Adagrad<T>> {
  static optim::AdagradOptions options(bool lazy) {
    return {.lr = 0.1,
            .lr_decay = 0.01,
            .weight_decay = 0.01,
            .initial_accumulator_value = 0.1,
            .lazy = lazy};
  }
};
template <class T>
struct Busy<optim::RowWiseAdagrad<T>> {
  static optim::RowWiseAdagradOptions options(bool lazy) {
    return {.lr = 0.1, .weight_decay = 0.01, .initial_accumulator_value = 0.1, .lazy = lazy};
  }
};

// The state matrices of an optimizer, as its accessors show them.
template <class Opt>
std::vector<const Matrix<typename Opt::Scalar>*> state_of(const Opt& o) {
  if constexpr (requires { o.momentum_buffer(); }) {
    return {&o.momentum_buffer()};
  } else if constexpr (requires { o.exp_avg(); }) {
    return {&o.exp_avg(), &o.exp_avg_sq(), &o.max_exp_avg_sq()};
  } else {
    return {&o.sum()};
  }
}

// Everything an optimizer's future depends on, for bit-for-bit comparisons.
template <class Opt, class T>
bool same_state(const Opt& a, const Opt& b, const Embedding<T>& ta, const Embedding<T>& tb) {
  std::ostringstream sa, sb;
  a.save(sa);
  b.save(sb);
  return sa.str() == sb.str() && ta.weight() == tb.weight();
}

}  // namespace

TEMPLATE_TEST_CASE("save, step, load, step equals training straight through", "[optim][checkpoint]",
                   EVERY_OPTIMIZER) {
  using Opt = TestType;
  using T = typename Opt::Scalar;
  const bool lazy = GENERATE(false, true);
  INFO("lazy " << lazy);
  const auto init = random_matrix<T>(40, 6, 3);
  auto straight_table = Embedding<T>::from_pretrained(init, {}, false);
  Opt straight(straight_table, Busy<Opt>::options(lazy));
  for (std::uint64_t s = 0; s < 6; ++s) {
    if (s == 2) straight.set_lr(straight.lr() / 2);
    straight.step(random_gradient<T>(40, 6, 0.3, 100 + s));
  }

  auto first_table = Embedding<T>::from_pretrained(init, {}, false);
  Opt first(first_table, Busy<Opt>::options(lazy));
  for (std::uint64_t s = 0; s < 3; ++s) {
    if (s == 2) first.set_lr(first.lr() / 2);
    first.step(random_gradient<T>(40, 6, 0.3, 100 + s));
  }
  std::stringstream stream;
  first_table.save(stream);
  first.save(stream);
  Embedding<T> table(40, 6, {.seed = 9});  // other weights, default options: all replaced
  Opt resumed(table);
  table.load(stream);
  resumed.load(stream);
  CHECK(resumed.steps() == 3);
  CHECK(resumed.lr() == first.lr());
  CHECK(resumed.options().lazy == lazy);
  for (std::uint64_t s = 3; s < 6; ++s) resumed.step(random_gradient<T>(40, 6, 0.3, 100 + s));
  CHECK(resumed.steps() == 6);
  CHECK(same_state(resumed, straight, table, straight_table));
}

TEMPLATE_TEST_CASE("a lazy step changes only the gradient's rows and their state", "[optim][lazy]",
                   EVERY_OPTIMIZER) {
  using Opt = TestType;
  using T = typename Opt::Scalar;
  Embedding<T> table(300, 5, {.seed = 4});
  Opt opt(table, Busy<Opt>::options(true));
  const Matrix<T> before = table.weight();
  const std::vector<Index> rows{0, 7, 255, 256, 299};  // across the dense step's row blocks
  opt.step(gradient<T>(300, rows, random_matrix<T>(5, 5, 6)));
  opt.step(gradient<T>(300, {}, Matrix<T>(0, 5)));  // empty: counts, changes nothing
  CHECK(opt.steps() == 2);
  const Opt fresh(table, Busy<Opt>::options(true));
  const auto state = state_of(opt), fresh_state = state_of(fresh);
  for (Index i = 0; i < 300; ++i) {
    const bool touched = std::find(rows.begin(), rows.end(), i) != rows.end();
    INFO("row " << i);
    CHECK((table.weight().row(i) == before.row(i)) != touched);
    for (std::size_t s = 0; s < state.size(); ++s) {
      CHECK((state[s]->row(i) == fresh_state[s]->row(i)) != touched);
    }
  }
  // Dense, the same gradients move every row (weight decay at least).
  auto dense_table = Embedding<T>::from_pretrained(before, {}, false);
  Opt dense(dense_table, Busy<Opt>::options(false));
  dense.step(gradient<T>(300, rows, random_matrix<T>(5, 5, 6)));
  for (Index i = 0; i < 300; ++i) CHECK(dense_table.weight().row(i) != before.row(i));
}

TEMPLATE_TEST_CASE("a dense step over many row blocks equals the formula per row", "[optim][dense]",
                   float, double) {
  // SGD with weight decay: w - lr (g + wd w) for every row, g = 0 where the gradient is silent.
  using T = TestType;
  Embedding<T> table(1000, 3, {.seed = 5});
  const Matrix<T> before = table.weight();
  optim::SGD<T> opt(table, {.lr = 0.5, .weight_decay = 0.25});
  const auto g = random_gradient<T>(1000, 3, 0.1, 8);
  REQUIRE(g.rows.size() > 20);
  opt.step(g);
  const Matrix<T> dense = g.to_dense();
  for (Index i = 0; i < 1000; ++i) {
    for (Index j = 0; j < 3; ++j) {
      const T d = dense(i, j) + T(0.25) * before(i, j);
      CHECK(table.weight()(i, j) == before(i, j) + T(-0.5) * d);
    }
  }
}

TEMPLATE_TEST_CASE("a gradient that does not fit the table throws and changes nothing",
                   "[optim][errors]", EVERY_OPTIMIZER) {
  using Opt = TestType;
  using T = typename Opt::Scalar;
  const bool lazy = GENERATE(false, true);
  Embedding<T> table(6, 3, {.seed = 7});
  Opt opt(table, Busy<Opt>::options(lazy));
  opt.step(gradient<T>(6, {1, 4}, random_matrix<T>(2, 3, 1)));
  Embedding<T> copy_table = table;
  Opt copy = opt;  // bound to `table` too, but only read
  const std::string name = Opt::name;
  REQUIRE_THROWS_AS(opt.step(gradient<T>(7, {1}, Matrix<T>::Ones(1, 3))), std::invalid_argument);
  REQUIRE_THROWS_WITH(opt.step(gradient<T>(7, {1}, Matrix<T>::Ones(1, 3))),
                      name +
                          "::step: the gradient is of a (7, 3) table but the optimizer's "
                          "table is (6, 3)");
  REQUIRE_THROWS_WITH(opt.step(gradient<T>(6, {1}, Matrix<T>::Ones(1, 4))),
                      name +
                          "::step: the gradient is of a (6, 4) table but the optimizer's "
                          "table is (6, 3)");
  REQUIRE_THROWS_WITH(opt.step(gradient<T>(6, {1, 2}, Matrix<T>::Ones(1, 3))),
                      name + "::step: the gradient lists 2 rows but has 1 rows of values");
  REQUIRE_THROWS_AS(opt.step(gradient<T>(6, {0, 6}, Matrix<T>::Ones(2, 3))), std::out_of_range);
  REQUIRE_THROWS_WITH(opt.step(gradient<T>(6, {0, 6}, Matrix<T>::Ones(2, 3))),
                      name + "::step: gradient row 6 at position 1 is out of range [0, 6)");
  REQUIRE_THROWS_WITH(opt.step(gradient<T>(6, {3, 3}, Matrix<T>::Ones(2, 3))),
                      name +
                          "::step: gradient rows must be strictly increasing, but row 3 at "
                          "position 1 follows 3");
  REQUIRE_THROWS_AS(opt.step(Gradient<T>{}), std::invalid_argument);
  CHECK(opt.steps() == 1);
  CHECK(same_state(opt, copy, table, copy_table));

  table.weight().resize(7, 3);  // nobody may resize a table under its optimizer
  REQUIRE_THROWS_WITH(opt.step(gradient<T>(7, {1}, Matrix<T>::Ones(1, 3))),
                      name +
                          "::step: the table was resized from (6, 3) to (7, 3) after the "
                          "optimizer was made");
}

TEMPLATE_TEST_CASE("Adam, AdamW, Adagrad and RowWiseAdagrad reject bad options", "[optim][errors]",
                   float, double) {
  using T = TestType;
  Embedding<T> table(6, 3, {.seed = 1});
  using optim::Adam, optim::AdamW, optim::Adagrad, optim::RowWiseAdagrad;
  REQUIRE_THROWS_AS(Adam(table, {.lr = -1}), std::invalid_argument);
  REQUIRE_THROWS_WITH(Adam(table, {.lr = -1}), "emb::optim::Adam: lr must be in [0, inf), got -1");
  REQUIRE_THROWS_WITH(Adam(table, {.betas = {1.0, 0.999}}),
                      "emb::optim::Adam: betas[0] must be in [0, 1), got 1");
  REQUIRE_THROWS_WITH(Adam(table, {.betas = {0.9, -0.5}}),
                      "emb::optim::Adam: betas[1] must be in [0, 1), got -0.5");
  REQUIRE_THROWS_WITH(Adam(table, {.eps = 0}), "emb::optim::Adam: eps must be in (0, inf), got 0");
  REQUIRE_THROWS_WITH(Adam(table, {.weight_decay = -0.5}),
                      "emb::optim::Adam: weight_decay must be in [0, inf), got -0.5");
  REQUIRE_THROWS_WITH(AdamW(table, {.eps = -1e-8}),
                      "emb::optim::AdamW: eps must be in (0, inf), got -1e-08");
  REQUIRE_THROWS_WITH(AdamW(table, {.betas = {0.9, 1.5}}),
                      "emb::optim::AdamW: betas[1] must be in [0, 1), got 1.5");
  REQUIRE_THROWS_WITH(AdamW(table, {.lr = std::nan("")}),
                      "emb::optim::AdamW: lr must be in [0, inf), got nan");
  REQUIRE_THROWS_WITH(Adagrad(table, {.lr_decay = -1}),
                      "emb::optim::Adagrad: lr_decay must be in [0, inf), got -1");
  REQUIRE_THROWS_WITH(Adagrad(table, {.initial_accumulator_value = -1}),
                      "emb::optim::Adagrad: initial_accumulator_value must be in [0, inf), got -1");
  REQUIRE_THROWS_WITH(Adagrad(table, {.eps = 0}),
                      "emb::optim::Adagrad: eps must be in (0, inf), got 0");
  REQUIRE_THROWS_WITH(Adagrad(table, {.weight_decay = -1}),
                      "emb::optim::Adagrad: weight_decay must be in [0, inf), got -1");
  REQUIRE_THROWS_WITH(RowWiseAdagrad(table, {.lr = -1}),
                      "emb::optim::RowWiseAdagrad: lr must be in [0, inf), got -1");
  REQUIRE_THROWS_WITH(RowWiseAdagrad(table, {.eps = 0}),
                      "emb::optim::RowWiseAdagrad: eps must be in (0, inf), got 0");
  REQUIRE_THROWS_WITH(
      RowWiseAdagrad(table, {.weight_decay_mode = static_cast<optim::WeightDecayMode>(7)}),
      "emb::optim::RowWiseAdagrad: weight_decay_mode 7 is not l2 (0) or decoupled (1)");
  Adam<T> adam(table);
  REQUIRE_THROWS_WITH(adam.set_lr(-1), "emb::optim::Adam: lr must be in [0, inf), got -1");
  CHECK(adam.lr() == 1e-3);
  CHECK(AdamW(table).options().weight_decay == 1e-2);  // PyTorch's AdamW default
}

TEMPLATE_TEST_CASE("optimizers bind to any table whose weight() is a Matrix<T>&",
                   "[optim][compile]", float, double) {
  using T = TestType;
  struct Table {  // the shape of EmbeddingBag<T> as far as optimizers are concerned
    Matrix<T> w = Matrix<T>::Ones(4, 2);
    Matrix<T>& weight() { return w; }
  };
  Table table;
  optim::RowWiseAdagrad opt(table, {.lr = 0.5, .lazy = true});
  static_assert(std::is_same_v<decltype(opt), optim::RowWiseAdagrad<T>>);
  opt.step(gradient<T>(4, {2}, Matrix<T>::Ones(1, 2)));
  CHECK(opt.sum().rows() == 4);  // one accumulator per row
  CHECK(opt.sum().cols() == 1);
  CHECK_THAT(static_cast<double>(table.w(2, 0)), Catch::WithinRel(1 - 0.5 / (1 + 1e-8), 1e-6));
  CHECK(table.w(1, 0) == T(1));
  using Other = std::conditional_t<std::is_same_v<T, float>, double, float>;
  static_assert(!std::is_constructible_v<optim::SGD<T>, Embedding<Other>&>);
  static_assert(!std::is_constructible_v<optim::Adam<T>, int&>);
  static_assert(std::is_constructible_v<optim::Adam<T>, Embedding<T>&>);
}

TEMPLATE_TEST_CASE("an optimizer steps a dense Matrix exactly as the same table", "[optim][dense]",
                   float, double) {
  using T = TestType;
  Matrix<T> start(5, 3);
  start.setRandom();
  Matrix<T> g(5, 3);
  g.setRandom();
  const auto grad = Gradient<T>::from_dense(g);
  auto table = Embedding<T>::from_pretrained(start, {}, false);
  Matrix<T> weight = start;
  optim::Adam<T> on_table(table, {.lr = 0.1, .amsgrad = true});
  optim::Adam on_matrix(weight, optim::AdamOptions{.lr = 0.1, .amsgrad = true});  // deduced
  STATIC_REQUIRE(std::is_same_v<decltype(on_matrix), optim::Adam<T>>);
  for (int step = 0; step < 3; ++step) {
    on_table.step(grad);
    on_matrix.step(grad);
  }
  CHECK(weight == table.weight());
  CHECK(on_matrix.exp_avg_sq() == on_table.exp_avg_sq());
  CHECK(on_matrix.steps() == 3);
}

TEMPLATE_TEST_CASE("an element-wise step on a wide table equals steps on each of its columns",
                   "[optim][dense][lazy]", float, double) {
  // Rows are updated in blocks of 16 columns (detail::for_columns, vectorized) and the columns
  // left over one by one; the golden cases above are narrower than a block. Column by column,
  // every element goes through the one-by-one loop: the wide table must match bit for bit.
  using T = TestType;
  const Index num = 6, dim = 37;  // two blocks and 5 more
  const Matrix<T> start = random_matrix<T>(num, dim, 3);
  std::vector<Gradient<T>> grads;
  for (std::uint64_t s = 0; s < 3; ++s) {
    grads.push_back(gradient<T>(num, {0, 2, 3, 5}, random_matrix<T>(4, dim, 10 + s)));
  }
  auto column_of = [&](const Gradient<T>& g, Index c) {
    return gradient<T>(num, g.rows, Matrix<T>(g.values.col(c)));
  };
  auto check = [&](auto make, const char* what) {
    CAPTURE(what);
    Matrix<T> wide = start;
    auto opt = make(wide);
    for (const auto& g : grads) opt.step(g);
    for (Index c = 0; c < dim; ++c) {
      Matrix<T> narrow = start.col(c);
      auto one = make(narrow);
      for (const auto& g : grads) one.step(column_of(g, c));
      if (narrow != wide.col(c)) FAIL("column " << c);
    }
  };
  for (const bool lazy : {false, true}) {
    CAPTURE(lazy);
    check([&](Matrix<T>& w) { return optim::SGD<T>(w, {.lr = 0.1, .lazy = lazy}); }, "SGD");
    check(
        [&](Matrix<T>& w) {
          return optim::SGD<T>(
              w,
              {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01, .lazy = lazy});
        },
        "SGD, momentum and weight decay");
    check(
        [&](Matrix<T>& w) {
          return optim::SGD<T>(w, {.lr = 0.1, .momentum = 0.9, .nesterov = true, .lazy = lazy});
        },
        "SGD, Nesterov");
    check(
        [&](Matrix<T>& w) {
          return optim::Adam<T>(w,
                                {.lr = 0.01, .weight_decay = 0.1, .amsgrad = true, .lazy = lazy});
        },
        "Adam, amsgrad and weight decay");
    check([&](Matrix<T>& w) { return optim::AdamW<T>(w, {.lr = 0.01, .lazy = lazy}); }, "AdamW");
    check(
        [&](Matrix<T>& w) {
          return optim::Adagrad<T>(w, {.lr = 0.1, .weight_decay = 0.1, .lazy = lazy});
        },
        "Adagrad");
  }
}

TEMPLATE_TEST_CASE("an optimizer steps a bias vector as an (n, 1) table", "[optim][dense]", float,
                   double) {
  using T = TestType;
  Eigen::VectorX<T> bias(4);
  bias << T(0.5), T(-1), T(2), T(0);
  Eigen::VectorX<T> g(4);
  g << T(1), T(2), T(-3), T(0.25);
  optim::SGD sgd(bias, optim::SGDOptions{.lr = 0.5, .momentum = 0.9});
  sgd.step(Gradient<T>::from_dense(g));
  Eigen::VectorX<T> want(4);
  want << T(0), T(-2), T(3.5), T(-0.125);  // first step: buffer = g, b -= lr * g
  require_close<T>(bias, want, "bias after one SGD step");
  CHECK(sgd.momentum_buffer().rows() == 4);
  CHECK(sgd.momentum_buffer().cols() == 1);
  // A gradient of another shape is refused and changes nothing.
  REQUIRE_THROWS_WITH(sgd.step(Gradient<T>::from_dense(Matrix<T>::Ones(4, 2))),
                      "emb::optim::SGD::step: the gradient is of a (4, 2) table but the "
                      "optimizer's table is (4, 1)");
  require_close<T>(bias, want, "bias after a refused step");
  // Lazy steps touch only the listed elements.
  optim::Adagrad<T> adagrad(bias, {.lr = 1, .lazy = true});
  Gradient<T> one{.num_embeddings = 4, .rows = {2}, .values = Matrix<T>::Constant(1, 1, T(4))};
  adagrad.step(one);
  CHECK(bias(0) == want(0));
  CHECK(bias(1) == want(1));
  CHECK(bias(3) == want(3));
  CHECK_THAT(static_cast<double>(bias(2)), Catch::Matchers::WithinAbs(2.5, 1e-6));
}

TEST_CASE("copies of an optimizer keep its state on huge pages, as a new optimizer's",
          "[optim][huge_pages]") {
  using emb::test::advised_cols;
  using emb::test::advised_rows;
  using emb::test::huge_page_advice_of;
  if (!emb::test::huge_page_advice_visible()) return;
  Embedding<float> table(advised_rows, advised_cols, {.seed = 1});
  optim::Adam<float> opt(table, {.lr = 0.01, .lazy = true});
  opt.step(
      table.backward(std::vector<Index>{3, 9, 3}, Matrix<float>::Constant(3, advised_cols, 0.5f)));
  CHECK(huge_page_advice_of(opt.exp_avg()) == true);
  CHECK(huge_page_advice_of(opt.exp_avg_sq()) == true);

  const optim::Adam<float> copy = opt;
  CHECK(copy.exp_avg() == opt.exp_avg());
  CHECK(copy.exp_avg_sq() == opt.exp_avg_sq());
  CHECK(copy.steps() == 1);
  CHECK(huge_page_advice_of(copy.exp_avg()) == true);
  CHECK(huge_page_advice_of(copy.exp_avg_sq()) == true);

  Embedding<float> other(2, advised_cols);
  optim::Adam<float> assigned(other);
  assigned = opt;
  CHECK(assigned.exp_avg() == opt.exp_avg());
  CHECK(huge_page_advice_of(assigned.exp_avg()) == true);
  CHECK(huge_page_advice_of(assigned.exp_avg_sq()) == true);

  // Moved, the state keeps its memory (and the advice) without a copy.
  const float* moment = opt.exp_avg().data();
  const optim::Adam<float> moved = std::move(opt);
  CHECK(moved.exp_avg().data() == moment);
}
