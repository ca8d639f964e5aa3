// emb/loss.hpp: the classifier losses against PyTorch, the Huffman tree against fastText's
// algorithm, and a finite-difference check.

#include <cmath>    // std::exp
#include <numeric>  // std::accumulate
#include <string>   // std::string
#include <vector>   // std::vector

#include <catch2/catch.hpp>
#include <emb/embedding_bag.hpp>
#include <emb/loss.hpp>

#include "support/compare.hpp"
#include "support/golden.hpp"

using emb::Index;
using emb::Matrix;
namespace loss = emb::loss;

namespace {

template <class T>
std::vector<T> to_vector(const std::vector<double>& v) {
  return {v.begin(), v.end()};
}

std::vector<std::int64_t> counts_of(const emb::test::Case& c) {
  const auto ints = c.ints("counts");
  return {ints.begin(), ints.end()};
}

}  // namespace

TEMPLATE_TEST_CASE("losses over an EmbeddingBag match PyTorch on golden cases", "[loss][golden]",
                   float, double) {
  using T = TestType;
  const auto path = emb::test::golden_path("EMB_GOLDEN_LOSS", EMB_GOLDEN_DIR "/loss.txt");
  const auto cases = emb::test::read_golden(path);
  REQUIRE(cases.size() >= 20);
  const std::string suffix = std::is_same_v<T, float> ? "_f32" : "_f64";
  for (const auto& c : cases) {
    INFO(c.name);
    const std::string kind = c.string("kind");
    auto table = emb::EmbeddingBag<T>::from_pretrained(c.matrix("table"),
                                                       {.mode = emb::BagMode::mean}, false);
    const auto indices = c.ints("indices");
    const auto offsets = c.ints("offsets");
    const auto targets = c.ints("targets");
    const Matrix<T> out = c.matrix("out_weight").template cast<T>();
    auto bag = table.forward(indices, offsets);
    loss::LossResult<T> r;
    if (kind == "softmax") {
      r = loss::softmax_cross_entropy<T>(bag.output, out, targets);
    } else if (kind == "softmax_bias") {
      const auto bias = to_vector<T>(c.array("bias").values);
      r = loss::softmax_cross_entropy<T>(bag.output, out, targets, bias);
      emb::test::require_close<T>(r.grad_bias.transpose(), c.matrix("grad_bias" + suffix),
                                  "grad_bias");
    } else if (kind == "ns") {
      r = loss::negative_sampling<T>(bag.output, out, targets, c.ints("negatives"));
    } else {
      REQUIRE(kind == "hs");
      const loss::HuffmanTree tree(counts_of(c));
      const Matrix<double> paths = c.matrix("paths"), codes = c.matrix("codes");
      for (Index label = 0; label < tree.num_labels(); ++label) {
        const auto p = tree.path(label);
        const auto code = tree.code(label);
        REQUIRE(p.size() == code.size());
        for (Index k = 0; k < paths.cols(); ++k) {
          const auto at = static_cast<std::size_t>(k);
          if (at < p.size()) {
            REQUIRE(p[at] == static_cast<Index>(paths(label, k)));
            REQUIRE(code[at] == static_cast<int>(codes(label, k)));
          } else {
            REQUIRE(paths(label, k) == -1);
          }
        }
      }
      r = loss::hierarchical_softmax<T>(bag.output, out, tree, targets);
    }
    CHECK_THAT(static_cast<double>(r.loss),
               Catch::Matchers::WithinRel(c.scalar("loss" + suffix), emb::test::rtol<T>) ||
                   Catch::Matchers::WithinAbs(c.scalar("loss" + suffix), emb::test::atol<T>));
    emb::test::require_close<T>(r.grad_input, c.matrix("grad_bag" + suffix), "grad of the bag");
    emb::test::require_close<T>(r.grad_output.to_dense(), c.matrix("grad_out" + suffix),
                                "grad of the output weight");
    const auto grad_table = table.backward(bag, r.grad_input).weight.to_dense();
    emb::test::require_close<T>(grad_table, c.matrix("grad_table" + suffix),
                                "grad of the bag table");
  }
}

TEST_CASE("the Huffman tree is fastText's: frequent labels get short paths", "[loss][huffman]") {
  // Counts 1, 8, 2, 5 (labels 0..3). In count order (8, 5, 2, 1) fastText merges 1 + 2 into
  // node 0, then node 0 (3) + 5 into node 1, then node 1 (8) + 8 into the root, node 2 (a leaf is
  // taken first only when its count is strictly smaller). The second child taken is the right
  // one (code 1).
  const std::vector<std::int64_t> counts{1, 8, 2, 5};
  const loss::HuffmanTree tree(counts);
  REQUIRE(tree.num_labels() == 4);
  REQUIRE(tree.num_nodes() == 3);
  auto path = [&](Index l) {
    const auto p = tree.path(l);
    return std::vector<Index>(p.begin(), p.end());
  };
  auto code = [&](Index l) {
    const auto c = tree.code(l);
    return std::vector<int>(c.begin(), c.end());
  };
  CHECK(path(1) == std::vector<Index>{2});
  CHECK(code(1) == std::vector<int>{1});
  CHECK(path(3) == std::vector<Index>{1, 2});
  CHECK(code(3) == std::vector<int>{1, 0});
  CHECK(path(2) == std::vector<Index>{0, 1, 2});
  CHECK(code(2) == std::vector<int>{1, 0, 0});
  CHECK(path(0) == std::vector<Index>{0, 1, 2});
  CHECK(code(0) == std::vector<int>{0, 0, 0});
  REQUIRE_THROWS_WITH(tree.path(4), "emb::loss::HuffmanTree::path: label 4 is out of range [0, 4)");
  REQUIRE_THROWS_WITH(loss::HuffmanTree(std::vector<std::int64_t>{}),
                      "emb::loss::HuffmanTree: no labels");
  REQUIRE_THROWS_WITH(loss::HuffmanTree(std::vector<std::int64_t>{3, -1}),
                      "emb::loss::HuffmanTree: count -1 of label 1 is negative");
}

TEMPLATE_TEST_CASE("hierarchical softmax probabilities sum to one over the labels",
                   "[loss][huffman]", float, double) {
  using T = TestType;
  const std::vector<std::int64_t> counts{7, 1, 1, 30, 4, 4, 12};
  const loss::HuffmanTree tree(counts);
  Matrix<T> nodes(tree.num_nodes(), 5);
  nodes.setRandom();
  Eigen::RowVectorX<T> input(5);
  input << T(0.3), T(-1.2), T(0.7), T(2.0), T(-0.1);
  const auto logp = tree.log_probabilities<T>(input, nodes);
  REQUIRE(logp.size() == counts.size());
  T total = 0;
  for (const T v : logp) total += std::exp(v);
  CHECK_THAT(static_cast<double>(total), Catch::Matchers::WithinAbs(1.0, 1e-5));
  // The loss of one example is -log P(target).
  Matrix<T> batch = input;
  for (Index target = 0; target < tree.num_labels(); ++target) {
    const std::vector<Index> t{target};
    const auto r = loss::hierarchical_softmax<T>(batch, nodes, tree, t);
    CHECK_THAT(static_cast<double>(r.loss),
               Catch::Matchers::WithinAbs(
                   -static_cast<double>(logp[static_cast<std::size_t>(target)]), 1e-5));
  }
}

TEST_CASE("loss gradients agree with finite differences of the loss", "[loss][gradcheck]") {
  const Index batch = 3, dim = 4, labels = 5;
  Matrix<double> input(batch, dim), weight(labels, dim);
  input.setRandom();
  weight.setRandom();
  const std::vector<Index> targets{2, 0, 4}, negatives{1, 3, 1, 2, 3, 0};
  const std::vector<double> bias{0.1, -0.2, 0.3, 0.0, 0.5};
  const loss::HuffmanTree tree(std::vector<std::int64_t>{3, 9, 1, 4, 4});
  const Matrix<double> nodes = weight.topRows(labels - 1);
  auto all = [&](const Matrix<double>& in, const Matrix<double>& w, int which) {
    switch (which) {
      case 0:
        return loss::softmax_cross_entropy<double>(in, w, targets, bias);
      case 1:
        return loss::negative_sampling<double>(in, w, targets, negatives);
      default:
        return loss::hierarchical_softmax<double>(in, w, tree, targets);
    }
  };
  for (int which = 0; which < 3; ++which) {
    INFO("loss " << which);
    const Matrix<double> w = which == 2 ? nodes : weight;
    const auto r = all(input, w, which);
    const double h = 1e-6;
    for (Index i = 0; i < input.size(); ++i) {
      Matrix<double> plus = input, minus = input;
      plus.data()[i] += h;
      minus.data()[i] -= h;
      const double numeric = (all(plus, w, which).loss - all(minus, w, which).loss) / (2 * h);
      CHECK_THAT(r.grad_input.data()[i], Catch::Matchers::WithinAbs(numeric, 1e-7));
    }
    const Matrix<double> dense = r.grad_output.to_dense();
    for (Index i = 0; i < w.size(); ++i) {
      Matrix<double> plus = w, minus = w;
      plus.data()[i] += h;
      minus.data()[i] -= h;
      const double numeric =
          (all(input, plus, which).loss - all(input, minus, which).loss) / (2 * h);
      CHECK_THAT(dense.data()[i], Catch::Matchers::WithinAbs(numeric, 1e-7));
    }
  }
}

TEST_CASE("losses reject mismatched shapes and out-of-range labels", "[loss][errors]") {
  Matrix<float> input = Matrix<float>::Ones(2, 3), weight = Matrix<float>::Ones(4, 3);
  const std::vector<Index> targets{1, 3};
  REQUIRE_THROWS_WITH(loss::softmax_cross_entropy<float>(input, Matrix<float>::Ones(4, 2), targets),
                      "emb::loss::softmax_cross_entropy: input has 3 columns but the output "
                      "weight has 2");
  REQUIRE_THROWS_WITH(loss::softmax_cross_entropy<float>(input, weight, std::vector<Index>{1}),
                      "emb::loss::softmax_cross_entropy: 2 input rows but 1 targets");
  REQUIRE_THROWS_AS(loss::softmax_cross_entropy<float>(input, weight, std::vector<Index>{1, 4}),
                    std::out_of_range);
  REQUIRE_THROWS_WITH(
      loss::softmax_cross_entropy<float>(input, weight, targets, std::vector<float>{1, 2}),
      "emb::loss::softmax_cross_entropy: bias has 2 values but there are 4 labels");
  REQUIRE_THROWS_WITH(
      loss::negative_sampling<float>(input, weight, targets, std::vector<Index>{0, 1, 2}),
      "emb::loss::negative_sampling: 3 negatives for 2 examples (need the same "
      "number per example)");
  REQUIRE_THROWS_WITH(
      loss::negative_sampling<float>(input, weight, targets, std::vector<Index>{0, -1}),
      "emb::loss::negative_sampling: negative -1 at position 1 is out of range [0, 4)");
  const loss::HuffmanTree tree(std::vector<std::int64_t>{1, 2, 3});
  REQUIRE_THROWS_WITH(loss::hierarchical_softmax<float>(input, weight, tree, targets),
                      "emb::loss::hierarchical_softmax: the output weight has 4 rows but the "
                      "tree has 2 internal nodes");
}
