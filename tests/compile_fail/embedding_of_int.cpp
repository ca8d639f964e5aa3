// Must not compile: Embedding<int> is rejected by a static_assert whose message CTest checks.
#include <emb/embedding.hpp>

int main() {
  emb::Embedding<int> table(3, 2);
  return static_cast<int>(table.num_embeddings());
}
