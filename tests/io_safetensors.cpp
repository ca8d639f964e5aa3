// emb::io safetensors files: files written by tests/golden/make_tensorfile_goldens.py (F64, F32,
// F16 from NumPy, BF16 from PyTorch), save_safetensors' bytes against that writer's, float16 and
// bfloat16 rounding, memory mapping, the vocabulary metadata, and every refusal of tensor.rs.
// The [.torch] case is run by tests/golden/tensorfiles_vs_torch.py.

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <emb/detail/float16.hpp>
#include <emb/detail/half.hpp>
#include <emb/embedding.hpp>
#include <emb/io/safetensors.hpp>
#include <emb/io/tensor_vectors.hpp>
#include <emb/quantized.hpp>
#include <emb/text/word_vectors.hpp>

#include "support/files.hpp"
#include "support/golden.hpp"
#include "support/temp_dir.hpp"

using Catch::Matchers::Contains;
using emb::Index;
using emb::Matrix;

using emb::test::read_bytes;
using emb::test::require_equal;
using emb::test::require_file_error;
using emb::test::write_bytes;

namespace {

const std::filesystem::path golden_dir = std::filesystem::path(EMB_GOLDEN_DIR) / "tensorfiles";
const std::filesystem::path tables = golden_dir / "tables.safetensors";

const emb::test::Case& golden_case(const std::string& name) {
  static const auto cases = emb::test::read_golden((golden_dir / "values.txt").string());
  for (const auto& c : cases) {
    if (c.name == name) return c;
  }
  throw std::runtime_error("no golden case " + name);
}

// A safetensors file: the 8-byte length, `header` as it is, then `data`.
std::string safetensors_file(const std::string& header, const std::string& data) {
  std::string bytes(8, '\0');
  for (std::size_t i = 0; i < 8; ++i) {
    bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  }
  return bytes + header + data;
}

}  // namespace

TEST_CASE("list_safetensors lists the tensors in data order with dtype, shape and place",
          "[io][safetensors]") {
  const auto infos = emb::io::list_safetensors(tables);
  REQUIRE(infos.size() == 6);
  // Written widest dtype first, then by name.
  const std::vector<std::string> names{"steps",  "table.f64",  "table.f32",
                                       "vector", "table.bf16", "table.f16"};
  const std::vector<std::string> dtypes{"I64", "F64", "F32", "F32", "BF16", "F16"};
  std::uint64_t position = 0;
  for (std::size_t i = 0; i < infos.size(); ++i) {
    CHECK(infos[i].name == names[i]);
    CHECK(infos[i].dtype == dtypes[i]);
    CHECK(infos[i].data_begin == position);
    position = infos[i].data_end;
  }
  CHECK(infos[0].shape == std::vector<Index>{3});
  CHECK(infos[1].shape == std::vector<Index>{3, 5});
  CHECK(infos[3].shape == std::vector<Index>{7});
  const auto metadata = emb::io::safetensors_metadata(tables);
  CHECK(metadata == std::map<std::string, std::string>{{"emb.vocabulary", "king\nqueen\nprince"},
                                                       {"format", "pt"}});
}

TEMPLATE_TEST_CASE("load_safetensors reads F64, F32, F16 and BF16 tensors exactly",
                   "[io][safetensors]", float, double) {
  for (const std::string name : {"table.f64", "table.f32", "table.f16", "table.bf16", "vector"}) {
    require_equal(emb::io::load_safetensors<TestType>(tables, name),
                  golden_case(name).matrix("values"), name);
  }
  CHECK(emb::io::load_safetensors<TestType>(tables, "vector").rows() == 1);
  require_file_error([] { emb::io::load_safetensors<TestType>(tables, "steps"); }, tables,
                     "tensor \"steps\" has dtype I64; emb reads F64, F32, F16 and BF16 tensors");
  require_file_error([] { emb::io::load_safetensors<TestType>(tables, "weight"); }, tables,
                     "no tensor named \"weight\" (the file has 6: \"steps\", \"table.f64\"");
}

TEST_CASE("float16 and bfloat16 round to nearest even from double, keeping subnormals",
          "[io][safetensors][float16]") {
  const auto& f16 = golden_case("float16");
  const auto values = f16.array("values").values;
  const auto bits = f16.ints("bits");
  for (std::size_t i = 0; i < values.size(); ++i) {
    INFO("float16 of " << values[i]);
    CHECK(emb::detail::double_to_half(values[i]) == bits[i]);
  }
  const auto& bf16 = golden_case("bfloat16");
  const auto bf_values = bf16.array("values").values;
  const auto bf_bits = bf16.ints("bits");
  for (std::size_t i = 0; i < bf_values.size(); ++i) {
    INFO("bfloat16 of " << bf_values[i]);
    CHECK(emb::detail::double_to_bfloat16(bf_values[i]) == bf_bits[i]);
  }
}

TEST_CASE("every float16 and bfloat16 value widens exactly and narrows back to itself",
          "[io][safetensors][float16]") {
  int mismatches = 0;
  for (std::uint32_t b = 0; b < 0x10000; ++b) {
    const auto bits = static_cast<std::uint16_t>(b);
    const float half = emb::detail::half_to_float(bits);
    const float brain = emb::detail::bfloat16_to_float(bits);
    if (std::isnan(half)) {
      mismatches += !std::isnan(static_cast<float>(
          emb::detail::half_to_float(emb::detail::double_to_half(static_cast<double>(half)))));
    } else {
      mismatches += emb::detail::double_to_half(static_cast<double>(half)) != bits;
    }
    if (!std::isnan(brain)) {
      mismatches += emb::detail::double_to_bfloat16(static_cast<double>(brain)) != bits;
    }
  }
  CHECK(mismatches == 0);
  // Spot values of the widening: the smallest subnormal, the largest finite, infinity.
  CHECK(emb::detail::half_to_float(0x0001) == std::ldexp(1.0f, -24));
  CHECK(emb::detail::half_to_float(0x7bff) == 65504.0f);
  CHECK(std::isinf(emb::detail::half_to_float(0xfc00)));
  CHECK(emb::detail::bfloat16_to_float(0x3f80) == 1.0f);
}

TEST_CASE("save_safetensors writes the bytes of the reference layout", "[io][safetensors][save]") {
  emb::test::TempDir dir;
  const Matrix<double> base = golden_case("table.f64").matrix("values");
  const Matrix<float> base32 = base.cast<float>();
  const Matrix<float> vector = golden_case("vector").matrix("values").cast<float>();
  const std::vector<std::string> words{"king", "queen", "prince"};
  emb::io::save_safetensors(
      dir / "out.safetensors",
      {{"vector", std::span<const float>(vector.data(), 7)},
       {"table.bf16", base32, "BF16"},
       {"table.f16", base32, "F16"},
       {"table.f64", base},
       {"table.f32", base32}},
      {{"format", "pt"}, {"emb.vocabulary", emb::io::encode_vocabulary(words)}});
  CHECK(read_bytes(dir / "out.safetensors") == read_bytes(golden_dir / "saved.safetensors"));
  CHECK(dir.entries() == std::vector<std::string>{"out.safetensors"});  // no temporary left
  const auto metadata = emb::io::safetensors_metadata(dir / "out.safetensors");
  CHECK(emb::io::decode_vocabulary(dir / "out.safetensors",
                                   metadata.at(std::string(emb::io::vocabulary_key))) == words);
}

TEMPLATE_TEST_CASE("save_safetensors round trips every dtype and pads the header to 8 bytes",
                   "[io][safetensors][save]", float, double) {
  emb::test::TempDir dir;
  Matrix<TestType> table(5, 3);
  for (Index i = 0; i < table.size(); ++i) {
    table.data()[i] = static_cast<TestType>(static_cast<double>(i) * 0.375 - 2.0);
  }
  for (const std::string dtype : {"F64", "F32", "F16", "BF16"}) {
    // Names of 1 to 8 bytes move the header's length through every remainder modulo 8.
    for (std::size_t length = dtype == "F32" ? 1 : 8; length <= 8; ++length) {
      const std::string name(length, 'w');
      emb::io::save_safetensors(dir / "t.safetensors", {{name, table, dtype}});
      const std::string bytes = read_bytes(dir / "t.safetensors");
      std::uint64_t header = 0;
      std::memcpy(&header, bytes.data(), 8);
      CHECK(header % 8 == 0);
      CHECK(bytes[8 + header - 1] != '\0');
      CHECK(emb::io::load_safetensors<TestType>(dir / "t.safetensors", name) == table);
    }
  }
}

TEST_CASE("load_safetensors reads a tensor larger than one copy block", "[io][safetensors]") {
  emb::test::TempDir dir;
  // 2,049 x 2,049 = 4,198,401 values: one block of 2^22 and a short second one.
  Matrix<float> big(2049, 2049);
  for (Index i = 0; i < big.size(); ++i) big.data()[i] = static_cast<float>(i % 1000) - 0.5f;
  emb::io::save_safetensors(dir / "big.safetensors", {{"f32", big}, {"bf16", big, "BF16"}});
  CHECK(emb::io::load_safetensors<float>(dir / "big.safetensors", "f32") == big);
  CHECK(emb::io::load_safetensors<float>(dir / "big.safetensors", "bf16") ==
        big.unaryExpr([](float v) {
          return emb::detail::bfloat16_to_float(emb::detail::double_to_bfloat16(v));
        }));
}

TEST_CASE("save_safetensors refuses bad tensors before writing anything",
          "[io][safetensors][save]") {
  emb::test::TempDir dir;
  const Matrix<float> table = Matrix<float>::Ones(2, 3);
  const auto path = dir / "t.safetensors";
  using emb::io::save_safetensors;
  CHECK_THROWS_WITH(save_safetensors(path, {{"a", table}, {"a", table}}),
                    Contains("two tensors are named \"a\""));
  CHECK_THROWS_WITH(save_safetensors(path, {{"__metadata__", table}}),
                    Contains("cannot be named \"__metadata__\""));
  CHECK_THROWS_WITH(save_safetensors(path, {{"", table}}), Contains("cannot be named \"\""));
  CHECK_THROWS_WITH(save_safetensors(path, {{"a", table, "I8"}}),
                    Contains("dtype \"I8\" is not F64, F32, F16 or BF16"));
  CHECK_THROWS_WITH(save_safetensors(path, {{"a\xff", table}}), Contains("not valid UTF-8"));
  CHECK_THROWS_WITH(save_safetensors(path, {{"a", table}}, {{"k", "\xc3"}}),
                    Contains("not valid UTF-8"));
  emb::io::NamedTensor wrong("a", table);
  wrong.shape = {4, 2};
  CHECK_THROWS_WITH(save_safetensors(path, {wrong}), Contains("has 6 values for a shape of 8"));
  CHECK_THROWS_AS(save_safetensors(path, {wrong}), std::invalid_argument);
  CHECK(dir.entries().empty());
  save_safetensors(path, {{"a", table}});
  require_file_error(
      [&] {
        save_safetensors(dir / "no" / "t.safetensors", {{"a", table}});
      },
      dir / "no" / "t.safetensors", "cannot open");
  CHECK(dir.entries() == std::vector<std::string>{"t.safetensors"});
}

TEMPLATE_TEST_CASE("map_safetensors maps a 2-D tensor of exactly T", "[io][safetensors][map]",
                   float, double) {
  emb::test::TempDir dir;
  Matrix<TestType> table(4, 6);
  for (Index i = 0; i < table.size(); ++i) table.data()[i] = static_cast<TestType>(i) / 4;
  const Matrix<float> other = Matrix<float>::Constant(1, 3, 2.0f);
  emb::io::save_safetensors(dir / "t.safetensors", {{"other", other, "F16"}, {"weight", table}});
  auto mapped = emb::io::map_safetensors<TestType>(dir / "t.safetensors", "weight");
  std::filesystem::remove(dir / "t.safetensors");  // the mapping keeps the pages
  CHECK(mapped.rows() == 4);
  CHECK(mapped.cols() == 6);
  CHECK(reinterpret_cast<std::uintptr_t>(mapped.data()) % alignof(TestType) == 0);
  CHECK(Matrix<TestType>(mapped.matrix()) == table);
}

TEST_CASE("map_safetensors refuses what it cannot map and says to use load_safetensors",
          "[io][safetensors][map]") {
  for (const std::string name : {"table.f16", "table.bf16", "table.f64", "vector", "steps"}) {
    require_file_error([&] { emb::io::map_safetensors<float>(tables, name); }, tables,
                       "use load_safetensors");
  }
  // An F32 tensor after one F16 value starts 2 bytes past an 8-byte boundary.
  emb::test::TempDir dir;
  const auto path = dir / "odd.safetensors";
  std::string data(2 + 8, '\0');
  const float values[2] = {1.5f, -2.0f};
  std::memcpy(data.data() + 2, values, 8);
  std::string header = R"({"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},)"
                       R"("w":{"dtype":"F32","shape":[1,2],"data_offsets":[2,10]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  write_bytes(path, safetensors_file(header, data));
  CHECK(emb::io::load_safetensors<float>(path, "w") == Matrix<float>{{1.5f, -2.0f}});
  require_file_error([&] { emb::io::map_safetensors<float>(path, "w"); }, path, "not aligned");
}

TEST_CASE("SafetensorsFile reads the header once and loads or maps any of its tensors",
          "[io][safetensors][file]") {
  emb::test::TempDir dir;
  Matrix<float> table(3, 4);
  for (Index i = 0; i < table.size(); ++i) table.data()[i] = static_cast<float>(i) - 5.5f;
  const std::vector<std::string> words{"a", "b", "c"};
  emb::io::save_safetensors(
      dir / "v.safetensors",
      {{std::string(emb::io::word_vectors_tensor), table}, {"half", table, "F16"}},
      {{std::string(emb::io::vocabulary_key), emb::io::encode_vocabulary(words)}});
  emb::MappedTable<float> mapped;
  {
    const emb::io::SafetensorsFile file(dir / "v.safetensors");
    CHECK(file.path() == dir / "v.safetensors");
    REQUIRE(file.tensors().size() == 2);
    CHECK(file.tensors()[0].name == "weight");  // F32 before F16
    CHECK(emb::io::decode_vocabulary(file.path(), file.metadata().at("emb.vocabulary")) == words);
    CHECK(file.load<double>("half") == table.cast<double>());
    CHECK(file.load<float>("weight") == table);
    mapped = file.map<float>("weight");
    require_file_error([&] { file.map<float>("half"); }, dir / "v.safetensors",
                       "emb::io::SafetensorsFile::map: ");
  }
  CHECK(Matrix<float>(mapped.matrix()) == table);  // the table keeps the mapping
  auto embedding = emb::Embedding<float>::from_mapped(mapped);
  CHECK(embedding.forward({2, 0, 2}) == table(std::vector<Index>{2, 0, 2}, Eigen::all));
  require_file_error([&] { emb::io::SafetensorsFile(dir / "missing"); }, dir / "missing",
                     "emb::io::SafetensorsFile: ");
}

TEST_CASE("load_safetensors refuses every truncation and extension of a file",
          "[io][safetensors][bad]") {
  emb::test::TempDir dir;
  const auto path = dir / "cut.safetensors";
  const std::string bytes = read_bytes(tables);
  // Every cut in the length and the start of the header, then one in 11, then the last bytes.
  for (std::size_t size = 0; size < bytes.size();
       size += size < 24 || size + 4 > bytes.size() ? 1u : 11u) {
    write_bytes(path, bytes.substr(0, size));
    INFO("cut to " << size << " bytes");
    REQUIRE_THROWS_AS(emb::io::list_safetensors(path), std::runtime_error);
    REQUIRE_THROWS_AS(emb::io::load_safetensors<float>(path, "table.f32"), std::runtime_error);
  }
  write_bytes(path, bytes + "polyglot");
  require_file_error([&] { emb::io::list_safetensors(path); }, path,
                     "8 bytes after the last tensor's data");
}

TEST_CASE("load_safetensors refuses every header the reference implementation refuses",
          "[io][safetensors][bad]") {
  emb::test::TempDir dir;
  const auto path = dir / "bad.safetensors";
  const auto check = [&](const std::string& bytes, const std::string& what) {
    write_bytes(path, bytes);
    require_file_error([&] { emb::io::load_safetensors<double>(path, "t"); }, path, what);
  };
  const std::string data16(16, '\0');
  const auto one = [](const std::string& dtype, const std::string& shape,
                      const std::string& offsets) {
    return R"({"t":{"dtype":)" + dtype + R"(,"shape":)" + shape + R"(,"data_offsets":)" + offsets +
           "}}";
  };
  check("", "too small for the 8-byte header length");
  check(std::string("\x10\0\0\0\0\0\0", 7), "too small");
  check(std::string("\xff\xff\xff\xff\xff\xff\xff\xff", 8) + "{}", "over the limit of 100000000");
  check(std::string("\x01\xe1\xf5\x05\0\0\0\0", 8) + "{}", "over the limit");  // 100,000,001
  check(std::string("\x40\0\0\0\0\0\0\0", 8) + "{}", "runs past the end of the file");
  check(safetensors_file("{\"t\xff\":{}}", ""), "not valid UTF-8");
  check(safetensors_file("{", ""), "the header is not JSON");
  check(safetensors_file("[1, 2]", ""), "not a JSON object");
  check(safetensors_file("{}", ""), "no tensor named \"t\" (the file has 0: )");
  check(safetensors_file(one("\"F32\"", "[2,2]", "[0,16]") + "\x1b[2J", data16),
        "not JSON: \"{\\\"t\\\"");
  check(safetensors_file(one("\"F32\"", "[2,2]", "[0,16]"), data16.substr(0, 14)),
        "truncated: the tensors need 16 bytes of data, the file has 14");
  check(safetensors_file(one("\"F32\"", "[2,2]", "[4,20]"), data16 + "1234"),
        "data_offsets [4, 20] do not follow the previous tensor's end 0");
  check(safetensors_file(one("\"F32\"", "[2,2]", "[16,0]"), data16), "no gap or overlap");
  check(safetensors_file(one("\"F32\"", "[2,2]", "[0,12]"), data16.substr(0, 12)),
        "its shape and dtype make 16 bytes but data_offsets hold 12");
  check(safetensors_file(one("\"F32\"", "[2,18446744073709551614]", "[0,16]"), data16),
        "overflows");
  check(safetensors_file(one("\"F32\"", "[2,9223372036854775807]", "[0,16]"), data16), "overflows");
  check(safetensors_file(one("\"F32\"", "[2,18446744073709551616]", "[0,16]"), data16),
        "other than non-negative integers");
  check(safetensors_file(one("\"F32\"", "[2,-2]", "[0,16]"), data16),
        "other than non-negative integers");
  check(safetensors_file(one("\"F32\"", "[2,2.0]", "[0,16]"), data16),
        "other than non-negative integers");
  check(safetensors_file(one("\"F32\"", "4", "[0,16]"), data16), "no shape array");
  check(safetensors_file(one("\"F128\"", "[2,2]", "[0,16]"), data16), "unknown dtype \"F128\"");
  check(safetensors_file(one("32", "[2,2]", "[0,16]"), data16), "no dtype string");
  check(safetensors_file(one("\"F32\"", "[2,2]", "[0,8,16]"), data16),
        "data_offsets is not a pair");
  check(safetensors_file(one("\"F4\"", "[3]", "[0,2]"), data16.substr(0, 2)),
        "does not fill whole bytes");
  check(safetensors_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("t":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                         data16),
        "the key \"t\" twice");
  check(safetensors_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("u":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                         data16.substr(0, 12)),
        "tensor \"u\": data_offsets [4, 12] do not follow the previous tensor's end 8");
  check(safetensors_file(R"({"__metadata__":{"k":1},"t":{"dtype":"F32","shape":[],)"
                         R"("data_offsets":[0,4]}})",
                         data16.substr(0, 4)),
        "__metadata__ value of \"k\" is not a string");
  check(safetensors_file(R"({"__metadata__":{"k":"a","k":"b"}})", ""), "the key \"k\" twice");
  check(safetensors_file(R"({"t":[1]})", ""), "not an object with dtype, shape and data_offsets");
  check(safetensors_file(one("\"F32\"", "[1,2,2]", "[0,16]"), data16), "3 dimensions");
}

TEST_CASE("load_safetensors accepts what the reference implementation accepts",
          "[io][safetensors]") {
  emb::test::TempDir dir;
  const auto path = dir / "ok.safetensors";
  // Whitespace around the JSON, unpadded headers, fields in any order, unknown fields, an empty
  // tensor, a scalar.
  const float values[3] = {0.5f, 1.5f, -3.0f};
  std::string data(12, '\0');
  std::memcpy(data.data(), values, 12);
  write_bytes(path, safetensors_file(
                        "\t\n{\"e\":{\"shape\":[0,4],\"dtype\":\"F32\",\"data_offsets\":[0,0]},"
                        "\"s\":{\"data_offsets\":[0,4],\"dtype\":\"F32\",\"shape\":[],\"x\":1},"
                        "\"t\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[4,12]}}\r ",
                        data));
  CHECK(emb::io::load_safetensors<float>(path, "t") == Matrix<float>{{1.5f, -3.0f}});
  CHECK(emb::io::load_safetensors<float>(path, "s") == Matrix<float>{{0.5f}});
  CHECK(emb::io::load_safetensors<float>(path, "e").rows() == 0);
  CHECK(emb::io::load_safetensors<float>(path, "e").cols() == 4);
  write_bytes(path, safetensors_file("{}", ""));
  CHECK(emb::io::list_safetensors(path).empty());
}

TEST_CASE("a vocabulary goes into metadata and comes back, and bad ones are refused",
          "[io][safetensors][vocabulary]") {
  const std::vector<std::string> words{"the", "caf\xc3\xa9", "of"};
  CHECK(emb::io::encode_vocabulary(words) == "the\ncaf\xc3\xa9\nof");
  CHECK(emb::io::decode_vocabulary("f", emb::io::encode_vocabulary(words)) == words);
  CHECK(emb::io::decode_vocabulary("f", "").empty());
  CHECK_THROWS_WITH(emb::io::encode_vocabulary(std::vector<std::string>{"a", "b\nc"}),
                    Contains("word 1 (\"b\\x0ac\") is empty or holds a line break"));
  CHECK_THROWS_AS(emb::io::encode_vocabulary(std::vector<std::string>{"a", ""}),
                  std::invalid_argument);
  CHECK_THROWS_WITH(emb::io::encode_vocabulary(std::vector<std::string>{"a", "b", "a"}),
                    Contains("the word \"a\" appears twice (again at 2)"));
  require_file_error([] { emb::io::decode_vocabulary("v.safetensors", "a\n\nb"); }, "v.safetensors",
                     "word 1 of the vocabulary is empty");
  require_file_error([] { emb::io::decode_vocabulary("v.safetensors", "a\nb\na"); },
                     "v.safetensors", "the word \"a\" twice");
  require_file_error([] { emb::io::decode_vocabulary("v.safetensors", "a\n"); }, "v.safetensors",
                     "word 1 of the vocabulary is empty");
}

TEMPLATE_TEST_CASE("word vectors go to .npy with a vocabulary file and come back",
                   "[io][tensor_vectors]", float, double) {
  emb::test::TempDir dir;
  const std::vector<std::string> words{"king", "queen", "caf\xc3\xa9", "of"};
  Matrix<TestType> vectors(4, 3);
  for (Index i = 0; i < vectors.size(); ++i) vectors.data()[i] = static_cast<TestType>(i) / 8;
  emb::io::save_npy_vectors<TestType>(dir / "v.npy", words, vectors);
  CHECK(dir.entries() == std::vector<std::string>{"v.npy", "v.vocab"});
  CHECK(read_bytes(dir / "v.vocab") == "king\nqueen\ncaf\xc3\xa9\nof\n");
  auto loaded = emb::io::load_tensor_vectors<TestType>(dir / "v.npy");
  CHECK(loaded.words == words);
  CHECK(loaded.vectors == vectors);
  // Another vocabulary file: Windows line ends, no last line end.
  write_bytes(dir / "words.txt", "a\r\nb\r\nc\r\nd");
  loaded = emb::io::load_tensor_vectors<TestType>(dir / "v.npy", {.vocabulary = dir / "words.txt"});
  CHECK(loaded.words == std::vector<std::string>{"a", "b", "c", "d"});
  const auto refused = [&](const std::string& vocabulary, const std::string& what) {
    write_bytes(dir / "words.txt", vocabulary);
    require_file_error(
        [&] {
          emb::io::load_tensor_vectors<TestType>(dir / "v.npy", {.vocabulary = dir / "words.txt"});
        },
        dir / "words.txt", what);
  };
  refused("a\nb\nc\n", "3 words for 4 rows of ");
  refused("a\nb\nc\nd\ne\n", "5 words for 4 rows of ");
  refused("a\nb\na\nd\n", "the vocabulary has the word \"a\" twice");
  refused("a\n\nc\nd\n", "line 2 is empty");
  std::filesystem::remove(dir / "v.vocab");
  require_file_error([&] { emb::io::load_tensor_vectors<TestType>(dir / "v.npy"); },
                     dir / "v.vocab", "cannot open");
  require_file_error(
      [&] { emb::io::load_tensor_vectors<TestType>(dir / "v.npy", {.tensor = "weight"}); },
      dir / "v.npy", "no tensor names");
  CHECK_THROWS_AS(emb::io::save_npy_vectors<TestType>(dir / "w.npy", {words.data(), 3}, vectors),
                  std::invalid_argument);
  CHECK_THROWS_AS(emb::io::save_npy_vectors<TestType>(
                      dir / "w.npy", std::vector<std::string>{"a", "b", "a", "c"}, vectors),
                  std::invalid_argument);
  CHECK(!std::filesystem::exists(dir / "w.npy"));
}

TEST_CASE("word vectors go to safetensors with their vocabulary inside and come back",
          "[io][tensor_vectors]") {
  emb::test::TempDir dir;
  const std::vector<std::string> words{"king", "queen", "of"};
  Matrix<float> vectors(3, 5);
  for (Index i = 0; i < vectors.size(); ++i) vectors.data()[i] = static_cast<float>(i) / 4;
  emb::io::save_safetensors_vectors(dir / "v.safetensors", words, vectors, "BF16");
  const auto infos = emb::io::list_safetensors(dir / "v.safetensors");
  REQUIRE(infos.size() == 1);
  CHECK(infos[0].name == "weight");
  CHECK(infos[0].dtype == "BF16");
  auto loaded = emb::io::load_tensor_vectors<float>(dir / "v.safetensors");
  CHECK(loaded.words == words);
  CHECK(loaded.vectors == vectors);  // quarters are exact in bfloat16
  // A file of someone else's: a named tensor, the words in a file beside it.
  emb::io::save_safetensors(dir / "m.safetensors", {{"emb.weight", vectors}, {"bias", vectors}});
  write_bytes(dir / "words.txt", "x\ny\nz\n");
  loaded = emb::io::load_tensor_vectors<float>(
      dir / "m.safetensors", {.vocabulary = dir / "words.txt", .tensor = "emb.weight"});
  CHECK(loaded.words == std::vector<std::string>{"x", "y", "z"});
  require_file_error([&] { emb::io::load_tensor_vectors<float>(dir / "m.safetensors"); },
                     dir / "m.safetensors", "no tensor named \"weight\"");
  require_file_error(
      [&] { emb::io::load_tensor_vectors<float>(dir / "m.safetensors", {.tensor = "bias"}); },
      dir / "m.safetensors", "no vocabulary");
}

// Run by tests/golden/tensorfiles_vs_torch.py with EMB_TENSORFILES_DIR set: table.safetensors
// holds a table trained in PyTorch (F32, BF16 and F16 copies), forward.txt PyTorch's forward of
// each; the file emb writes is checked bit for bit by the script.
TEST_CASE("a PyTorch table in safetensors gives PyTorch's forward, and emb's file loads there",
          "[.torch]") {
  const char* env = std::getenv("EMB_TENSORFILES_DIR");
  REQUIRE(env != nullptr);
  const std::filesystem::path dir(env);
  const auto cases = emb::test::read_golden((dir / "forward.txt").string());
  REQUIRE(cases.size() == 1);
  const auto& golden = cases[0];
  const std::vector<Index> indices = golden.ints("indices");
  for (const std::string name : {"weight", "weight_bf16", "weight_f16"}) {
    auto table = emb::Embedding<float>::from_pretrained(
        emb::io::load_safetensors<float>(dir / "table.safetensors", name));
    const std::string key = name == "weight" ? "output" : "output" + name.substr(6);
    require_equal(Matrix<float>(table.forward(indices)), golden.matrix(key), name);
  }
  auto mapped = emb::Embedding<float>::from_mapped(
      emb::io::map_safetensors<float>(dir / "table.safetensors", "weight"));
  require_equal(Matrix<float>(mapped.forward(indices)), golden.matrix("output"), "mapped");
  emb::Embedding<float> trained(23, 9, {.seed = 7});
  std::vector<std::string> words;
  for (Index i = 0; i < 23; ++i) words.push_back("w" + std::to_string(i));
  const Matrix<double> wide = trained.weight().cast<double>() / 3.0;
  emb::io::save_safetensors(
      dir / "emb_table.safetensors",
      {{"weight", trained.weight()},
       {"weight64", wide},
       {"weight_bf16", trained.weight(), "BF16"},
       {"weight_f16", trained.weight(), "F16"}},
      {{std::string(emb::io::vocabulary_key), emb::io::encode_vocabulary(words)}});
  std::ofstream expected(dir / "emb_table.txt");
  expected << std::hexfloat;
  for (Index i = 0; i < trained.weight().size(); ++i) {
    expected << trained.weight().data()[i] << ' ' << wide.data()[i] << '\n';
  }
}

// Long plain string values skip nlohmann/json's lexer (detail::take_long_strings); these headers
// mix them with short values, escaped long values, long keys and arrays, and the metadata must
// be what nlohmann/json alone reads.
TEST_CASE("long header strings read as nlohmann/json reads them, and bad headers still fail",
          "[io][safetensors]") {
  emb::test::TempDir dir;
  const std::string a(5000, 'a'), b = std::string(4500, 'b') + "\xc3\xa9";
  const std::string escaped = std::string(4200, 'c') + "\\\"\\\\\\n\\u00e9";
  const std::string simple = "d\\nd\\t\\/\\\"\\\\\\b\\f\\r" + std::string(4300, 'd') + "\\n";
  const std::string long_key(4100, 'k');
  const std::string tensor = R"("t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]})";
  // A tensor first, with a long string in an array the reader ignores: the taken values are
  // counted in document order, in arrays too.
  const std::string first = R"({"u": {"note": [")" + a + R"(", 3, "v"], "dtype": "F32", )" +
                            R"("shape": [0], "data_offsets": [0, 0]}, )";
  const std::string header = first + R"("__metadata__": {"x": "short", "a": ")" + a + R"(", ")" +
                             long_key + R"(": "v", "e": ")" + escaped + R"(", "b" : ")" + b +
                             R"(" , "y": "", "s": ")" + simple + R"("}, )" + tensor + "}";
  // Taken out of the parser's text: both copies of a, b and s; not e (a \u escape) nor the key.
  const auto taken = emb::io::detail::take_long_strings(header).taken;
  REQUIRE(taken.size() == 4);
  CHECK(taken[0].first == 0);  // the array's first value
  CHECK(taken[1].first == 4);  // after "v", "F32" and "short"
  write_bytes(dir / "long.safetensors", safetensors_file(header, std::string(4, '\0')));
  const auto metadata = emb::io::safetensors_metadata(dir / "long.safetensors");
  const auto want = nlohmann::json::parse(header)["__metadata__"];
  REQUIRE(metadata.size() == want.size());
  for (const auto& [key, value] : want.items()) {
    INFO(key.substr(0, 20));
    CHECK(metadata.at(key) == value.get<std::string>());
  }
  CHECK(metadata.at("a") == a);
  CHECK(metadata.at("b") == b);
  CHECK(metadata.at("e") == std::string(4200, 'c') + "\"\\\n\xc3\xa9");
  CHECK(metadata.at("s") == "d\nd\t/\"\\\b\f\r" + std::string(4300, 'd') + "\n");

  // A long value where a key or a comma should be: still not JSON.
  for (const std::string& bad :
       {R"({"__metadata__": {"a": ")" + a + R"(" "b": "c"}, )" + tensor + "}",
        R"({"__metadata__": {")" + a + R"(", "b"}, )" + tensor + "}",
        R"({"__metadata__": {"a": ")" + a + "\x01" + R"("}, )" + tensor + "}",
        R"({"__metadata__": {"a": ")" + a + R"(}, )" + tensor + "}",
        R"({"__metadata__": {"a": ")" + a + R"(\x"}, )" + tensor + "}",
        R"({"__metadata__": {"a": ")" + a + R"(\ud800"}, )" + tensor + "}"}) {
    write_bytes(dir / "bad.safetensors", safetensors_file(bad, std::string(4, '\0')));
    require_file_error([&] { emb::io::list_safetensors(dir / "bad.safetensors"); },
                       (dir / "bad.safetensors").string(), "the header is not JSON");
  }
}

TEST_CASE("open_tensor_vectors maps a float32 table and indexes a long vocabulary",
          "[io][safetensors][map]") {
  emb::test::TempDir dir;
  std::vector<std::string> words;
  for (int i = 0; i < 3000; ++i) words.push_back("w" + std::to_string(i * 7));
  Matrix<float> vectors(3000, 5);
  emb::detail::fill_normal(vectors.data(), vectors.size(), 3);
  emb::io::save_safetensors_vectors(dir / "v.safetensors", words, vectors);
  emb::io::save_safetensors_vectors(dir / "h.safetensors", words, vectors, "F16");
  const auto opened = emb::io::open_tensor_vectors<float>(dir / "v.safetensors");
  CHECK(std::equal(words.begin(), words.end(), opened.vocabulary.words().begin(),
                   opened.vocabulary.words().end()));
  CHECK(opened.vocabulary.index("w700") == 100);
  const auto& mapped = std::get<emb::MappedTable<float>>(opened.vectors);
  CHECK(mapped.matrix() == vectors);
  // float16 and bfloat16 are mapped as compressed tables of that storage (the same row layout),
  // which answer as the table read and converted to float, bit for bit.
  for (const std::string dtype : {"F16", "BF16"}) {
    INFO(dtype);
    emb::io::save_safetensors_vectors(dir / "h.safetensors", words, vectors, dtype);
    const auto converted = emb::io::load_tensor_vectors<float>(dir / "h.safetensors");
    auto half = emb::io::open_tensor_vectors<float>(dir / "h.safetensors");
    const auto& table = std::get<emb::QuantizedTable>(half.vectors);
    CHECK(table.storage() == (dtype == "F16" ? emb::Storage::float16 : emb::Storage::bfloat16));
    CHECK(table.dequantize() == converted.vectors);
    const emb::WordVectors<float> from_file(half.vocabulary, table);
    const emb::WordVectors<float> read(emb::Vocabulary(converted.words), converted.vectors);
    const auto a = from_file.similar("w70", 5), b = read.similar("w70", 5);
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      CHECK(a[i].index == b[i].index);
      CHECK(a[i].similarity == b[i].similarity);
    }
    // Packing the mapped half table as its own storage keeps its rows; the first rows only.
    const auto same = emb::io::quantize_tensor_vectors(half, table.storage(), 100);
    CHECK(same.num_embeddings() == 100);
    CHECK(same.dequantize() == converted.vectors.topRows(100));
    CHECK(emb::io::quantize_tensor_vectors(half, emb::Storage::int8).dequantize() ==
          emb::QuantizedTable::quantize(converted.vectors, emb::Storage::int8).dequantize());
  }
  // A repeated word, said of the file.
  words[2999] = "w7";
  emb::io::save_npy<float>(dir / "v.npy", vectors);
  {
    std::ofstream out(dir / "v.vocab");
    for (const auto& w : words) out << w << '\n';
  }
  require_file_error([&] { emb::io::open_tensor_vectors<float>(dir / "v.npy"); },
                     (dir / "v.vocab").string(), "the word \"w7\" appears twice (rows 1 and 2999)");
}

// The long-string path against nlohmann/json alone, on random headers: long values of plain
// bytes, one-character escapes, \u escapes, invalid escapes, raw control bytes and stray quotes.
// Each header must be refused exactly when nlohmann/json refuses it, and otherwise give its
// metadata.
TEST_CASE("long header strings agree with nlohmann/json on random headers", "[io][safetensors]") {
  const auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  const auto pick = [&](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  const std::vector<std::string> pieces{"word", "\\n", "\\t", "\\\"", "\\\\",    "\\/",
                                        "\\b",  "\\f", "\\r", " ",    "\\u00e9", "\\ud83d\\ude00"};
  const std::vector<std::string> faults{"\\x", "\x01", "\"", "\\ud800", "\\u12"};
  const std::string tensor = R"("t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]})";
  int refused = 0, read = 0;
  for (int round = 0; round < 200; ++round) {
    std::string header = "{\"__metadata__\": {";
    const std::size_t values = 1 + pick(3);
    for (std::size_t v = 0; v < values; ++v) {
      std::string value;
      const std::size_t length = pick(2) ? 4096 + pick(600) : pick(50);
      while (value.size() < length) value += pieces[pick(pieces.size())];
      if (pick(4) == 0) value.insert(pick(value.size() + 1), faults[pick(faults.size())]);
      header += (v ? ", \"k" : "\"k") + std::to_string(v) + "\": \"" + value + "\"";
    }
    header += "}, " + tensor + "}";
    const std::string bytes = safetensors_file(header, std::string(4, '\0'));
    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    nlohmann::json want;
    try {
      want = nlohmann::json::parse(header);
    } catch (const nlohmann::json::exception&) {
      ++refused;
      CHECK_THROWS_WITH(
          emb::io::detail::read_safetensors_header("t", "h.safetensors", data, bytes.size()),
          Contains("the header is not JSON"));
      continue;
    }
    ++read;
    const auto got =
        emb::io::detail::read_safetensors_header("t", "h.safetensors", data, bytes.size());
    REQUIRE(got.metadata.size() == values);
    for (const auto& [key, value] : want["__metadata__"].items()) {
      CHECK(got.metadata.at(key) == value.get<std::string>());
    }
  }
  CHECK(refused > 10);
  CHECK(read > 10);
}

TEST_CASE("a compressed table is saved as its packed rows and mapped back as they are",
          "[io][safetensors][quantized]") {
  emb::test::TempDir dir;
  std::vector<std::string> words;
  for (int i = 0; i < 37; ++i) words.push_back("w" + std::to_string(i));
  Matrix<float> vectors(37, 12);
  emb::detail::fill_normal(vectors.data(), vectors.size(), 5);
  for (const auto storage : {emb::Storage::int8, emb::Storage::int4, emb::Storage::int2}) {
    INFO(emb::to_string(storage));
    const auto table = emb::QuantizedTable::quantize(vectors, storage);
    const auto path = dir / "q.safetensors";
    emb::io::save_safetensors_vectors(path, words, table);
    // One U8 tensor of shape [rows, row bytes] (what PyTorch's prepack returns), its storage in
    // the metadata beside the vocabulary.
    const auto listed = emb::io::list_safetensors(path);
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].dtype == "U8");
    CHECK(listed[0].shape ==
          std::vector<emb::Index>{37, static_cast<emb::Index>(table.row_bytes())});
    CHECK(emb::io::safetensors_metadata(path).at(emb::io::storage_key("weight")) ==
          emb::to_string(storage));

    const auto mapped = emb::io::map_packed_safetensors(path);
    CHECK(mapped.storage() == storage);
    CHECK(mapped.embedding_dim() == 12);
    CHECK(std::equal(mapped.bytes().begin(), mapped.bytes().end(), table.bytes().begin(),
                     table.bytes().end()));
    auto opened = emb::io::open_tensor_vectors<float>(path);
    const auto& packed = std::get<emb::QuantizedTable>(opened.vectors);
    CHECK(packed.dequantize() == table.dequantize());
    CHECK(opened.vocabulary.index("w36") == 36);
    // Read instead of mapped: the decoded values.
    CHECK(emb::io::load_tensor_vectors<double>(path).vectors == table.dequantize().cast<double>());
    // Packing it again as its own storage keeps its rows.
    CHECK(emb::io::quantize_tensor_vectors(opened, storage).dequantize() == table.dequantize());
  }
  // float16 and bfloat16 tables go as F16 and BF16 tensors holding exactly their values.
  for (const auto storage : {emb::Storage::float16, emb::Storage::bfloat16}) {
    const auto table = emb::QuantizedTable::quantize(vectors, storage);
    emb::io::save_safetensors_vectors(dir / "h.safetensors", words, table);
    const auto opened = emb::io::open_tensor_vectors<float>(dir / "h.safetensors");
    const auto& packed = std::get<emb::QuantizedTable>(opened.vectors);
    CHECK(packed.storage() == storage);
    CHECK(packed.dequantize() == table.dequantize());
  }
}

TEST_CASE("packed rows with a wrong storage or shape are refused, naming the file",
          "[io][safetensors][quantized]") {
  emb::test::TempDir dir;
  const auto path = dir / "bad.safetensors";
  const std::vector<std::uint8_t> bytes(3 * 10, 7);
  const auto save = [&](emb::Index cols, const std::string& storage) {
    emb::io::save_safetensors(path, {{"weight", bytes, 3, cols}},
                              {{"emb.vocabulary", "a\nb\nc"}, {"emb.storage.weight", storage}});
  };
  save(10, "int3");
  CHECK_THROWS_WITH(emb::io::map_packed_safetensors(path),
                    Catch::Contains("bad.safetensors") && Catch::Contains("\"int3\"") &&
                        Catch::Contains("int8, int4 or int2"));
  CHECK_THROWS_AS(emb::io::open_tensor_vectors<float>(path), std::runtime_error);
  save(10, "float16");
  CHECK_THROWS_WITH(emb::io::map_packed_safetensors(path), Catch::Contains("int8, int4 or int2"));
  // 10 bytes are an int8 row of 2 values and an int4 row of 12; an int8 row needs more than 8.
  save(10, "int8");
  CHECK(emb::io::map_packed_safetensors(path).embedding_dim() == 2);
  save(10, "int4");
  CHECK(emb::io::map_packed_safetensors(path).embedding_dim() == 12);
  emb::io::save_safetensors(path, {{"weight", bytes, 5, 6}},
                            {{"emb.vocabulary", "a\nb\nc\nd\ne"}, {"emb.storage.weight", "int8"}});
  CHECK_THROWS_WITH(emb::io::map_packed_safetensors(path),
                    Catch::Contains("bad.safetensors") && Catch::Contains("holds no rows of int8"));
  CHECK_THROWS_AS(emb::io::open_tensor_vectors<float>(path), std::runtime_error);
  // Without the storage, bytes are not a table of numbers, and saying so names the tensor.
  emb::io::save_safetensors(path, {{"weight", bytes, 3, 10}});
  CHECK_THROWS_WITH(emb::io::map_packed_safetensors(path),
                    Catch::Contains("not packed rows") && Catch::Contains("emb.storage.weight"));
  // The writer keeps bytes and U8 together.
  const Matrix<float> m = Matrix<float>::Zero(2, 2);
  CHECK_THROWS_AS(emb::io::save_safetensors(path, {{"weight", m, "U8"}}), std::invalid_argument);
}
