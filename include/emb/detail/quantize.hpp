#pragma once
// Row-wise quantization as PyTorch 1.13 packs it (aten/src/ATen/native/quantized/cpu/
// qembeddingbag_prepack.cpp, following FBGEMM's fused layout), and the row decoders the lookup
// kernels read tables through.
//
// One packed row of D values, little-endian:
//   float32    D floats
//   float16    D float16 values (nearest even)
//   bfloat16   D bfloat16 values (nearest even)
//   int8       D bytes q, then float32 scale, float32 bias: value = q * scale + bias
//   int4       D / 2 bytes (value 2k in the low 4 bits of byte k, 2k + 1 in the high 4), then
//              float16 scale, float16 bias
//   int2       D / 4 bytes (value 4k + i in bits 2i, 2i + 1 of byte k), then float16 scale, bias
// As PyTorch, int4 needs an even D and int2 a D divisible by 4 (std::invalid_argument otherwise).

#include <algorithm>  // std::min_element, std::max_element, std::clamp
#include <bit>        // std::bit_cast, std::endian
#include <cmath>      // std::lrint, std::fma
#include <cstddef>    // std::size_t
#include <cstdint>    // std::uint8_t, std::uint16_t, std::uint32_t
#include <cstring>    // std::memcpy
#include <utility>    // std::forward

#if defined(__F16C__)
#include <immintrin.h>  // _mm256_cvtph_ps
#endif

#include "emb/detail/check.hpp"
#include "emb/detail/half.hpp"
#include "emb/detail/rows.hpp"
#include "emb/types.hpp"

namespace emb {

// How a QuantizedTable stores each value (see emb/quantized.hpp).
enum class Storage { float32, float16, bfloat16, int8, int4, int2 };

}  // namespace emb

namespace emb::detail {

// The packed layout is PyTorch's, which is the host's on the little-endian machines it runs on;
// emb reads and writes it with plain loads and stores.
static_assert(std::endian::native == std::endian::little,
              "emb's quantized tables use PyTorch's little-endian row layout");

// "int8", ...; nullptr for a value outside the enum.
inline const char* storage_name(Storage s) {
  switch (s) {
    case Storage::float32:
      return "float32";
    case Storage::float16:
      return "float16";
    case Storage::bfloat16:
      return "bfloat16";
    case Storage::int8:
      return "int8";
    case Storage::int4:
      return "int4";
    case Storage::int2:
      return "int2";
  }
  return nullptr;
}

// Bits per value of the row-wise integer storages (8, 4, 2); 0 for the float ones.
constexpr int quantized_bits(Storage s) {
  return s == Storage::int8 ? 8 : s == Storage::int4 ? 4 : s == Storage::int2 ? 2 : 0;
}

// Bytes of one packed row of `dim` values (dim already checked by check_storage).
constexpr std::size_t packed_row_bytes(Storage s, Index dim) {
  const auto d = static_cast<std::size_t>(dim);
  switch (s) {
    case Storage::float32:
      return 4 * d;
    case Storage::float16:
    case Storage::bfloat16:
      return 2 * d;
    case Storage::int8:
      return d + 8;
    case Storage::int4:
      return d / 2 + 4;
    case Storage::int2:
      return d / 4 + 4;
  }
  return 0;
}

// Throws std::invalid_argument for a storage outside the enum, and where PyTorch refuses to pack:
// int4 with an odd dim, int2 with a dim not divisible by 4.
inline void check_storage(const char* where, Storage s, Index dim) {
  if (storage_name(s) == nullptr) {
    throw_invalid(where, ": unknown storage ", static_cast<int>(s));
  }
  const int bits = quantized_bits(s);
  if (bits == 4 || bits == 2) {
    const Index per_byte = 8 / bits;
    if (dim % per_byte != 0) {
      throw_invalid(where, ": ", storage_name(s), " packs ", per_byte,
                    " values per byte, so embedding_dim must be a multiple of ", per_byte,
                    " (as PyTorch's embedding_bag_", bits, "bit_prepack), got ", dim);
    }
  }
}

// q * scale + bias with the product rounded to float before the sum, as PyTorch's unpack
// computes it, whatever the user's -ffp-contract: a compiler may fuse a written `q * scale + bias`
// into one fused multiply-add (one rounding), which changes the result. Where the target has an
// FMA instruction, the product is an explicit fma with a zero addend (correctly rounded, and
// not an `a * b` the compiler may fuse); where it has none, nothing can be fused; elsewhere
// the product is taken in double (exact: 8 bits times 24) and rounded once to float.
inline float scale_shift(float q, float scale, float bias) {
#if defined(__FMA__) || defined(__FMA4__) || defined(__AVX512F__) || defined(__aarch64__) || \
    defined(__FP_FAST_FMAF)
  return std::fma(q, scale, 0.0f) + bias;
#elif defined(__x86_64__) || defined(__i386__)
  return q * scale + bias;
#else
  return static_cast<float>(static_cast<double>(q) * static_cast<double>(scale)) + bias;
#endif
}

// std::isfinite in bits: -ffinite-math-only would fold the library call to true.
inline bool is_finite(float v) {
  return (std::bit_cast<std::uint32_t>(v) & 0x7f800000u) != 0x7f800000u;
}

inline float load_float(const std::uint8_t* p) {
  float v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline std::uint16_t load_u16(const std::uint8_t* p) {
  std::uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Decodes values [c, c + width) of a packed row of `dim` values into `out`. For int4 and int2,
// c and width are multiples of the values per byte. Every loop is branch-free, so it vectorizes.
// Always inlined into the kernel's row loop: as a call (GCC's choice for int4/int2) each row
// paid the call and a vzeroupper, a fifth of an int4 bag's time.
template <Storage S>
[[gnu::always_inline]] inline void decode_row(const std::uint8_t* row, Index dim, Index c,
                                              Index width, float* out) {
  if constexpr (S == Storage::float32) {
    std::memcpy(out, row + 4 * c, static_cast<std::size_t>(width) * 4);
  } else if constexpr (S == Storage::float16) {
    const std::uint8_t* p = row + 2 * c;
    const auto n = static_cast<std::size_t>(width);
#if defined(__F16C__)
    // The hardware conversion: exact, and it widens subnormal halves whatever the
    // denormals-are-zero bit says. 8 values per instruction; the last few through a buffer.
    std::size_t j = 0;
    for (; j + 8 <= n; j += 8) {
      const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * j));
      _mm256_storeu_ps(out + j, _mm256_cvtph_ps(h));
    }
    if (j < n) {
      alignas(16) std::uint8_t tail[16] = {};
      alignas(32) float wide[8];
      std::memcpy(tail, p + 2 * j, 2 * (n - j));
      _mm256_store_ps(wide,
                      _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(tail))));
      std::memcpy(out + j, wide, 4 * (n - j));
    }
#else
    for (std::size_t j = 0; j < n; ++j) out[j] = half_to_float(load_u16(p + 2 * j));
#endif
  } else if constexpr (S == Storage::bfloat16) {
    const std::uint8_t* p = row + 2 * c;
    for (Index j = 0; j < width; ++j) out[j] = bfloat16_to_float(load_u16(p + 2 * j));
  } else if constexpr (S == Storage::int8) {
    const float scale = load_float(row + dim), bias = load_float(row + dim + 4);
    const std::uint8_t* q = row + c;
    for (Index j = 0; j < width; ++j) out[j] = scale_shift(static_cast<float>(q[j]), scale, bias);
  } else {
    constexpr int bits = quantized_bits(S);
    constexpr Index per_byte = 8 / bits;
    constexpr unsigned mask = (1u << bits) - 1;
    const std::uint8_t* tail = row + dim / per_byte;
    const float scale = half_to_float(load_u16(tail)), bias = half_to_float(load_u16(tail + 2));
    const std::uint8_t* q = row + c / per_byte;
    for (Index k = 0; k < width / per_byte; ++k) {
      const unsigned byte = q[k];
      for (Index i = 0; i < per_byte; ++i) {
        const auto value = static_cast<float>((byte >> (bits * i)) & mask);
        out[k * per_byte + i] = scale_shift(value, scale, bias);
      }
    }
  }
}

// Packs one row of `dim` floats (already checked: finite for the integer storages).
// Integer storages follow PyTorch's fallback formulas step by step, float by float:
//   int8:      min, max over the row; range = max - min; scale = range / 255;
//              q = lrint((x - min) * (255 / (range + 1e-8))); stored: scale, min
//   int4/int2: min rounded to float16 first; range = max - min; scale = float16(range / (2^b-1)),
//              1 when range is 0; inverse = 1 / scale, and scale = inverse = 1 when scale is 0 or
//              the inverse infinite; q = clamp(lrint((x - min) * inverse), 0, 2^b - 1)
// Returns false (writing nothing meaningful) when a scale or min does not fit its stored type:
// int8's range overflows float, or int4/int2's min or scale overflows float16.
template <Storage S>
bool pack_row(const float* in, Index dim, std::uint8_t* out) {
  const auto n = static_cast<std::size_t>(dim);
  if constexpr (S == Storage::float32) {
    std::memcpy(out, in, 4 * n);
  } else if constexpr (S == Storage::float16 || S == Storage::bfloat16) {
    for (std::size_t j = 0; j < n; ++j) {
      const std::uint16_t h =
          S == Storage::float16 ? float_to_half(in[j]) : float_to_bfloat16(in[j]);
      std::memcpy(out + 2 * j, &h, 2);
    }
  } else {
    // std::min_element/max_element as PyTorch: the first of equal extremes (so -0 vs +0 is the
    // same as PyTorch's).
    float lo = *std::min_element(in, in + n);
    const float hi = *std::max_element(in, in + n);
    if constexpr (S == Storage::int8) {
      const float range = hi - lo;
      if (!is_finite(range)) return false;
      const float scale = range / 255.0f;
      const float inverse = 255.0f / (range + 1e-8f);
      for (std::size_t j = 0; j < n; ++j) {
        out[j] = static_cast<std::uint8_t>(std::lrint((in[j] - lo) * inverse));
      }
      std::memcpy(out + n, &scale, 4);
      std::memcpy(out + n + 4, &lo, 4);
    } else {
      constexpr int bits = quantized_bits(S);
      constexpr std::size_t per_byte = 8 / bits;
      constexpr long top = (1L << bits) - 1;
      const std::uint16_t lo_half = float_to_half(lo);
      lo = half_to_float(lo_half);
      const float range = hi - lo;
      std::uint16_t scale_half =
          range == 0 ? float_to_half(1.0f) : float_to_half(range / static_cast<float>(top));
      float scale = half_to_float(scale_half);
      if (!is_finite(lo) || !is_finite(scale)) return false;
      float inverse = scale == 0 ? 1.0f : 1.0f / scale;
      if (scale == 0 || !is_finite(inverse)) {
        scale_half = float_to_half(1.0f);
        inverse = 1.0f;
      }
      for (std::size_t k = 0; k < n / per_byte; ++k) {
        unsigned byte = 0;
        for (std::size_t i = 0; i < per_byte; ++i) {
          const long q = std::clamp(std::lrint((in[k * per_byte + i] - lo) * inverse), 0L, top);
          byte |= static_cast<unsigned>(q) << (bits * i);
        }
        out[k] = static_cast<std::uint8_t>(byte);
      }
      std::memcpy(out + n / per_byte, &scale_half, 2);
      std::memcpy(out + n / per_byte + 2, &lo_half, 2);
    }
  }
  return true;
}

// Rows of a packed table as the lookup kernels (gather.hpp, bags.hpp) read them: a row source
// (rows.hpp) giving columns [c, c + width) of row r as floats.
template <Storage S>
class QuantizedRows {
 public:
  using Scalar = float;

  QuantizedRows(const std::uint8_t* data, Index rows, Index cols)
      : data_(data), rows_(rows), cols_(cols), row_bytes_(packed_row_bytes(S, cols)) {}

  Index rows() const { return rows_; }
  Index cols() const { return cols_; }

  // Columns [c, c + width) of row r (c a multiple of 64, c + width <= cols()). float32 rows are
  // returned in place; other storages are decoded into `scratch` (at least width floats), which
  // is returned.
  const float* columns(Index r, Index c, Index width, float* scratch) const {
    const std::uint8_t* row = data_ + static_cast<std::size_t>(r) * row_bytes_;
    if constexpr (S == Storage::float32) {
      (void)width, (void)scratch;
      return reinterpret_cast<const float*>(row) + c;
    } else {
      decode_row<S>(row, cols_, c, width, scratch);
      return scratch;
    }
  }

  // Where row r starts and how long it is: what a kernel prefetches.
  const void* address(Index r) const { return data_ + static_cast<std::size_t>(r) * row_bytes_; }
  std::size_t row_bytes() const { return row_bytes_; }

 private:
  const std::uint8_t* data_;
  Index rows_;
  Index cols_;
  std::size_t row_bytes_;
};

// float32 rows are read where they are: the gather copies them instead of decoding.
template <>
inline constexpr bool reads_in_place<QuantizedRows<Storage::float32>> = true;

// Calls f(QuantizedRows<S>(data, rows, cols)) for the storage s: one instance of a kernel per
// storage, the storage chosen once per call rather than per row.
template <class F>
decltype(auto) with_rows(Storage s, const std::uint8_t* data, Index rows, Index cols, F&& f) {
  switch (s) {
    case Storage::float16:
      return f(QuantizedRows<Storage::float16>(data, rows, cols));
    case Storage::bfloat16:
      return f(QuantizedRows<Storage::bfloat16>(data, rows, cols));
    case Storage::int8:
      return f(QuantizedRows<Storage::int8>(data, rows, cols));
    case Storage::int4:
      return f(QuantizedRows<Storage::int4>(data, rows, cols));
    case Storage::int2:
      return f(QuantizedRows<Storage::int2>(data, rows, cols));
    case Storage::float32:
      break;
  }
  return f(QuantizedRows<Storage::float32>(data, rows, cols));
}

}  // namespace emb::detail
