// Built against the installed package: the umbrella header, a lookup, a backward, and whether
// OpenMP is on exactly when the target linked asks for it (EMB_EXPECT_THREADS).
#include <emb/emb.hpp>

#include <iostream>

#if defined(_OPENMP)
constexpr bool openmp = true;
#else
constexpr bool openmp = false;
#endif

int main() {
  emb::Embedding<float> table(10, 3, {.padding_idx = 0, .seed = 1});
  const emb::Matrix<float> out = table.forward({1, 2, 3, 4});
  const auto grad = table.backward({1, 1, 0}, emb::Matrix<float>::Ones(3, 3));
  const bool ok = out.rows() == 4 && out.cols() == 3 && grad.rows == std::vector<emb::Index>{1} &&
                  grad.values(0, 0) == 2.0f;
  const bool threads_ok = openmp == (EMB_EXPECT_THREADS != 0);
  std::cout << "emb " << emb::version_major << '.' << emb::version_minor << '.'
            << emb::version_patch << (ok ? " package works" : " package is BROKEN")
            << (openmp ? ", with OpenMP\n" : ", without OpenMP\n");
  if (!threads_ok) std::cout << "OpenMP is " << (openmp ? "on" : "off") << " but should not be\n";
  return ok && threads_ok ? 0 : 1;
}
