// The classic nn.Embedding walkthrough, in C++.
//
// Python:                                       C++ (this file):
//   embedding = nn.Embedding(10, 3)               emb::Embedding<float> embedding(10, 3);
//   embedding(torch.tensor([1, 2, 3, 4]))         embedding.forward({1, 2, 3, 4});

#include <emb/emb.hpp>

#include <cstdlib>   // EXIT_FAILURE
#include <iostream>  // std::cout

namespace {
// The example checks what it claims, so CTest catches it if the library ever stops agreeing.
void expect(bool ok, const char* what) {
  if (!ok) {
    std::cerr << "quickstart: expected " << what << '\n';
    std::exit(EXIT_FAILURE);
  }
}
}  // namespace

int main() {
  // A vocabulary of 10 words, each a 3-d vector drawn from N(0, 1).
  emb::Embedding<float> embedding(10, 3, {.seed = 0});
  const emb::Matrix<float> vectors = embedding.forward({1, 2, 3, 4});
  std::cout << "lookup of [1, 2, 3, 4]: (" << vectors.rows() << ", " << vectors.cols() << ")\n"
            << vectors << "\n\n";
  expect(vectors.rows() == 4 && vectors.cols() == 3, "a (4, 3) matrix");

  // A batch of 3 sentences of 4 word ids each, in a 5-d table: (3, 4, 5).
  emb::Embedding<float> table(10, 5, {.seed = 1});
  Eigen::Tensor<emb::Index, 2, Eigen::RowMajor> batch(3, 4);
  batch.setValues({{1, 2, 4, 5}, {4, 3, 2, 9}, {0, 0, 7, 7}});
  const auto batch_vectors = table.forward(batch);
  std::cout << "batch of (3, 4) ids: (" << batch_vectors.dimension(0) << ", "
            << batch_vectors.dimension(1) << ", " << batch_vectors.dimension(2) << ")\n\n";
  expect(batch_vectors.dimension(0) == 3 && batch_vectors.dimension(1) == 4 &&
             batch_vectors.dimension(2) == 5,
         "a (3, 4, 5) tensor");

  // from_pretrained: a lookup is plain row indexing of the given matrix.
  emb::Matrix<float> weight(2, 3);
  weight << 1.0f, 2.3f, 3.0f, 4.0f, 5.1f, 6.3f;
  auto pretrained = emb::Embedding<float>::from_pretrained(weight);
  const emb::Matrix<float> row = pretrained.forward({1});
  std::cout << "from_pretrained, lookup of [1]: " << row << "\n\n";
  expect(row == weight.row(1), "row 1 of the pretrained weight");

  // padding_idx: that row starts at zero and never receives gradient, so it stays zero.
  emb::Embedding<float> padded(10, 3, {.padding_idx = 0, .seed = 2});
  const emb::Matrix<float> with_padding = padded.forward({0, 2, 0, 5});
  const emb::Gradient<float> grad = padded.backward({0, 2, 0, 5}, emb::Matrix<float>::Ones(4, 3));
  std::cout << "padding_idx = 0, lookup of [0, 2, 0, 5]:\n"
            << with_padding << '\n'
            << "rows that receive gradient:";
  for (emb::Index r : grad.rows) std::cout << ' ' << r;
  std::cout << '\n';
  expect(with_padding.row(0).isZero(0) && with_padding.row(2).isZero(0), "zero padding rows");
  expect(grad.rows == std::vector<emb::Index>{2, 5}, "no gradient for the padding row");
  return 0;
}
