// emb::io .npy files: NumPy's own files in every version, byte order, float size and memory
// order (tests/golden/make_tensorfile_goldens.py), save_npy's bytes against numpy.save's, memory
// mapping, and the refusals of bad files. The [.torch] case is run by
// tests/golden/tensorfiles_vs_torch.py.

#include <sys/stat.h>  // mkfifo

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <emb/detail/mapped_file.hpp>
#include <emb/embedding.hpp>
#include <emb/embedding_bag.hpp>
#include <emb/io/npy.hpp>

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

Matrix<double> golden_values(const std::string& name) {
  static const auto cases = emb::test::read_golden((golden_dir / "values.txt").string());
  for (const auto& c : cases) {
    if (c.name == name) return c.matrix("values");
  }
  throw std::runtime_error("no golden case " + name);
}

// A .npy file of the given version whose header dict is `dict`, padded as numpy pads it.
std::string npy_file(const std::string& dict, int version = 1, const std::string& data = {}) {
  std::string header = dict;
  const std::size_t start = version == 1 ? 10 : 12;
  header.append(63 - (start + header.size()) % 64, ' ');
  header += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += static_cast<char>(version), bytes += '\0';
  bytes += static_cast<char>(header.size() & 0xff), bytes += static_cast<char>(header.size() >> 8);
  if (version != 1) bytes += std::string(2, '\0');
  return bytes + header + data;
}

std::string floats(std::initializer_list<float> values) {
  std::string bytes(values.size() * 4, '\0');
  std::memcpy(bytes.data(), values.begin(), bytes.size());
  return bytes;
}

}  // namespace

TEMPLATE_TEST_CASE("load_npy reads every version, byte order and float size NumPy writes",
                   "[io][npy]", float, double) {
  const int version = GENERATE(1, 2, 3);
  const std::string order = GENERATE("le", "be");
  const int size = GENERATE(2, 4, 8);
  const std::string name =
      "v" + std::to_string(version) + "_" + order + "_f" + std::to_string(size) + ".npy";
  require_equal(emb::io::load_npy<TestType>(golden_dir / name), golden_values(name), name);
}

TEMPLATE_TEST_CASE("load_npy reads Fortran order, 1-D and 0-d arrays as numpy.atleast_2d does",
                   "[io][npy]", float, double) {
  for (const std::string name :
       {"fortran_f4.npy", "fortran_be_f8.npy", "vector_f8.npy", "scalar_f4.npy"}) {
    require_equal(emb::io::load_npy<TestType>(golden_dir / name), golden_values(name), name);
  }
  CHECK(emb::io::load_npy<TestType>(golden_dir / "vector_f8.npy").rows() == 1);
}

TEST_CASE("load_npy reads the first of several arrays appended to one file", "[io][npy]") {
  require_equal(emb::io::load_npy<float>(golden_dir / "two_arrays.npy"),
                golden_values("two_arrays.npy"), "two_arrays.npy");
}

TEST_CASE("save_npy writes the bytes numpy.save writes", "[io][npy][save]") {
  emb::test::TempDir dir;
  const Matrix<double> base = golden_values("v1_le_f8.npy");
  emb::io::save_npy<double>(dir / "f8.npy", base);
  CHECK(read_bytes(dir / "f8.npy") == read_bytes(golden_dir / "save_f8.npy"));
  emb::io::save_npy<float>(dir / "f4.npy", base.cast<float>());
  CHECK(read_bytes(dir / "f4.npy") == read_bytes(golden_dir / "save_f4.npy"));
  CHECK(dir.entries() == std::vector<std::string>{"f4.npy", "f8.npy"});  // no temporary left
}

TEST_CASE("save_npy writes a strided block and headers of every length, and load_npy reads them",
          "[io][npy][save]") {
  emb::test::TempDir dir;
  Matrix<float> big(7, 130);
  for (Index i = 0; i < big.size(); ++i) big.data()[i] = static_cast<float>(i) * 0.25f - 3.0f;
  // Column counts of 1 to 3 digits change the header's length; the padding keeps it aligned.
  for (const Index cols : {1, 3, 64, 129}) {
    const Matrix<float> part = big.block(2, 1, 5, cols);
    emb::io::save_npy<float>(dir / "block.npy", big.block(2, 1, 5, cols));
    const std::string bytes = read_bytes(dir / "block.npy");
    const std::size_t header = 10 + static_cast<unsigned char>(bytes[8]);
    CHECK(header % 64 == 0);
    CHECK(bytes.size() == header + 5 * static_cast<std::size_t>(cols) * 4);
    CHECK(emb::io::load_npy<float>(dir / "block.npy") == part);
  }
}

TEST_CASE("load_npy reads a table larger than one copy block", "[io][npy]") {
  emb::test::TempDir dir;
  // 2,049 x 2,049 = 4,198,401 values: one block of 2^22 and a short second one.
  Matrix<float> big(2049, 2049);
  for (Index i = 0; i < big.size(); ++i) big.data()[i] = static_cast<float>(i % 1000) - 0.5f;
  emb::io::save_npy<float>(dir / "big.npy", big);
  CHECK(emb::io::load_npy<float>(dir / "big.npy") == big);
  CHECK(emb::io::load_npy<double>(dir / "big.npy") == big.cast<double>());
}

TEST_CASE("save_npy replaces an existing file whole and leaves it when it cannot write",
          "[io][npy][save]") {
  emb::test::TempDir dir;
  Matrix<double> small(2, 3);
  small << 1, 2, 3, 4, 5, 6;
  emb::io::save_npy<double>(dir / "t.npy", Matrix<double>::Zero(40, 9));
  emb::io::save_npy<double>(dir / "t.npy", small);
  CHECK(emb::io::load_npy<double>(dir / "t.npy") == small);
  require_file_error([&] { emb::io::save_npy<double>(dir / "missing" / "t.npy", small); },
                     dir / "missing" / "t.npy", "cannot open");
  CHECK(dir.entries() == std::vector<std::string>{"t.npy"});
}

TEMPLATE_TEST_CASE("map_npy maps a C-order file of exactly T and reads the same rows",
                   "[io][npy][map]", float, double) {
  emb::test::TempDir dir;
  Matrix<TestType> table(6, 4);
  for (Index i = 0; i < table.size(); ++i) table.data()[i] = static_cast<TestType>(i) / 8;
  emb::io::save_npy<TestType>(dir / "t.npy", table);
  emb::MappedTable<TestType> mapped = emb::io::map_npy<TestType>(dir / "t.npy");
  CHECK(mapped.rows() == 6);
  CHECK(mapped.cols() == 4);
  CHECK(reinterpret_cast<std::uintptr_t>(mapped.data()) % 64 == 0);  // numpy's alignment
  // The mapping outlives the path: the table keeps the pages.
  std::filesystem::remove(dir / "t.npy");
  CHECK(Matrix<TestType>(mapped.matrix()) == table);
}

TEST_CASE("tables over a mapped .npy file look up what tables over the loaded one do",
          "[io][npy][map]") {
  emb::test::TempDir dir;
  Matrix<float> weight(11, 6);
  for (Index i = 0; i < weight.size(); ++i) weight.data()[i] = std::sin(static_cast<float>(i));
  emb::io::save_npy<float>(dir / "t.npy", weight);
  const std::vector<Index> ids{3, 0, 10, 3, 7, 2};
  const std::vector<Index> offsets{0, 2, 2, 5};
  auto mapped = emb::Embedding<float>::from_mapped(emb::io::map_npy<float>(dir / "t.npy"),
                                                   {.padding_idx = 7});
  auto loaded = emb::Embedding<float>::from_pretrained(emb::io::load_npy<float>(dir / "t.npy"),
                                                       {.padding_idx = 7});
  CHECK(mapped.forward(ids) == loaded.forward(ids));
  CHECK(mapped.lookup(ids) == weight(ids, Eigen::all));
  auto bag = emb::EmbeddingBag<float>::from_mapped(emb::io::map_npy<float>(dir / "t.npy"),
                                                   {.mode = emb::BagMode::max});
  auto loaded_bag = emb::EmbeddingBag<float>::from_pretrained(weight, {.mode = emb::BagMode::max});
  CHECK(bag.forward(ids, offsets).output == loaded_bag.forward(ids, offsets).output);
}

TEST_CASE("map_npy refuses what it cannot map and says to use load_npy", "[io][npy][map]") {
  for (const std::string name :
       {"v1_le_f2.npy", "v1_be_f4.npy", "fortran_f4.npy", "vector_f8.npy", "v1_le_f8.npy"}) {
    require_file_error([&] { emb::io::map_npy<float>(golden_dir / name); }, golden_dir / name,
                       "use load_npy");
  }
  require_file_error([&] { emb::io::map_npy<double>(golden_dir / "v1_le_f4.npy"); },
                     golden_dir / "v1_le_f4.npy", "the dtype is '<f4', not '<f8'");
  emb::test::TempDir dir;
  write_bytes(dir / "empty.npy",
              npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }"));
  CHECK(emb::io::load_npy<float>(dir / "empty.npy").rows() == 0);
  require_file_error([&] { emb::io::map_npy<float>(dir / "empty.npy"); }, dir / "empty.npy",
                     "the array is empty");
  // Data that does not start at a multiple of 4 (a hand-made header, not numpy's).
  std::string odd = npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }");
  odd.insert(odd.size() - 1, " ");
  odd[8] = static_cast<char>(odd[8] + 1);
  write_bytes(dir / "odd.npy", odd + floats({1.5f}));
  CHECK(emb::io::load_npy<float>(dir / "odd.npy")(0, 0) == 1.5f);
  require_file_error([&] { emb::io::map_npy<float>(dir / "odd.npy"); }, dir / "odd.npy",
                     "not aligned");
}

TEST_CASE("load_npy refuses every truncation of a file with an error naming it", "[io][npy][bad]") {
  emb::test::TempDir dir;
  for (const std::string name : {"v1_le_f4.npy", "v2_be_f8.npy", "v3_le_f2.npy"}) {
    const std::string bytes = read_bytes(golden_dir / name);
    // Every cut in the magic, version, length and start of the header, then one in 7, then the
    // last bytes of the data.
    for (std::size_t size = 0; size < bytes.size();
         size += size < 24 || size + 4 > bytes.size() ? 1u : 7u) {
      write_bytes(dir / "cut.npy", bytes.substr(0, size));
      INFO(name << " cut to " << size << " bytes");
      REQUIRE_THROWS_AS(emb::io::load_npy<float>(dir / "cut.npy"), std::runtime_error);
      REQUIRE_THROWS_AS(emb::io::map_npy<float>(dir / "cut.npy"), std::runtime_error);
    }
  }
}

TEST_CASE("load_npy refuses malformed headers with a one-line message naming the file",
          "[io][npy][bad]") {
  emb::test::TempDir dir;
  const auto path = dir / "bad.npy";
  const auto check = [&](const std::string& bytes, const std::string& what) {
    write_bytes(path, bytes);
    require_file_error([&] { emb::io::load_npy<double>(path); }, path, what);
  };
  const std::string data = floats({1, 2, 3, 4, 5, 6});
  const auto dict = [](const std::string& descr, const std::string& order,
                       const std::string& shape) {
    return "{'descr': " + descr + ", 'fortran_order': " + order + ", 'shape': " + shape + ", }";
  };
  check("", "not a .npy file");
  check("\x93NUMPY", "truncated in the header");
  check("P5\n3 2\n255\n", "not a .npy file");
  std::string v4 = npy_file(dict("'<f4'", "False", "(2, 3)"), 1, data);
  v4[6] = 4;
  check(v4, "format version 4.0 is not supported");
  std::string v11 = v4;
  v11[6] = 1, v11[7] = 1;
  check(v11, "format version 1.1 is not supported");
  std::string long_length = npy_file(dict("'<f4'", "False", "(2, 3)"), 2, data);
  long_length[11] = '\x7f';
  check(long_length, "runs past the end of the file");
  std::string short_length = npy_file(dict("'<f4'", "False", "(2, 3)"), 1, data);
  short_length[8] = 20;
  check(short_length, "bad header");
  check(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': '" +
                     std::string(10000, 'a') + "'}",
                 2, data),
        "over NumPy's limit of 10000");
  check(npy_file("[1, 2]"), "expected '{'");
  check(npy_file("{'descr': '<f4', 'fortran_order': False}", 1, data), "lacks 'shape'");
  check(npy_file(dict("'<f4'", "False", "(2, 3)") + "}"), "text after the header's dict");
  check(npy_file("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}"),
        "appears twice");
  check(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}"),
        "unexpected key \"extra\"");
  check(npy_file(dict("'<f4'", "False", "(2, -3)"), 1, data), "negative dimension");
  check(npy_file(dict("'<f4'", "False", "(6)"), 1, data), "shape is not a tuple");
  check(npy_file(dict("'<f4'", "False", "[2, 3]"), 1, data), "shape is not a tuple");
  check(npy_file(dict("'<f4'", "False", "(2.0, 3)"), 1, data), "not a tuple of ints");
  check(npy_file(dict("'<f4'", "False", "(99999999999999999999999, 3)"), 1, data),
        "dimension too large");
  check(npy_file(dict("'<f4'", "False", "(4294967296, 4294967296)"), 1, data), "size overflows");
  check(npy_file(dict("'<f4'", "False", "(3000000000, 3)"), 1, data),
        "truncated: the shape needs 36000000000 bytes");
  check(npy_file(dict("'<f4'", "0", "(2, 3)"), 1, data), "fortran_order is not True or False");
  check(npy_file(dict("'<i4'", "False", "(2, 3)"), 1, data), "dtype \"<i4\" is not supported");
  check(npy_file(dict("'|u1'", "False", "(2, 3)"), 1, data), "is not supported");
  check(npy_file(dict("[('a', '<f4')]", "False", "(2, 3)"), 1, data), "structured dtypes");
  check(npy_file(dict("'<f4'", "False", "(1, 2, 3)"), 1, data), "3 dimensions");
  check(npy_file(dict("'<f4'", "False", "(2, 3)"), 3, "").insert(20, "\xff"), "not valid UTF-8");
  check(npy_file(dict("'<f4'", "False", "(2, 3") + "\x1b[31m"), "}\\x1b[");
  check(npy_file(dict("'<f4", "False", "(2, 3)")), "bad header");
}

TEST_CASE("load_npy accepts the header forms numpy.load accepts", "[io][npy]") {
  emb::test::TempDir dir;
  const auto path = dir / "ok.npy";
  const std::string data = floats({1, 2, 3, 4, 5, 6});
  Matrix<float> want(2, 3);
  want << 1, 2, 3, 4, 5, 6;
  // Keys in any order, double quotes, no trailing comma, Python 2's long suffix (1.0 and 2.0).
  for (const std::string& dict :
       {std::string("{\"shape\": (2, 3), \"fortran_order\": False, \"descr\": \"<f4\"}"),
        std::string("{'descr':'<f4','fortran_order':False,'shape':(2L, 3L),}"),
        std::string("{ 'descr' : '<f4' ,\n 'fortran_order' : False , 'shape' : ( 2 , 3 , ) }")}) {
    INFO(dict);
    write_bytes(path, npy_file(dict, 1, data));
    CHECK(emb::io::load_npy<float>(path) == want);
  }
  write_bytes(path,
              npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3)}", 3, data));
  CHECK_THROWS_AS(emb::io::load_npy<float>(path), std::runtime_error);  // no 'L' in 3.0
}

TEST_CASE("MappedFile maps files and refuses what is not a readable regular file",
          "[io][mapped_file]") {
  emb::test::TempDir dir;
  write_bytes(dir / "empty", "");
  const emb::detail::MappedFile empty("test", dir / "empty");
  CHECK(empty.size() == 0);
  CHECK(empty.data() == nullptr);
  write_bytes(dir / "abc", "abc");
  const emb::detail::MappedFile abc("test", dir / "abc");
  REQUIRE(abc.size() == 3);
  CHECK(std::string(reinterpret_cast<const char*>(abc.data()), 3) == "abc");
  // Hints and releases change what is resident, never what is read.
  abc.advise(1, 100, emb::detail::MapAccess::sequential);
  abc.release(0, 3);
  empty.release(0, 10);
  CHECK(std::string(reinterpret_cast<const char*>(abc.data()), 3) == "abc");
  require_file_error([&] { emb::detail::MappedFile("test", dir / "missing"); }, dir / "missing",
                     "cannot open: No such file or directory");
  require_file_error([&] { emb::detail::MappedFile("test", dir.path()); }, dir.path(),
                     "not a regular file");
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);  // opening must not wait for a writer
  require_file_error([&] { emb::detail::MappedFile("test", dir / "fifo"); }, dir / "fifo",
                     "not a regular file");
  require_file_error([&] { emb::io::load_npy<float>(dir / "empty"); }, dir / "empty",
                     "not a .npy file");
}

// Run by tests/golden/tensorfiles_vs_torch.py with EMB_TENSORFILES_DIR set: table.npy is a
// table trained in PyTorch and saved with numpy.save, forward.txt PyTorch's forward of it; the
// table emb writes is checked bit for bit by the script in NumPy.
TEST_CASE("a table saved by numpy.save gives PyTorch's forward, and emb's file loads in NumPy",
          "[.torch]") {
  const char* env = std::getenv("EMB_TENSORFILES_DIR");
  REQUIRE(env != nullptr);
  const std::filesystem::path dir(env);
  const auto cases = emb::test::read_golden((dir / "forward.txt").string());
  REQUIRE(cases.size() == 1);
  const auto& golden = cases[0];
  const std::vector<Index> indices = golden.ints("indices");
  for (const std::string name : {"table_c.npy", "table_f.npy"}) {
    auto table = emb::Embedding<float>::from_pretrained(emb::io::load_npy<float>(dir / name));
    const Matrix<float> out = table.forward(indices);
    require_equal(out, golden.matrix("output"), name);
  }
  auto mapped = emb::Embedding<float>::from_mapped(emb::io::map_npy<float>(dir / "table_c.npy"));
  require_equal(Matrix<float>(mapped.forward(indices)), golden.matrix("output"), "mapped");
  emb::Embedding<float> trained(23, 9, {.seed = 7});
  emb::io::save_npy<float>(dir / "emb_table.npy", trained.weight());
  emb::io::save_npy<double>(dir / "emb_table64.npy", trained.weight().cast<double>() / 3.0);
  std::ofstream expected(dir / "emb_table.txt");
  expected << std::hexfloat;
  for (Index i = 0; i < trained.weight().size(); ++i) {
    expected << trained.weight().data()[i] << ' '
             << static_cast<double>(trained.weight().data()[i]) / 3.0 << '\n';
  }
}
