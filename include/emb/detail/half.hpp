#pragma once
// float16 (IEEE binary16) and bfloat16 to and from float, in integer arithmetic only: the results
// do not depend on compiler flags (-ffast-math, -ffp-contract), the rounding mode or the
// flush-to-zero / denormals-are-zero bits a fast-math program sets. Narrowing rounds to nearest,
// ties to even, as PyTorch's tensor.half() and tensor.bfloat16(); subnormal halves are kept (small
// int4 scales are subnormal halves); overflow gives infinity; NaN stays NaN.

#include <bit>      // std::bit_cast
#include <cstddef>  // std::size_t
#include <cstdint>  // std::uint16_t, std::uint32_t, std::int32_t

namespace emb::detail {

// The float a float16 holds (every half is exactly a float). Branch-free, so a loop of it
// vectorizes. NaN payloads are kept.
inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t magnitude = h & 0x7fffu;
  // Masks rather than branches or selects, which keep compilers from vectorizing a loop of this.
  const std::uint32_t special = 0u - static_cast<std::uint32_t>(magnitude >= 0x7c00u);
  const std::uint32_t subnormal = 0u - static_cast<std::uint32_t>(magnitude < 0x0400u);
  // Normal halves: move the exponent from bias 15 to bias 127. Infinity and NaN (exponent 31)
  // need exponent 255, 112 more.
  const std::uint32_t normal =
      (magnitude << 13) + (std::uint32_t{112} << 23) + (special & (std::uint32_t{112} << 23));
  // Zero and subnormals: magnitude * 2^-24, an exact product of two normal floats (no subnormal
  // float appears, so denormals-are-zero cannot touch it).
  const std::uint32_t small = std::bit_cast<std::uint32_t>(
      static_cast<float>(static_cast<std::int32_t>(magnitude)) * 0x1p-24f);
  return std::bit_cast<float>((normal & ~subnormal) | (small & subnormal) | sign);
}

// The nearest float16 (ties to even). NaN becomes the quiet NaN 0x7e00 with the sign kept, as
// PyTorch's conversion; magnitudes from 65520 up become infinity.
inline std::uint16_t float_to_half(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u);
  if (a >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // 65520 and up
  if (a >= 0x38800000u) {  // 2^-14 and up: a normal half
    // Rebias the exponent, then round the 13 dropped mantissa bits to nearest even; a carry out
    // of the mantissa correctly bumps the exponent.
    const std::uint32_t rebiased = a - (std::uint32_t{112} << 23);
    const std::uint32_t rounded = rebiased + 0x0fffu + ((rebiased >> 13) & 1u);
    return static_cast<std::uint16_t>(sign | (rounded >> 13));
  }
  // Below 2^-14: a subnormal half, in units of 2^-24. The float is m * 2^(e - 150) with the
  // implicit bit in m, so the half is m >> (126 - e), rounded to nearest even.
  const std::uint32_t e = a >> 23;
  if (e < 102) return sign;  // below 2^-25: rounds to zero
  const std::uint32_t m = (a & 0x7fffffu) | 0x800000u;
  const std::uint32_t shift = 126 - e;  // 14 to 24
  const std::uint32_t q = m >> shift;
  const std::uint32_t rest = m & ((1u << shift) - 1);
  const std::uint32_t half = 1u << (shift - 1);
  const std::uint32_t up = rest > half || (rest == half && (q & 1u)) ? 1u : 0u;
  return static_cast<std::uint16_t>(sign | (q + up));
}

// The float a bfloat16 holds: its bits are the float's upper 16.
inline float bfloat16_to_float(std::uint16_t b) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

// The nearest bfloat16 (ties to even); overflow rounds to infinity. NaN becomes the quiet NaN
// 0x7fc0 with the sign kept (PyTorch 1.13's CPU tensor.bfloat16() writes 0xffff for every NaN;
// both are NaN).
inline std::uint16_t float_to_bfloat16(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) {
    return static_cast<std::uint16_t>(((x >> 16) & 0x8000u) | 0x7fc0u);
  }
  return static_cast<std::uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace emb::detail
