#pragma once
// Platform-independent N(0, 1) initialisation. std::normal_distribution is implementation-defined,
// so the same seed would give different tables under libstdc++ and libc++; this does not.

#include <cmath>     // std::sqrt, std::log, std::cos, std::sin
#include <cstdint>   // std::uint64_t
#include <optional>  // std::optional
#include <random>    // std::mt19937_64, std::random_device

namespace emb::detail {

inline std::uint64_t seed_or_random(std::optional<std::uint64_t> seed) {
  if (seed) return *seed;
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

// Fills [data, data + n) with standard normal values (Box-Muller over mt19937_64).
template <class T>
void fill_normal(T* data, std::int64_t n, std::uint64_t seed) {
  std::mt19937_64 engine(seed);
  constexpr double two_pi = 6.283185307179586476925286766559;
  // A uniform double in (0, 1]: 53 random bits, shifted away from zero so log() is finite.
  auto uniform = [&engine] { return (static_cast<double>(engine() >> 11) + 1.0) * 0x1.0p-53; };
  for (std::int64_t i = 0; i < n; i += 2) {
    const double radius = std::sqrt(-2.0 * std::log(uniform()));
    const double angle = two_pi * uniform();
    data[i] = static_cast<T>(radius * std::cos(angle));
    if (i + 1 < n) data[i + 1] = static_cast<T>(radius * std::sin(angle));
  }
}

}  // namespace emb::detail
