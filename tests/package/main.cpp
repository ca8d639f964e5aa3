// Built against the installed package: the umbrella header, a lookup, a backward.
#include <emb/emb.hpp>

#include <iostream>

int main() {
  emb::Embedding<float> table(10, 3, {.padding_idx = 0, .seed = 1});
  const emb::Matrix<float> out = table.forward({1, 2, 3, 4});
  const auto grad = table.backward({1, 1, 0}, emb::Matrix<float>::Ones(3, 3));
  const bool ok = out.rows() == 4 && out.cols() == 3 && grad.rows == std::vector<emb::Index>{1} &&
                  grad.values(0, 0) == 2.0f;
  std::cout << "emb " << emb::version_major << '.' << emb::version_minor << '.'
            << emb::version_patch << (ok ? " package works\n" : " package is BROKEN\n");
  return ok ? 0 : 1;
}
