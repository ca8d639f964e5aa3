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

// Elements [first, last) of the stream of standard normal values that seed makes (Box-Muller
// pairs over mt19937_64, two draws per pair of elements), written to data[0, last - first). The
// generator skips the draws before `first`, so a part of a table (a shard's rows) is made
// without making the rest, and equals the same part of the whole.
template <class T>
void fill_normal_range(T* data, std::int64_t first, std::int64_t last, std::uint64_t seed) {
  if (first >= last) return;
  std::mt19937_64 engine(seed);
  const std::int64_t pair = first / 2;
  engine.discard(2 * static_cast<unsigned long long>(pair));
  constexpr double two_pi = 6.283185307179586476925286766559;
  // A uniform double in (0, 1]: 53 random bits, shifted away from zero so log() is finite.
  auto uniform = [&engine] { return (static_cast<double>(engine() >> 11) + 1.0) * 0x1.0p-53; };
  for (std::int64_t i = 2 * pair; i < last; i += 2) {
    const double radius = std::sqrt(-2.0 * std::log(uniform()));
    const double angle = two_pi * uniform();
    if (i >= first) data[i - first] = static_cast<T>(radius * std::cos(angle));
    if (i + 1 < last) data[i + 1 - first] = static_cast<T>(radius * std::sin(angle));
  }
}

// Fills [data, data + n) with standard normal values: the first n of seed's stream.
template <class T>
void fill_normal(T* data, std::int64_t n, std::uint64_t seed) {
  fill_normal_range(data, 0, n, seed);
}

}  // namespace emb::detail
