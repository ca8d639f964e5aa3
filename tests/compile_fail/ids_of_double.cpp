// Must not compile: ids of a floating-point type get one static_assert sentence.
#include <vector>

#include <emb/embedding.hpp>

int main() {
  emb::Embedding<float> table(3, 2);
  return static_cast<int>(table.forward(std::vector<double>{1.0}).rows());
}
