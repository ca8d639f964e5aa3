#pragma once
// Test helpers for file readers: whole files as bytes, exact comparisons with golden values, and
// the shape every reader's error must have (one line naming the file and the problem).

#include <cmath>       // std::signbit
#include <filesystem>  // std::filesystem::path
#include <fstream>     // std::ifstream, std::ofstream
#include <functional>  // std::function
#include <iterator>    // std::istreambuf_iterator
#include <stdexcept>   // std::runtime_error
#include <string>      // std::string

#include <catch2/catch.hpp>
#include <emb/types.hpp>

namespace emb::test {

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Every value equal to the golden one converted to T (the files hold values exact in T), signs of
// zeros included.
template <class T>
void require_equal(const Matrix<T>& got, const Matrix<double>& want, const std::string& what) {
  INFO(what);
  REQUIRE(got.rows() == want.rows());
  REQUIRE(got.cols() == want.cols());
  for (Index i = 0; i < want.rows(); ++i) {
    for (Index j = 0; j < want.cols(); ++j) {
      INFO("element (" << i << ", " << j << ")");
      CHECK(got(i, j) == static_cast<T>(want(i, j)));
      CHECK(std::signbit(got(i, j)) == std::signbit(want(i, j)));
    }
  }
}

// The call throws std::runtime_error whose message is one line naming the file and saying `what`.
inline void require_file_error(const std::function<void()>& call, const std::filesystem::path& path,
                               const std::string& what) {
  try {
    call();
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    INFO(message);
    CHECK_THAT(message, Catch::Matchers::Contains(path.string()));
    CHECK_THAT(message, Catch::Matchers::Contains(what));
    CHECK(message.find('\n') == std::string::npos);
    return;
  }
  FAIL("no std::runtime_error for " << what);
}

}  // namespace emb::test
