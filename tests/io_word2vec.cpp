// emb::io word2vec files: the writer's exact bytes, its refusals, and round trips.

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <emb/io/file.hpp>
#include <emb/io/glove.hpp>
#include <emb/io/word2vec.hpp>

#include "support/temp_dir.hpp"

using emb::Matrix;

namespace {

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("save_word2vec writes the text format with shortest round-trip values",
          "[io][word2vec][save]") {
  emb::test::TempDir dir;
  const std::vector<std::string> words{"king", "queen", "\xc3\xb6"};
  Matrix<float> vectors(3, 2);
  vectors << 0.1f, -2.5f, 1e-8f, 3.0f, 0.0f, -0.25f;
  emb::io::save_word2vec(dir / "v.txt", words, vectors);
  CHECK(read_bytes(dir / "v.txt") == "3 2\nking 0.1 -2.5\nqueen 1e-08 3\n\xc3\xb6 0 -0.25\n");
  CHECK(dir.entries() == std::vector<std::string>{"v.txt"});  // no temporary left behind
}

TEST_CASE("save_word2vec writes the binary format as little-endian float32",
          "[io][word2vec][save]") {
  emb::test::TempDir dir;
  const std::vector<std::string> words{"a", "bc"};
  Matrix<double> vectors(2, 3);
  vectors << 1.0, -2.0, 0.5, 0.1, 0.2, 0.3;
  emb::io::save_word2vec(dir / "v.bin", words, vectors, emb::io::VectorFormat::word2vec_binary);
  const std::string bytes = read_bytes(dir / "v.bin");
  REQUIRE(bytes.size() == 4 + (2 + 12 + 1) + (3 + 12 + 1));  // header, "a ...\n", "bc ...\n"
  CHECK(bytes.substr(0, 6) == "2 3\na ");
  for (int row = 0; row < 2; ++row) {
    const std::size_t start = row == 0 ? 6 : 6 + 12 + 1 + 3;
    if (row == 1) CHECK(bytes.substr(start - 4, 4) == "\nbc ");
    for (int j = 0; j < 3; ++j) {
      float value = 0;
      std::memcpy(&value, bytes.data() + start + 4 * static_cast<std::size_t>(j), 4);
      CHECK(value == static_cast<float>(vectors(row, j)));
    }
  }
  CHECK(bytes.back() == '\n');
}

TEST_CASE("save_word2vec replaces an existing file whole", "[io][word2vec][save]") {
  emb::test::TempDir dir;
  {
    std::ofstream old(dir / "v.txt");
    old << "an old file that is longer than the new one, to show it is replaced, not overwritten";
  }
  const std::vector<std::string> words{"x"};
  emb::io::save_word2vec(dir / "v.txt", words, Matrix<float>::Constant(1, 1, 2.0f));
  CHECK(read_bytes(dir / "v.txt") == "1 1\nx 2\n");
}

TEST_CASE("save_word2vec refuses what it cannot write, before writing anything",
          "[io][word2vec][save][errors]") {
  emb::test::TempDir dir;
  const auto path = dir / "v.txt";
  const Matrix<float> two = Matrix<float>::Zero(2, 4);
  const std::vector<std::string> three{"a", "b", "c"};
  REQUIRE_THROWS_AS(emb::io::save_word2vec(path, three, two), std::invalid_argument);
  REQUIRE_THROWS_WITH(emb::io::save_word2vec(path, three, two),
                      "emb::io::save_word2vec: 3 words for 2 vectors; they must be equal");
  const std::vector<std::string> spaced{"a", "b c"};
  REQUIRE_THROWS_WITH(emb::io::save_word2vec(path, spaced, two),
                      Catch::Contains("word 1 (\"b c\") contains whitespace"));
  const std::vector<std::string> vertical_tab{"a\vb", "c"};  // whitespace to every reader
  REQUIRE_THROWS_WITH(emb::io::save_word2vec(path, vertical_tab, two),
                      Catch::Contains("word 0 (\"a\\x0bb\") contains whitespace"));
  const std::vector<std::string> empty_word{"", "b"};
  REQUIRE_THROWS_WITH(emb::io::save_word2vec(path, empty_word, two),
                      Catch::Contains("word 0 is empty"));
  const std::vector<std::string> twice{"a", "a"};
  REQUIRE_THROWS_WITH(emb::io::save_word2vec(path, twice, two),
                      Catch::Contains("word \"a\" appears twice"));
  const std::vector<std::string> none;
  REQUIRE_THROWS_AS(emb::io::save_word2vec(path, none, Matrix<float>(0, 4)), std::invalid_argument);
  CHECK(dir.entries().empty());

  const std::vector<std::string> ok{"a", "b"};
  REQUIRE_THROWS_AS(emb::io::save_word2vec(dir / "no-such-dir" / "v.txt", ok, two),
                    std::runtime_error);
  CHECK(dir.entries().empty());
}

// Run as it is, this checks what the writers leave behind; tests/durable_writes.cmake runs it
// under strace and checks the order of the calls: fsync of the temporary, rename, fsync of the
// directory.
TEST_CASE("every writer replaces its file through a temporary that leaves no trace",
          "[io][save][durable]") {
  emb::test::TempDir dir;
  const std::vector<std::string> words{"a", "b"};
  const Matrix<double> vectors = Matrix<double>::Identity(2, 3);
  emb::io::save_word2vec(dir / "v.txt", words, vectors);
  emb::io::save_word2vec(dir / "v.bin", words, vectors, emb::io::VectorFormat::word2vec_binary);
  emb::io::save_glove(dir / "v.glove", words, vectors);
  emb::io::write_file_atomically(dir / "notes.txt", "durable\n");
  CHECK(read_bytes(dir / "notes.txt") == "durable\n");
  CHECK(read_bytes(dir / "v.glove") == "a 1 0 0\nb 0 1 0\n");
  CHECK(dir.entries().size() == 4);  // no temporary left
}
