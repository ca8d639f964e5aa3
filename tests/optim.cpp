// emb::optim: trajectories against PyTorch, lazy vs dense, checkpoints, option validation.

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <emb/embedding.hpp>
#include <emb/optim.hpp>

#include "support/compare.hpp"
#include "support/golden.hpp"

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

}  // namespace

TEMPLATE_TEST_CASE("trajectories match PyTorch on golden cases", "[optim][golden]", float, double) {
  using T = TestType;
  namespace optim = emb::optim;
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
    } else if (kind == "adam" || kind == "adamw") {
      const std::array<double, 2> betas{c.array("betas").values[0], c.array("betas").values[1]};
      if (kind == "adam") {
        check_trajectory<T, optim::Adam<T>>(
            c, optim::AdamOptions{.lr = c.scalar("lr"),
                                  .betas = betas,
                                  .eps = c.scalar("eps"),
                                  .weight_decay = c.scalar("weight_decay"),
                                  .amsgrad = flag(c, "amsgrad"),
                                  .maximize = flag(c, "maximize"),
                                  .lazy = lazy});
      } else {
        check_trajectory<T, optim::AdamW<T>>(
            c, optim::AdamWOptions{.lr = c.scalar("lr"),
                                   .betas = betas,
                                   .eps = c.scalar("eps"),
                                   .weight_decay = c.scalar("weight_decay"),
                                   .amsgrad = flag(c, "amsgrad"),
                                   .maximize = flag(c, "maximize"),
                                   .lazy = lazy});
      }
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
