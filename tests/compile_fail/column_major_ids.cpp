// Must not compile: Eigen's default column-major Tensor of ids gets a sentence naming RowMajor.
#include <emb/embedding.hpp>

int main() {
  emb::Embedding<float> table(3, 2);
  Eigen::Tensor<emb::Index, 2> ids(2, 2);
  ids.setZero();
  return static_cast<int>(table.forward(ids).size());
}
