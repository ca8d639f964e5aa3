#pragma once
// Element-wise comparison against reference values, reporting the first mismatch.

#include <cmath>    // std::abs
#include <sstream>  // std::ostringstream
#include <string>   // std::string

#include <catch2/catch.hpp>
#include <emb/types.hpp>

namespace emb::test {

// The tolerances the issues promise: float within 3e-5 relative, double within 1e-10.
template <class T>
constexpr double rtol = std::is_same_v<T, float> ? 3e-5 : 1e-10;
template <class T>
constexpr double atol = std::is_same_v<T, float> ? 1e-6 : 1e-12;

// |got - want| <= rtol * |want| + atol everywhere, shapes equal.
template <class A, class B>
void require_close(const A& got, const B& want, double rel, double abs, const std::string& what) {
  INFO(what);
  REQUIRE(got.rows() == want.rows());
  REQUIRE(got.cols() == want.cols());
  for (Eigen::Index i = 0; i < want.rows(); ++i) {
    for (Eigen::Index j = 0; j < want.cols(); ++j) {
      const double g = static_cast<double>(got(i, j));
      const double w = static_cast<double>(want(i, j));
      if (!(std::abs(g - w) <= rel * std::abs(w) + abs)) {
        std::ostringstream msg;
        msg.precision(17);
        msg << what << ": element (" << i << ", " << j << ") is " << g << ", want " << w;
        FAIL(msg.str());
      }
    }
  }
}

template <class T, class A, class B>
void require_close(const A& got, const B& want, const std::string& what) {
  require_close(got, want, rtol<T>, atol<T>, what);
}

}  // namespace emb::test
