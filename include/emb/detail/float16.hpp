#pragma once
// Narrowing a double to IEEE binary16 (float16, NumPy's f2, safetensors' F16) or bfloat16 (BF16)
// bits, rounded once, to nearest even, from the double itself (a double is not rounded twice
// through float, as NumPy's float64 -> float16 does), keeping subnormals and overflowing to
// infinity. Widening, and narrowing from float, are in detail/half.hpp.

#include <bit>      // std::bit_cast
#include <cstdint>  // std::uint16_t, std::uint32_t, std::uint64_t

namespace emb::detail {

// The bits of `value` in a binary format with `mantissa_bits` stored mantissa bits and exponent
// bias `bias` (float16: 10, 15; bfloat16: 7, 127), rounded to nearest, ties to even.
template <int mantissa_bits, int bias>
std::uint16_t narrow_float(double value) {
  const auto bits = std::bit_cast<std::uint64_t>(value);
  const auto sign = static_cast<std::uint16_t>((bits >> 48) & 0x8000u);
  const int exponent = static_cast<int>((bits >> 52) & 0x7ffu);
  const std::uint64_t mantissa = bits & ((std::uint64_t{1} << 52) - 1);
  constexpr std::uint32_t infinity = static_cast<std::uint32_t>(2 * bias + 1) << mantissa_bits;
  if (exponent == 0x7ff) {  // inf stays inf; NaN stays a quiet NaN with its top payload bits
    if (mantissa == 0) return static_cast<std::uint16_t>(sign | infinity);
    const auto payload = static_cast<std::uint32_t>(mantissa >> (52 - mantissa_bits));
    return static_cast<std::uint16_t>(sign | infinity | (1u << (mantissa_bits - 1)) | payload);
  }
  if (exponent == 0) return sign;  // double subnormals are far below the smallest subnormal here
  // |value| = significand * 2^(e - 52) with the implicit bit made explicit.
  const std::uint64_t significand = mantissa | (std::uint64_t{1} << 52);
  const int e = exponent - 1023;
  // Keep mantissa_bits + 1 bits for a normal result; for a subnormal one, count in units of the
  // smallest subnormal, 2^(1 - bias - mantissa_bits).
  const int drop = e >= 1 - bias ? 52 - mantissa_bits : 53 - bias - mantissa_bits - e;
  std::uint64_t kept = 0;
  if (drop < 64) {
    kept = significand >> drop;
    const std::uint64_t rest = significand & ((std::uint64_t{1} << drop) - 1);
    const std::uint64_t half = std::uint64_t{1} << (drop - 1);
    if (rest > half || (rest == half && (kept & 1u) != 0)) ++kept;  // may carry into the exponent
  }
  std::uint64_t result = kept;
  if (e >= 1 - bias) {
    // The implicit bit of `kept` adds one to the biased exponent e + bias - 1: the sum is the
    // encoding, and a rounding carry moves into the exponent as it should.
    result = (static_cast<std::uint64_t>(e + bias - 1) << mantissa_bits) + kept;
  }
  if (result >= infinity) result = infinity;
  return static_cast<std::uint16_t>(sign | result);
}

inline std::uint16_t double_to_half(double value) {
  return narrow_float<10, 15>(value);
}
inline std::uint16_t double_to_bfloat16(double value) {
  return narrow_float<7, 127>(value);
}

}  // namespace emb::detail
