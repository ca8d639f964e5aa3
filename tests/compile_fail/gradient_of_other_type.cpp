// Must not compile: a double gradient for a float table gets a sentence, not a brace-list error.
#include <emb/embedding.hpp>

int main() {
  emb::Embedding<float> table(3, 2);
  const Eigen::MatrixXd grad = Eigen::MatrixXd::Ones(1, 2);
  return static_cast<int>(table.backward({1}, grad).rows.size());
}
