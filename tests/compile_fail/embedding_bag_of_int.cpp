// Must not compile: EmbeddingBag<int> is rejected by a static_assert whose message CTest checks.
#include <emb/embedding_bag.hpp>

int main() {
  emb::EmbeddingBag<int> table(3, 2);
  return static_cast<int>(table.num_embeddings());
}
