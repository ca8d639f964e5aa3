// The row copies under forward: every row size and every alignment of table and output, exactly.
// Built twice (test_gather, and test_gather_native with -march=native where the compiler takes
// it), because the copy is inline vector moves when built for AVX or AVX-512, memcpy otherwise.

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include <catch2/catch.hpp>
#include <emb/detail/gather.hpp>
#include <emb/detail/row_copy.hpp>
#include <emb/embedding.hpp>

using emb::Index;
using emb::Matrix;

// Every size from 0 to 300 bytes that is a multiple of `unit`, the source at every 4-byte offset
// in a 64-byte line (the widest vector) and the destination at every such offset that is a
// multiple of `unit`, guards around the destination.
template <class Copy>
void check_copy(Copy copy, std::size_t unit = 1) {
  std::vector<unsigned char> src(512);
  alignas(64) std::array<unsigned char, 512> dst{};
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 7 + 1);
  for (std::size_t bytes = 0; bytes <= 300; bytes += unit) {
    for (std::size_t from = 0; from < 72; from += 4) {
      for (std::size_t to = 0; to < 72; to += std::max<std::size_t>(unit, 4)) {
        std::fill(dst.begin(), dst.end(), 0);
        copy(dst.data() + to, src.data() + from, bytes);
        for (std::size_t i = 0; i < dst.size(); ++i) {
          const bool inside = i >= to && i < to + bytes;
          if (dst[i] != (inside ? src[i - to + from] : 0)) {
            FAIL("bytes " << bytes << ", from " << from << ", to " << to << ": byte " << i);
          }
        }
      }
    }
  }
}

TEST_CASE("copy_row copies exactly the bytes asked for, at any alignment", "[gather]") {
  check_copy(emb::detail::copy_row);
}

TEST_CASE("copy_row_wide copies exactly the bytes asked for, at any alignment", "[gather]") {
  check_copy(emb::detail::copy_row_wide);
}

// copy_row_stream's contract: a destination on a 16-byte boundary and a multiple of 16 bytes.
TEST_CASE("copy_row_stream copies exactly the bytes asked for", "[gather]") {
  check_copy(
      [](void* dst, const void* src, std::size_t bytes) {
        emb::detail::copy_row_stream(dst, src, bytes);
        emb::detail::store_fence();
      },
      16);
}

// Outputs past wide_copy_limit take copy_row, smaller ones copy_row_wide: both gathers checked.
TEST_CASE("forward gathers large outputs exactly", "[gather]") {
  const Index dim = 100, rows = 1000;
  const auto n = static_cast<Index>(emb::detail::wide_copy_limit / (dim * sizeof(float))) + 7;
  std::vector<Index> idx(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<Index>(i * 7919 + 13) % rows;
  emb::Embedding<float> table(rows, dim, {.seed = 3});
  Matrix<float> out(n, dim);
  table.forward(idx, out);
  bool same = true;
  for (Index i = 0; i < n; ++i) {
    same = same && out.row(i) == table.weight().row(idx[static_cast<std::size_t>(i)]);
  }
  CHECK(same);
}

// A thread's share of more than streamed_share_bytes is written with copy_row_stream, when the
// rows are a multiple of 16 bytes (300 and 128 floats) and the output is aligned; 301 floats, or
// the output one float into its buffer, take copy_row instead. Every row and the guards checked.
TEST_CASE("forward gathers outputs too large for a core's caches exactly", "[gather]") {
  const Index rows = 5000;
  for (Index dim : {300, 128, 301}) {
    const auto row_bytes = static_cast<std::size_t>(dim) * sizeof(float);
    const auto n =
        static_cast<Index>(emb::detail::streamed_share_bytes *
                           static_cast<std::size_t>(emb::detail::max_threads()) / row_bytes) +
        7;
    std::vector<Index> idx(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<Index>(i * 7919 + 13) % rows;
    emb::Embedding<float> table(rows, dim, {.seed = 5});
    for (Index offset : {0, 1}) {
      std::vector<float> buffer(static_cast<std::size_t>(n * dim + 2), -1.0f);
      Eigen::Map<Matrix<float>> out(buffer.data() + offset, n, dim);
      table.forward(idx, out);
      CAPTURE(dim, offset);
      bool same = true;
      for (Index i = 0; i < n; ++i) {
        same = same && out.row(i) == table.weight().row(idx[static_cast<std::size_t>(i)]);
      }
      CHECK(same);
      if (offset == 1) CHECK(buffer[0] == -1.0f);
      CHECK(buffer[static_cast<std::size_t>(offset + n * dim)] == -1.0f);
    }
  }
}

TEMPLATE_TEST_CASE("forward gathers rows of every size into outputs at every offset", "[gather]",
                   float, double) {
  using T = TestType;
  const std::vector<Index> idx = {3, 0, 3, 7, 1, 1, 6, 2, 5, 4, 7, 0};
  const auto n = static_cast<Index>(idx.size());
  for (Index dim : {1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 32, 33, 64, 100, 128, 300}) {
    emb::Embedding<T> table(8, dim, {.seed = static_cast<std::uint64_t>(dim)});
    Matrix<T> expected(n, dim);
    for (Index i = 0; i < n; ++i) expected.row(i) = table.weight().row(idx[static_cast<size_t>(i)]);
    for (Index offset = 0; offset < 4; ++offset) {
      // The output lives `offset` elements into a buffer with a guard before and after it.
      std::vector<T> buffer(static_cast<std::size_t>(n * dim + 8), T(-1));
      Eigen::Map<Matrix<T>> out(buffer.data() + offset, n, dim);
      table.forward(idx, out);
      CAPTURE(dim, offset);
      CHECK(out == expected);
      for (Index i = 0; i < offset; ++i) CHECK(buffer[static_cast<std::size_t>(i)] == T(-1));
      for (auto i = static_cast<std::size_t>(offset + n * dim); i < buffer.size(); ++i) {
        CHECK(buffer[i] == T(-1));
      }
    }
  }
}
