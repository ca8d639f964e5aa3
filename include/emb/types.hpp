#pragma once
// The index and matrix types every emb header speaks in.

#include <cstdint>  // std::int64_t

#include <Eigen/Core>

namespace emb {

// Indices are 64-bit, as PyTorch's int64 index tensors; forward also accepts int32.
using Index = std::int64_t;

// Row-major, so one embedding row is contiguous in memory.
template <class T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace detail {
template <class T>
inline constexpr bool is_real_v = std::is_same_v<T, float> || std::is_same_v<T, double>;
}  // namespace detail

}  // namespace emb
