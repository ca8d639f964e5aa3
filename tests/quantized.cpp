// Compressed tables: float16/bfloat16 conversions, PyTorch's row-wise quantization byte for byte,
// dequantization value for value, the row decoders, checkpoints and bad input.

#include <bit>        // std::bit_cast
#include <cmath>      // std::ldexp, std::isnan
#include <cstdint>    // std::uint8_t, std::uint16_t, std::uint32_t
#include <cstring>    // std::memcpy
#include <limits>     // std::numeric_limits
#include <memory>     // std::make_shared
#include <random>     // std::mt19937
#include <sstream>    // std::stringstream
#include <stdexcept>  // std::invalid_argument, std::runtime_error
#include <string>     // std::string
#include <vector>     // std::vector

#include <catch2/catch.hpp>
#include <emb/checkpoint.hpp>
#include <emb/quantized.hpp>
#include <unsupported/Eigen/CXX11/Tensor>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "support/golden.hpp"
#include "support/temp_dir.hpp"

using emb::Index;
using emb::Matrix;
using emb::QuantizedTable;
using emb::Storage;

namespace {

constexpr Storage all_storages[] = {Storage::float32, Storage::float16, Storage::bfloat16,
                                    Storage::int8,    Storage::int4,    Storage::int2};

std::uint32_t bits_of(float f) {
  return std::bit_cast<std::uint32_t>(f);
}

// The value of a float16 from its fields, in double: the definition, independent of the
// bit-shuffling under test.
double half_value(std::uint16_t h) {
  const int sign = h >> 15, exponent = (h >> 10) & 31, mantissa = h & 1023;
  double v = exponent == 0    ? std::ldexp(mantissa, -24)
             : exponent == 31 ? (mantissa ? std::numeric_limits<double>::quiet_NaN()
                                          : std::numeric_limits<double>::infinity())
                              : std::ldexp(1024 + mantissa, exponent - 25);
  return sign ? -v : v;
}

std::vector<std::uint8_t> golden_bytes(const emb::test::Case& c, const std::string& key) {
  std::vector<std::uint8_t> bytes;
  for (double v : c.array(key).values) bytes.push_back(static_cast<std::uint8_t>(v));
  return bytes;
}

// Element-wise bit equality (so -0 and +0 differ), reporting the first difference.
void require_same_bits(const Matrix<float>& got, const Matrix<double>& want,
                       const std::string& what) {
  INFO(what);
  REQUIRE(got.rows() == want.rows());
  REQUIRE(got.cols() == want.cols());
  for (Index i = 0; i < got.rows(); ++i) {
    for (Index j = 0; j < got.cols(); ++j) {
      const auto w = static_cast<float>(want(i, j));
      if (bits_of(got(i, j)) != bits_of(w)) {
        FAIL(what << ": element (" << i << ", " << j << ") is " << got(i, j) << ", want " << w);
      }
    }
  }
}

Matrix<float> random_weight(Index rows, Index cols, std::uint32_t seed, float scale = 1.0f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  Matrix<float> w(rows, cols);
  for (Index i = 0; i < w.size(); ++i) w.data()[i] = normal(gen);
  return w;
}

}  // namespace

TEST_CASE("float16 widening gives the exact value of all 65536 halves", "[quantized][half]") {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto half = static_cast<std::uint16_t>(h);
    const float got = emb::detail::half_to_float(half);
    const double want = half_value(half);
    if (std::isnan(want)) {
      // NaN keeps its sign and payload.
      REQUIRE(std::isnan(got));
      REQUIRE(bits_of(got) == (((h & 0x8000u) << 16) | 0x7f800000u | ((h & 0x3ffu) << 13)));
    } else if (static_cast<double>(got) != want || std::signbit(got) != ((h & 0x8000u) != 0)) {
      FAIL("half " << h << " widens to " << got << ", want " << want);
    }
  }
}

TEST_CASE("float16 narrowing round-trips every half and rounds to nearest even",
          "[quantized][half]") {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto half = static_cast<std::uint16_t>(h);
    const float f = emb::detail::half_to_float(half);
    const std::uint16_t back = emb::detail::float_to_half(f);
    if (std::isnan(f)) {
      REQUIRE((back & 0x7fffu) == 0x7e00u);
      REQUIRE((back & 0x8000u) == (h & 0x8000u));
    } else if (back != half) {
      FAIL("half " << h << " comes back as " << back);
    }
  }
  // Between every two neighbouring finite halves: just below the midpoint rounds down, just
  // above rounds up, the midpoint itself to the even one.
  for (std::uint32_t h = 0; h < 0x7bffu; ++h) {
    const double lo = half_value(static_cast<std::uint16_t>(h));
    const double hi = half_value(static_cast<std::uint16_t>(h + 1));
    const auto mid = static_cast<float>((lo + hi) / 2);  // exact: 12 bits
    REQUIRE(static_cast<double>(mid) == (lo + hi) / 2);
    const auto even = static_cast<std::uint16_t>(h % 2 == 0 ? h : h + 1);
    CHECK(emb::detail::float_to_half(mid) == even);
    CHECK(emb::detail::float_to_half(std::nextafter(mid, 0.0f)) == h);
    CHECK(emb::detail::float_to_half(std::nextafter(mid, 1e9f)) == h + 1);
    CHECK(emb::detail::float_to_half(-mid) == (even | 0x8000u));
  }
}

TEST_CASE("float16 and bfloat16 narrowing match PyTorch on random and edge floats",
          "[quantized][half][golden]") {
  const auto cases = emb::test::read_golden(
      emb::test::golden_path("EMB_GOLDEN_QUANTIZED", EMB_GOLDEN_DIR "/quantized.txt"));
  REQUIRE(!cases.empty());
  const auto& c = cases.front();
  REQUIRE(c.name == "conversions");
  const auto floats = c.ints("float_bits"), halves = c.ints("half_bits"),
             bfloats = c.ints("bfloat16_bits");
  REQUIRE(floats.size() > 1000);
  for (std::size_t i = 0; i < floats.size(); ++i) {
    const float f = std::bit_cast<float>(static_cast<std::uint32_t>(floats[i]));
    INFO("float bits " << floats[i] << " (" << f << ")");
    CHECK(emb::detail::float_to_half(f) == halves[i]);
    if (std::isnan(f)) {
      // PyTorch 1.13 writes 0xffff for every NaN; emb keeps the sign: both NaN.
      CHECK(std::isnan(emb::detail::bfloat16_to_float(emb::detail::float_to_bfloat16(f))));
      CHECK(std::isnan(emb::detail::bfloat16_to_float(static_cast<std::uint16_t>(bfloats[i]))));
    } else {
      CHECK(emb::detail::float_to_bfloat16(f) == bfloats[i]);
    }
  }
}

TEST_CASE("quantize packs every storage byte for byte as PyTorch and dequantize unpacks it",
          "[quantized][golden]") {
  const auto cases = emb::test::read_golden(
      emb::test::golden_path("EMB_GOLDEN_QUANTIZED", EMB_GOLDEN_DIR "/quantized.txt"));
  int checked = 0;
  for (const auto& c : cases) {
    if (!c.has("weight")) continue;
    const Matrix<double> weight = c.matrix("weight");
    for (Storage storage : all_storages) {
      const std::string name = emb::detail::storage_name(storage);
      if (!c.has("dequantized_" + name)) continue;
      INFO(c.name << " " << name << " (" << weight.rows() << ", " << weight.cols() << ")");
      const auto table = QuantizedTable::quantize(weight.cast<float>(), storage);
      REQUIRE(table.num_embeddings() == weight.rows());
      REQUIRE(table.embedding_dim() == weight.cols());
      REQUIRE(table.storage() == storage);
      if (c.has("bytes_" + name)) {
        const auto want = golden_bytes(c, "bytes_" + name);
        const auto got = table.bytes();
        REQUIRE(got.size() == want.size());
        REQUIRE(table.row_bytes() * static_cast<std::size_t>(weight.rows()) == want.size());
        for (std::size_t i = 0; i < want.size(); ++i) {
          if (got[i] != want[i]) {
            FAIL("byte " << i << " (row " << i / table.row_bytes() << ") is " << int{got[i]}
                         << ", want " << int{want[i]});
          }
        }
      }
      require_same_bits(table.dequantize(), c.matrix("dequantized_" + name),
                        c.name + " dequantize " + name);
      ++checked;
    }
  }
  REQUIRE(checked >= 4 * static_cast<int>(cases.size() - 1));
}

TEST_CASE("the row decoders return every 64-column block as dequantize does", "[quantized][rows]") {
  const Index dim = GENERATE(4, 8, 64, 132, 200);
  const Matrix<float> weight = random_weight(7, dim, static_cast<std::uint32_t>(dim), 3.0f);
  for (Storage storage : all_storages) {
    INFO(emb::detail::storage_name(storage) << " dim " << dim);
    const auto table = QuantizedTable::quantize(weight, storage);
    const Matrix<float> whole = table.dequantize();
    table.visit_rows([&](const auto& rows) {
      REQUIRE(rows.rows() == 7);
      REQUIRE(rows.cols() == dim);
      REQUIRE(rows.row_bytes() == table.row_bytes());
      std::vector<float> scratch(64);
      for (Index r = 0; r < 7; ++r) {
        REQUIRE(rows.address(r) ==
                table.bytes().data() + static_cast<std::size_t>(r) * table.row_bytes());
        for (Index c = 0; c < dim; c += 64) {
          const Index width = std::min<Index>(64, dim - c);
          const float* got = rows.columns(r, c, width, scratch.data());
          if (storage == Storage::float32) REQUIRE(got != scratch.data());
          for (Index j = 0; j < width; ++j) REQUIRE(bits_of(got[j]) == bits_of(whole(r, c + j)));
        }
      }
    });
  }
}

TEST_CASE("quantized tables cost the bytes PyTorch's layout says", "[quantized]") {
  const Matrix<float> weight = random_weight(3, 128, 1);
  CHECK(QuantizedTable::quantize(weight, Storage::float32).row_bytes() == 512);
  CHECK(QuantizedTable::quantize(weight, Storage::float16).row_bytes() == 256);
  CHECK(QuantizedTable::quantize(weight, Storage::bfloat16).row_bytes() == 256);
  CHECK(QuantizedTable::quantize(weight, Storage::int8).row_bytes() == 136);
  CHECK(QuantizedTable::quantize(weight, Storage::int4).row_bytes() == 68);
  CHECK(QuantizedTable::quantize(weight, Storage::int2).row_bytes() == 36);
  CHECK(QuantizedTable::quantize(weight, Storage::int8).bytes().size() == 3 * 136);
}

TEST_CASE("int8 keeps constant and zero rows exactly; int4 keeps them to a float16 step",
          "[quantized]") {
  Matrix<float> weight(3, 6);
  weight.row(0).setConstant(2.5f);
  weight.row(1).setZero();
  weight.row(2).setConstant(-0.1f);
  const Matrix<float> int8 = QuantizedTable::quantize(weight, Storage::int8).dequantize();
  CHECK(int8 == weight);
  const Matrix<float> int4 = QuantizedTable::quantize(weight, Storage::int4).dequantize();
  CHECK(int4.row(0) == weight.row(0));
  CHECK(int4.row(1) == weight.row(1));
  // -0.1's float16 minimum lies above it: the row is stored to a float16 step, not exactly.
  CHECK_THAT(int4(2, 0), Catch::WithinAbs(-0.1, 1e-4));
}

TEST_CASE("quantize refuses what PyTorch refuses and values it cannot store",
          "[quantized][errors]") {
  const Matrix<float> odd = random_weight(3, 5, 2);
  REQUIRE_THROWS_AS(QuantizedTable::quantize(odd, Storage::int4), std::invalid_argument);
  REQUIRE_THROWS_WITH(QuantizedTable::quantize(odd, Storage::int4),
                      "emb::QuantizedTable::quantize: int4 packs 2 values per byte, so "
                      "embedding_dim must be a multiple of 2 (as PyTorch's "
                      "embedding_bag_4bit_prepack), got 5");
  const Matrix<float> six = random_weight(3, 6, 2);
  REQUIRE_THROWS_WITH(QuantizedTable::quantize(six, Storage::int2),
                      Catch::Contains("multiple of 4") && Catch::Contains("got 6"));
  REQUIRE_NOTHROW(QuantizedTable::quantize(odd, Storage::int8));
  REQUIRE_NOTHROW(QuantizedTable::quantize(odd, Storage::float16));

  REQUIRE_THROWS_WITH(QuantizedTable::quantize(Matrix<float>(0, 4), Storage::int8),
                      Catch::Contains("num_embeddings must be positive"));

  Matrix<float> bad = random_weight(3, 8, 3);
  bad(1, 2) = std::numeric_limits<float>::quiet_NaN();
  REQUIRE_THROWS_WITH(QuantizedTable::quantize(bad, Storage::int8),
                      Catch::Contains("row 1 holds") && Catch::Contains("column 2") &&
                          Catch::Contains("int8 needs finite values"));
  bad(1, 2) = std::numeric_limits<float>::infinity();
  REQUIRE_THROWS_AS(QuantizedTable::quantize(bad, Storage::int4), std::invalid_argument);
  // float16/bfloat16 store non-finite values as they are.
  CHECK(std::isinf(QuantizedTable::quantize(bad, Storage::float16).dequantize()(1, 2)));

  Matrix<float> wide = random_weight(2, 4, 4);
  wide(0, 0) = -3e38f;
  wide(0, 1) = 3e38f;
  REQUIRE_THROWS_WITH(QuantizedTable::quantize(wide, Storage::int8),
                      Catch::Contains("row 0's range does not fit int8's float32 scale"));
  wide(0, 1) = 0;
  wide(0, 0) = -70000.0f;  // beyond float16
  REQUIRE_THROWS_WITH(QuantizedTable::quantize(wide, Storage::int4),
                      Catch::Contains("row 0's range does not fit int4's float16 scale"));
  REQUIRE_NOTHROW(QuantizedTable::quantize(wide, Storage::int8));

  REQUIRE_THROWS_WITH(QuantizedTable::quantize(six, static_cast<Storage>(17)),
                      "emb::QuantizedTable::quantize: unknown storage 17");
}

TEST_CASE("dequantize is exact for doubles rounded to float first", "[quantized]") {
  const Matrix<float> weight = random_weight(5, 12, 9, 0.01f);
  const Matrix<double> as_double = weight.cast<double>();
  for (Storage storage : all_storages) {
    const auto a = QuantizedTable::quantize(weight, storage);
    const auto b = QuantizedTable::quantize(as_double, storage);
    REQUIRE(std::equal(a.bytes().begin(), a.bytes().end(), b.bytes().begin(), b.bytes().end()));
  }
}

TEST_CASE("from_bytes looks up from memory it does not own, after checking its size",
          "[quantized][bytes]") {
  const Matrix<float> weight = random_weight(4, 20, 5);
  for (Storage storage : {Storage::float32, Storage::float16, Storage::int8, Storage::int4}) {
    const auto table = QuantizedTable::quantize(weight, storage);
    auto buffer =
        std::make_shared<std::vector<std::uint8_t>>(table.bytes().begin(), table.bytes().end());
    const std::span<const std::uint8_t> bytes(*buffer);
    const auto view = QuantizedTable::from_bytes(buffer, bytes, 4, 20, storage);
    REQUIRE(view.bytes().data() == buffer->data());
    REQUIRE(view.dequantize() == table.dequantize());
    buffer.reset();  // the table keeps it alive
    REQUIRE(view.dequantize() == table.dequantize());

    REQUIRE_THROWS_WITH(
        QuantizedTable::from_bytes(nullptr, bytes.first(bytes.size() - 1), 4, 20, storage),
        Catch::Contains("emb::QuantizedTable::from_bytes: ") &&
            Catch::Contains("bytes do not hold 4 rows"));
    REQUIRE_THROWS_AS(QuantizedTable::from_bytes(nullptr, bytes, 5, 20, storage),
                      std::invalid_argument);
    REQUIRE_THROWS_AS(QuantizedTable::from_bytes(nullptr, bytes, 4, 20, Storage::int2),
                      std::invalid_argument);
  }
  std::vector<std::uint8_t> raw(4 * 20 * 4 + 1);
  REQUIRE_THROWS_WITH(
      QuantizedTable::from_bytes(nullptr, std::span<const std::uint8_t>(raw).subspan(1), 4, 20,
                                 Storage::float32),
      Catch::Contains("4-byte aligned"));
}

TEST_CASE("quantized checkpoints load back exactly and refuse bad records unchanged",
          "[quantized][checkpoint]") {
  const Matrix<float> weight = random_weight(6, 12, 7, 2.0f);
  const auto table = QuantizedTable::quantize(weight, Storage::int4);
  std::stringstream stream;
  table.save(stream);
  const std::string record = stream.str();

  QuantizedTable loaded(6, 12, Storage::int4);
  REQUIRE(loaded.dequantize() == Matrix<float>::Zero(6, 12));
  std::istringstream in(record);
  loaded.load(in);
  REQUIRE(std::equal(loaded.bytes().begin(), loaded.bytes().end(), table.bytes().begin(),
                     table.bytes().end()));

  auto refused = [&](const std::string& bytes, QuantizedTable& target, const char* message) {
    const std::vector<std::uint8_t> before(target.bytes().begin(), target.bytes().end());
    std::istringstream bad(bytes);
    REQUIRE_THROWS_WITH(target.load(bad), Catch::Contains(message));
    REQUIRE(std::equal(before.begin(), before.end(), target.bytes().begin(), target.bytes().end()));
  };
  QuantizedTable target(6, 12, Storage::int4);
  refused(record.substr(0, record.size() - 9), target, "truncated checkpoint");
  std::string flipped = record;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x10);
  refused(flipped, target, "checksum mismatch");
  QuantizedTable other_storage(6, 12, Storage::int8);
  refused(record, other_storage, "holds int4 rows, not int8");
  QuantizedTable other_shape(6, 16, Storage::int4);
  refused(record, other_shape, "holds a (6, 12) table where (6, 16) is needed");

  // Through emb::save_checkpoint / load_checkpoint, all or nothing with other objects.
  emb::test::TempDir dir;
  const auto int8 = QuantizedTable::quantize(weight, Storage::int8);
  emb::save_checkpoint(dir / "q.ckpt", table, int8);
  QuantizedTable a(6, 12, Storage::int4), b(6, 12, Storage::int8);
  emb::load_checkpoint(dir / "q.ckpt", a, b);
  REQUIRE(a.dequantize() == table.dequantize());
  REQUIRE(b.dequantize() == int8.dequantize());
  QuantizedTable c(6, 12, Storage::int4), d(6, 12, Storage::int2);
  REQUIRE_THROWS_AS(emb::load_checkpoint(dir / "q.ckpt", c, d), std::runtime_error);
  REQUIRE(c.dequantize() == Matrix<float>::Zero(6, 12));
}

namespace {

emb::BagMode mode_named(const std::string& name) {
  return name == "sum"    ? emb::BagMode::sum
         : name == "mean" ? emb::BagMode::mean
                          : emb::BagMode::max;
}

// Pooled outputs agree to float rounding: each element within 1e-5 of the largest magnitude a
// bag can add up (the entries' count times the table's largest value, times their weights).
void require_pooled_close(const Matrix<float>& got, const Matrix<double>& want, double scale,
                          const std::string& what) {
  INFO(what);
  REQUIRE(got.rows() == want.rows());
  REQUIRE(got.cols() == want.cols());
  for (Index i = 0; i < got.rows(); ++i) {
    for (Index j = 0; j < got.cols(); ++j) {
      if (!(std::abs(static_cast<double>(got(i, j)) - want(i, j)) <= 1e-5 * scale + 1e-6)) {
        FAIL(what << ": bag " << i << " column " << j << " is " << got(i, j) << ", want "
                  << want(i, j));
      }
    }
  }
}

}  // namespace

TEST_CASE(
    "quantized bags pool as PyTorch: sum as its fused kernels, every mode as "
    "F.embedding_bag over the dequantized table",
    "[quantized][bag][golden]") {
  const auto cases = emb::test::read_golden(
      emb::test::golden_path("EMB_GOLDEN_QUANTIZED", EMB_GOLDEN_DIR "/quantized.txt"));
  int fused = 0;
  for (const auto& c : cases) {
    if (!c.has("weight")) continue;
    const Matrix<float> weight = c.matrix("weight").cast<float>();
    const auto indices = c.ints("indices"), offsets = c.ints("offsets");
    std::vector<float> psw;
    if (c.has("per_sample_weights")) {
      for (double v : c.array("per_sample_weights").values) psw.push_back(static_cast<float>(v));
    }
    const emb::EmbeddingBagOptions options{
        .mode = mode_named(c.string("mode")),
        .padding_idx =
            c.has("padding_idx") ? std::optional<Index>(c.ints("padding_idx")[0]) : std::nullopt,
        .include_last_offset = c.scalar("include_last_offset") != 0};
    double largest = 1;
    for (float v : weight.reshaped()) largest = std::max(largest, std::abs(double{v}));
    double weights = 1;
    for (float v : psw) weights = std::max(weights, std::abs(double{v}));
    const double scale = largest * weights * static_cast<double>(indices.size() + 1);
    for (Storage storage : all_storages) {
      const std::string name = emb::detail::storage_name(storage);
      if (!c.has("ref_" + name)) continue;
      INFO(c.name << " " << name << " mode " << c.string("mode"));
      const emb::QuantizedEmbeddingBag bag(QuantizedTable::quantize(weight, storage), options);
      const Matrix<float> got = bag.forward(indices, offsets, psw);
      require_pooled_close(got, c.matrix("ref_" + name), scale, c.name + " " + name);
      if (c.has("fused_" + name)) {
        require_pooled_close(got, c.matrix("fused_" + name), scale, c.name + " fused " + name);
        ++fused;
      }
      // Embedding over the same table: the rows of dequantize(), exactly.
      const emb::QuantizedEmbedding lookup(QuantizedTable::quantize(weight, storage));
      const Matrix<float> rows = lookup.forward(indices);
      const Matrix<float> table = lookup.table().dequantize();
      for (std::size_t i = 0; i < indices.size(); ++i) {
        REQUIRE(rows.row(static_cast<Index>(i)) == table.row(indices[i]));
      }
    }
  }
  CHECK(fused > 0);
}

TEST_CASE("quantized lookups refuse bad input as the float tables do, naming themselves",
          "[quantized][bag][errors]") {
  const Matrix<float> weight = random_weight(10, 8, 11);
  const auto table = QuantizedTable::quantize(weight, Storage::int8);
  const emb::QuantizedEmbeddingBag bag(table, {.mode = emb::BagMode::mean});
  const std::vector<Index> ids{1, 2, 3};
  REQUIRE_THROWS_WITH(bag.forward(ids, std::vector<Index>{1}),
                      "emb::QuantizedEmbeddingBag::forward: offsets[0] is 1 but must be 0");
  REQUIRE_THROWS_AS(bag.forward(ids, std::vector<Index>{0, 4}), std::out_of_range);
  REQUIRE_THROWS_WITH(bag.forward(std::vector<Index>{1, 10}, std::vector<Index>{0}),
                      "emb::QuantizedEmbeddingBag::forward: index 10 at position 1 is out of "
                      "range [0, 10)");
  const std::vector<float> psw{1, 2, 3};
  REQUIRE_THROWS_WITH(bag.forward(ids, std::vector<Index>{0}, psw),
                      Catch::Contains("per_sample_weights is only supported with mode sum"));
  const emb::QuantizedEmbeddingBag sum(table, {.mode = emb::BagMode::sum});
  REQUIRE_THROWS_WITH(sum.forward(ids, std::vector<Index>{0}, std::vector<float>{1, 2}),
                      Catch::Contains("per_sample_weights has 2 entries but there are 3 indices"));
  Matrix<float> out(2, 8);
  REQUIRE_THROWS_WITH(sum.forward(ids, std::vector<Index>{0}, {}, out),
                      Catch::Contains("out has shape (2, 8) but (1, 8) is needed"));
  REQUIRE_THROWS_WITH(sum.forward_with_lengths(ids, std::vector<Index>{1, 1}),
                      "emb::QuantizedEmbeddingBag::forward_with_lengths: lengths sum to 2 but "
                      "there are 3 indices");
  const emb::QuantizedEmbeddingBag last(table,
                                        {.mode = emb::BagMode::sum, .include_last_offset = true});
  REQUIRE_THROWS_WITH(last.forward(ids, std::vector<Index>{}),
                      Catch::Contains("include_last_offset needs at least one offset"));

  REQUIRE_THROWS_AS(emb::QuantizedEmbeddingBag(table, {.padding_idx = 10}), std::out_of_range);
  REQUIRE_THROWS_WITH(emb::QuantizedEmbeddingBag(table, {.max_norm = 1.0}),
                      Catch::Contains("emb::QuantizedEmbeddingBag: max_norm renorms rows"));
  REQUIRE_THROWS_WITH(
      emb::QuantizedEmbeddingBag(table, {.mode = emb::BagMode::max, .scale_grad_by_freq = true}),
      Catch::Contains("scale_grad_by_freq is not supported with mode max"));
  REQUIRE_THROWS_WITH(emb::QuantizedEmbedding(table, {.max_norm = 1.0}),
                      Catch::Contains("emb::QuantizedEmbedding: max_norm renorms rows"));
  const emb::QuantizedEmbedding lookup(table, {.padding_idx = -1});
  REQUIRE(lookup.padding_idx() == 9);
  REQUIRE_THROWS_WITH(lookup.forward(std::vector<Index>{0, -1}),
                      "emb::QuantizedEmbedding::forward: index -1 at position 1 is out of range "
                      "[0, 10)");
  Matrix<float> rows(3, 7);
  REQUIRE_THROWS_WITH(lookup.forward(ids, rows),
                      Catch::Contains("out has shape (3, 7) but (3, 8) is needed"));
}

TEST_CASE("quantized bags take every bag form and keep the padding row out", "[quantized][bag]") {
  const Matrix<float> weight = random_weight(9, 12, 13);
  const auto table = QuantizedTable::quantize(weight, Storage::int4);
  const Matrix<float> rows = table.dequantize();
  const emb::QuantizedEmbeddingBag bag(table, {.mode = emb::BagMode::mean, .padding_idx = 2});
  const std::vector<Index> ids{4, 2, 7, 7, 1, 2};
  const Matrix<float> by_offsets = bag.forward(ids, std::vector<std::int32_t>{0, 3, 3});
  REQUIRE(by_offsets.rows() == 3);
  CHECK(by_offsets.row(0).isApprox((rows.row(4) + rows.row(7)) / 2));
  CHECK(by_offsets.row(1).isZero());  // empty
  CHECK(by_offsets.row(2).isApprox((rows.row(7) + rows.row(1)) / 2));
  REQUIRE(bag.forward_with_lengths(ids, std::vector<Index>{3, 0, 3}) == by_offsets);
  Eigen::Tensor<Index, 2, Eigen::RowMajor> batch(2, 3);
  for (Index i = 0; i < 6; ++i) batch.data()[i] = ids[static_cast<std::size_t>(i)];
  const Matrix<float> by_batch = bag.forward(batch);
  CHECK(by_batch.row(0) == by_offsets.row(0));
  CHECK(by_batch.row(1) == by_offsets.row(2));
  Matrix<float> out(3, 12);
  bag.forward(ids, std::vector<Index>{0, 3, 3}, {}, out);
  CHECK(out == by_offsets);
}

TEST_CASE("quantize from a trained table keeps its options and applies max_norm",
          "[quantized][bag]") {
  emb::Embedding<double> trained(20, 6, {.padding_idx = 0, .max_norm = 1.5, .seed = 3});
  const auto served = emb::QuantizedEmbedding::quantize(trained, Storage::float32);
  REQUIRE(served.padding_idx() == 0);
  const std::vector<Index> ids{3, 5, 5, 19};
  // The trained table renorms the rows it looks up; the served one was renormed whole.
  const Matrix<double> want = trained.forward(ids);
  REQUIRE(served.forward(ids) == want.cast<float>());

  emb::EmbeddingBag<float> bag(
      30, 8, {.mode = emb::BagMode::max, .padding_idx = 4, .include_last_offset = true, .seed = 5});
  const auto q = emb::QuantizedEmbeddingBag::quantize(bag, Storage::bfloat16);
  CHECK(q.mode() == emb::BagMode::max);
  CHECK(q.padding_idx() == 4);
  CHECK(q.include_last_offset());
  CHECK(q.storage() == Storage::bfloat16);
  const std::vector<Index> bag_ids{1, 4, 9, 4}, offsets{0, 2, 4};
  const Matrix<float> got = q.forward(bag_ids, offsets);
  const Matrix<float> rows = q.table().dequantize();
  CHECK(got.row(0) == rows.row(1));
  CHECK(got.row(1) == rows.row(9));
}

TEST_CASE("quantized bags pool the same on one thread and on several", "[quantized][bag]") {
  const Matrix<float> weight = random_weight(500, 64, 17);
  const std::vector<Index> ids = [] {
    std::mt19937 gen(19);
    std::uniform_int_distribution<Index> pick(0, 499);
    std::vector<Index> v(256 * 8);
    for (auto& i : v) i = pick(gen);
    return v;
  }();
  std::vector<Index> offsets;
  for (Index b = 0; b < 256; ++b) offsets.push_back(b * 8);
  for (auto mode : {emb::BagMode::sum, emb::BagMode::mean, emb::BagMode::max}) {
    const emb::QuantizedEmbeddingBag bag(QuantizedTable::quantize(weight, Storage::int4),
                                         {.mode = mode});
#if defined(_OPENMP)
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    const Matrix<float> one = bag.forward(ids, offsets);
    omp_set_num_threads(std::max(2, threads));
    const Matrix<float> several = bag.forward(ids, offsets);
    omp_set_num_threads(threads);
    REQUIRE(one == several);
#else
    REQUIRE(bag.forward(ids, offsets) == bag.forward(ids, offsets));
#endif
  }
}

TEST_CASE("storages have names that parse back", "[quantized]") {
  for (Storage storage : all_storages) {
    REQUIRE(emb::parse_storage(emb::to_string(storage)) == storage);
  }
  CHECK(emb::to_string(Storage::int4) == "int4");
  CHECK(!emb::parse_storage("int3"));
  CHECK(!emb::parse_storage("Int8"));
}
