#pragma once
// IEEE binary16 (float16, NumPy's f2, safetensors' F16) and bfloat16 (BF16) as stored bits:
// widening is exact; narrowing rounds once, to nearest even, from the double value (so a double
// is not rounded twice through float), keeps subnormals, and overflows to infinity.

#include <bit>      // std::bit_cast
#include <cmath>    // std::ldexp
#include <cstdint>  // std::uint16_t, std::uint32_t, std::uint64_t

namespace emb::detail {

// float16 bits -> float, exactly (subnormals, infinities and NaN payloads kept).
inline float half_to_float(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1fu;
  const std::uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0x1f) {
    return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  }
  // A normal value is (1024 + m) * 2^(e - 25), a subnormal m * 2^-24: both exact in float.
  const float magnitude = exponent == 0 ? std::ldexp(static_cast<float>(mantissa), -24)
                                        : std::ldexp(static_cast<float>(1024 + mantissa),
                                                     static_cast<int>(exponent) - 25);
  return std::bit_cast<float>(sign | std::bit_cast<std::uint32_t>(magnitude));
}

// bfloat16 bits -> float: the upper half of a float, exactly.
inline float bfloat16_to_float(std::uint16_t bits) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

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

inline std::uint16_t float_to_half(double value) {
  return narrow_float<10, 15>(value);
}
inline std::uint16_t float_to_bfloat16(double value) {
  return narrow_float<7, 127>(value);
}

}  // namespace emb::detail
