// emb::io readers: every format back from its writer, detection, limit, thread-count
// independence, and one test per kind of malformed input, each naming the file and the place.

#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>
#include <emb/detail/random.hpp>
#include <emb/detail/utf8.hpp>
#include <emb/io/glove.hpp>
#include <emb/io/load.hpp>
#include <emb/io/word2vec.hpp>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "support/temp_dir.hpp"

using emb::Index;
using emb::Matrix;
using emb::io::VectorFormat;

namespace {

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

std::vector<std::string> make_words(Index n) {
  std::vector<std::string> words;
  for (Index i = 0; i < n; ++i)
    words.push_back("w" + std::to_string(i) + (i % 7 == 0 ? "\xc3\xa9" : ""));
  return words;
}

Matrix<float> make_vectors(Index n, Index d, unsigned seed) {
  Matrix<float> m(n, d);
  emb::detail::fill_normal(m.data(), m.size(), seed);
  return m;
}

std::string float_bytes(std::initializer_list<float> values) {
  std::string out;
  for (const float v : values) out.append(reinterpret_cast<const char*>(&v), sizeof v);
  return out;
}

// Loads `bytes` as a file in `format` and returns the error message (empty when it loads).
std::string load_error(const std::string& bytes, VectorFormat format,
                       emb::io::LoadOptions options = {}) {
  emb::test::TempDir dir;
  write_bytes(dir / "bad.vec", bytes);
  options.format = format;
  try {
    (void)emb::io::load_vectors<float>(dir / "bad.vec", options);
  } catch (const std::runtime_error& error) {
    const std::string what = error.what();
    CHECK_THAT(what, Catch::Contains((dir / "bad.vec").string()));
    return what;
  }
  return {};
}

}  // namespace

TEMPLATE_TEST_CASE("every format reads back what its writer wrote", "[io][load]", float, double) {
  using T = TestType;
  emb::test::TempDir dir;
  const auto words = make_words(57);
  const Matrix<float> vectors = make_vectors(57, 13, 3);
  emb::io::save_word2vec(dir / "v.txt", words, vectors);
  emb::io::save_word2vec(dir / "v.bin", words, vectors, VectorFormat::word2vec_binary);
  emb::io::save_glove(dir / "v.glove", words, vectors);
  for (const auto& [name, format] : {std::pair{"v.txt", VectorFormat::word2vec},
                                     {"v.bin", VectorFormat::word2vec_binary},
                                     {"v.glove", VectorFormat::glove}}) {
    INFO(name);
    CHECK(emb::io::detect_format(dir / name) == format);
    const auto loaded = emb::io::load_vectors<T>(dir / name);
    CHECK(loaded.format == format);
    CHECK(loaded.words == words);
    // Text holds the shortest decimal that reads back as each float: exact as float; read as
    // double it is the nearest double to that decimal, which rounds back to the same float.
    CHECK(loaded.vectors.template cast<float>() == vectors);
    if (format == VectorFormat::word2vec_binary) CHECK(loaded.vectors == vectors.cast<T>());
    const auto named = emb::io::load_vectors<T>(dir / name, {.format = format});
    CHECK(named.vectors == loaded.vectors);
  }
}

TEST_CASE("limit loads the first words only, as gensim's limit", "[io][load][limit]") {
  emb::test::TempDir dir;
  const auto words = make_words(20);
  const Matrix<float> vectors = make_vectors(20, 4, 5);
  emb::io::save_word2vec(dir / "v.txt", words, vectors);
  emb::io::save_word2vec(dir / "v.bin", words, vectors, VectorFormat::word2vec_binary);
  emb::io::save_glove(dir / "v.glove", words, vectors);
  for (const char* name : {"v.txt", "v.bin", "v.glove"}) {
    INFO(name);
    const auto loaded = emb::io::load_vectors<float>(dir / name, {.limit = 6});
    CHECK(loaded.words == std::vector<std::string>(words.begin(), words.begin() + 6));
    CHECK(loaded.vectors == vectors.topRows(6));
    CHECK(emb::io::load_vectors<float>(dir / name, {.limit = 1000}).words.size() == 20);
    REQUIRE_THROWS_AS(emb::io::load_vectors<float>(dir / name, {.limit = 0}),
                      std::invalid_argument);
  }
}

TEST_CASE("large text files parse the same on one thread and on many", "[io][load][threads]") {
  emb::test::TempDir dir;
  // About 6 MB of text: several 1 MB blocks, each split among threads.
  const Index n = 12000, d = 40;
  const auto words = make_words(n);
  const Matrix<float> vectors = make_vectors(n, d, 9);
  emb::io::save_word2vec(dir / "v.txt", words, vectors);
  emb::io::save_glove(dir / "v.glove", words, vectors);
  REQUIRE(std::filesystem::file_size(dir / "v.txt") > (std::size_t{5} << 20));
  for (const char* name : {"v.txt", "v.glove"}) {
    const auto many = emb::io::load_vectors<float>(dir / name);
#if defined(_OPENMP)
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    const auto one = emb::io::load_vectors<float>(dir / name);
    omp_set_num_threads(threads);
    CHECK(one.vectors == many.vectors);
    CHECK(one.words == many.words);
#endif
    CHECK(many.words == words);
    CHECK(many.vectors == vectors);
  }
}

TEST_CASE("text readers accept what gensim accepts", "[io][load]") {
  // CRLF line ends, trailing spaces, '+' signs, exponents, tabs between values, blank lines at
  // the end, and a last line without '\n'.
  const auto a = [](const std::string& bytes, VectorFormat format) {
    emb::test::TempDir dir;
    write_bytes(dir / "v", bytes);
    return emb::io::load_vectors<double>(dir / "v", {.format = format});
  };
  const auto text = a("2 3\r\nx 1 +2.5 -3e-2 \r\ny\t4\t5\t6\n\n", VectorFormat::word2vec);
  CHECK(text.words == std::vector<std::string>{"x", "y"});
  CHECK(text.vectors(0, 1) == 2.5);
  CHECK(text.vectors(0, 2) == -3e-2);
  CHECK(text.vectors(1, 2) == 6);
  const auto glove = a("x 1 2\n\ny 3 4", VectorFormat::automatic);
  CHECK(glove.format == VectorFormat::glove);
  CHECK(glove.words == std::vector<std::string>{"x", "y"});
  CHECK(glove.vectors(1, 1) == 4);
  // Words are bytes: not UTF-8 is fine unless strict_utf8 is asked for.
  const auto latin1 = a("1 1\ncaf\xe9 0.5\n", VectorFormat::word2vec);
  CHECK(latin1.words[0] == "caf\xe9");
  // A binary file as gensim writes it: no '\n' after each vector.
  const auto binary =
      a("2 2\nab " + float_bytes({1, 2}) + "cd " + float_bytes({3, 4}), VectorFormat::automatic);
  CHECK(binary.format == VectorFormat::word2vec_binary);
  CHECK(binary.words == std::vector<std::string>{"ab", "cd"});
  CHECK(binary.vectors(1, 0) == 3);
}

TEST_CASE("malformed files throw, naming the file and the line or byte offset",
          "[io][load][errors]") {
  SECTION("empty file") {
    CHECK_THAT(load_error("", VectorFormat::automatic), Catch::Contains("the file is empty"));
    CHECK_THAT(load_error("", VectorFormat::word2vec), Catch::Contains("the file is empty"));
    CHECK_THAT(load_error("\n\n", VectorFormat::glove), Catch::Contains("the file is empty"));
    CHECK_THAT(load_error("", VectorFormat::word2vec_binary), Catch::Contains("the file is empty"));
  }
  SECTION("bad header") {
    CHECK_THAT(load_error("3\nx 1 2 3\n", VectorFormat::word2vec),
               Catch::Contains("line 1: bad header \"3\""));
    CHECK_THAT(load_error("2 x\n", VectorFormat::word2vec_binary),
               Catch::Contains("line 1: bad header"));
    CHECK_THAT(load_error("-2 3\nx 1 2 3\n", VectorFormat::word2vec),
               Catch::Contains("line 1: bad header"));
    CHECK_THAT(load_error("2 3 4\nx 1 2 3\n", VectorFormat::word2vec),
               Catch::Contains("line 1: bad header"));
    CHECK_THAT(load_error(": section\n", VectorFormat::automatic),
               Catch::Contains("line 1:") && Catch::Contains("not a word2vec or GloVe file"));
  }
  SECTION("wrong number of values on a line") {
    CHECK_THAT(load_error("2 3\nx 1 2 3\ny 1 2\n", VectorFormat::word2vec),
               Catch::Contains("line 3: expected 3 values after the word \"y\", found 2"));
    CHECK_THAT(load_error("2 3\nx 1 2 3\ny 1 2 3 4\n", VectorFormat::word2vec),
               Catch::Contains("line 3: expected 3 values after the word \"y\", found 4"));
    CHECK_THAT(load_error("x 1 2\ny 1 2\n\nz 1\n", VectorFormat::glove),
               Catch::Contains("line 4: expected 2 values after the word \"z\", found 1"));
    CHECK_THAT(load_error("x\n", VectorFormat::glove), Catch::Contains("line 1:"));
  }
  SECTION("a value that is not a number") {
    CHECK_THAT(load_error("2 3\nx 1 2 3\ny 1 two 3\n", VectorFormat::word2vec),
               Catch::Contains("line 3: value 2 of \"y\", \"two\", is not a number"));
    CHECK_THAT(load_error("x 1 2\ny 1 2,5\n", VectorFormat::automatic),
               Catch::Contains("line 2: value 2 of \"y\", \"2,5\", is not a number"));
    CHECK_THAT(load_error("x 1 0x10\n", VectorFormat::glove), Catch::Contains("line 1:"));
  }
  SECTION("truncated files") {
    CHECK_THAT(load_error("3 2\nx 1 2\ny 3 4\n", VectorFormat::word2vec),
               Catch::Contains("the file ends after 2 of 3 words"));
    const std::string two = "2 2\nab " + float_bytes({1, 2}) + "\ncd " + float_bytes({3, 4}) + "\n";
    const std::string cut = two.substr(0, two.size() - 3);
    CHECK_THAT(load_error(cut, VectorFormat::word2vec_binary),
               Catch::Contains("byte offset 19: the file ends inside the vector of word 2 of 2"));
    CHECK_THAT(load_error("2 2\nab " + float_bytes({1, 2}) + "\n" + std::string(12, 'c'),
                          VectorFormat::word2vec_binary),
               Catch::Contains("the file ends inside word 2 of 2"));
    // A header promising far more than the file holds fails before allocating for it.
    CHECK_THAT(
        load_error("4000000000 300\nab " + float_bytes({1, 2}), VectorFormat::word2vec_binary),
        Catch::Contains("the header promises 4000000000 words of 300 values"));
  }
  SECTION("more records than the header says") {
    CHECK_THAT(load_error("1 2\nx 1 2\ny 3 4\n", VectorFormat::word2vec),
               Catch::Contains("line 3: more words than the header's count of 1"));
    CHECK_THAT(load_error("1 1\nab " + float_bytes({1}) + "\ncd " + float_bytes({2}),
                          VectorFormat::word2vec_binary),
               Catch::Contains("byte offset 12: more data after the header's count of 1 words"));
  }
  SECTION("a duplicate word") {
    CHECK_THAT(load_error("3 1\nx 1\ny 2\nx 3\n", VectorFormat::word2vec),
               Catch::Contains("line 4: the word \"x\" appears again (first at line 2)"));
    CHECK_THAT(load_error("x 1\n\ny 2\nx 3\n", VectorFormat::glove),
               Catch::Contains("line 4: the word \"x\" appears again (first at line 1)"));
    CHECK_THAT(
        load_error("2 1\nab " + float_bytes({1}) + "\nab " + float_bytes({2}) + "\n",
                   VectorFormat::word2vec_binary),
        Catch::Contains("byte offset 12: the word \"ab\" appears again (first at byte offset 4)"));
  }
  SECTION("invalid UTF-8 under strict_utf8") {
    CHECK_THAT(load_error("1 1\ncaf\xe9 0.5\n", VectorFormat::word2vec, {.strict_utf8 = true}),
               Catch::Contains("line 2: the word \"caf\\xe9\" is not valid UTF-8 (byte 3)"));
    CHECK_THAT(load_error("x 1\n\xc3\x28 2\n", VectorFormat::glove, {.strict_utf8 = true}),
               Catch::Contains("line 2:") && Catch::Contains("is not valid UTF-8"));
    CHECK_THAT(load_error("1 1\nab\xff " + float_bytes({1}), VectorFormat::word2vec_binary,
                          {.strict_utf8 = true}),
               Catch::Contains("byte offset 6: the word") && Catch::Contains("is not valid UTF-8"));
  }
  SECTION("a binary word that never ends") {
    CHECK_THAT(load_error("1 1\n" + std::string(100000, 'a'), VectorFormat::word2vec_binary),
               Catch::Contains("byte offset 4: no word ends within 64 KiB"));
  }
}

TEST_CASE("messages quote bytes from a file escaped, on one line", "[io][load][errors][escape]") {
  // No control byte (a terminal would obey it), no line break, nothing that is not UTF-8.
  const auto clean = [](const std::string& what) {
    for (const char c : what) {
      const auto b = static_cast<unsigned char>(c);
      if (b < 0x20 || b == 0x7f) return false;
    }
    return !emb::detail::invalid_utf8_offset(what);
  };
  const std::string nul_header("2\0 3\nx 1 2 3\n", 14);
  const std::vector<std::tuple<std::string, VectorFormat, std::string>> cases{
      {"\x1b[31m2 3\nx 1 2 3\n", VectorFormat::word2vec, "bad header \"\\x1b[31m2 3\""},
      {nul_header, VectorFormat::word2vec, "bad header \"2\\x00 3\""},
      {"\xff\xfe 3\nx 1 2 3\n", VectorFormat::word2vec_binary, "bad header \"\\xff\\xfe 3\""},
      {"ab\rcd\x1b]0;title\x07\n", VectorFormat::automatic,
       "line 1: \"ab\\x0dcd\\x1b]0;title\\x07\" is neither"},
      {"1 1\nx \x1b[2J\n", VectorFormat::word2vec,
       "value 1 of \"x\", \"\\x1b[2J\", is not a number"},
      {"x\x1b[2J 1\ny\xc2\x9b 1 2\n", VectorFormat::glove,
       "expected 1 values after the word \"y\\xc2\\x9b\", found 2"},
      {"2 1\na\nb " + float_bytes({1}) + "a\nb " + float_bytes({2}), VectorFormat::word2vec_binary,
       "the word \"a\\x0ab\" appears again"},
      {"1 1\n\"q\\\" \x80\n", VectorFormat::word2vec, "value 1 of \"\\\"q\\\\\\\"\", \"\\x80\""},
  };
  for (const auto& [bytes, format, expected] : cases) {
    const auto what = load_error(bytes, format);
    INFO(what);
    CHECK_THAT(what, Catch::Contains(expected));
    CHECK(clean(what));
  }
  // A long token is cut at 40 bytes.
  const auto long_token =
      load_error("1 1\nx " + std::string(100, 'y') + "\n", VectorFormat::word2vec);
  CHECK_THAT(long_token, Catch::Contains("\"" + std::string(40, 'y') + "...\""));
}

TEST_CASE("files that cannot be opened throw naming the function called and the file",
          "[io][load][errors]") {
  emb::test::TempDir dir;
  REQUIRE_THROWS_WITH(
      emb::io::load_vectors<float>(dir / "missing.vec"),
      Catch::StartsWith("emb::io::load_vectors: ") && Catch::Contains("missing.vec: cannot open"));
  REQUIRE_THROWS_WITH(emb::io::load_word2vec<float>(dir / "missing.vec"),
                      Catch::StartsWith("emb::io::load_word2vec: "));
  REQUIRE_THROWS_WITH(emb::io::load_glove<float>(dir / "missing.vec"),
                      Catch::StartsWith("emb::io::load_glove: "));
  REQUIRE_THROWS_WITH(emb::io::detect_format(dir / "missing.vec"),
                      Catch::StartsWith("emb::io::detect_format: "));
  REQUIRE_THROWS_WITH(emb::io::load_vectors<float>(dir.path(), {.format = VectorFormat::glove}),
                      Catch::Contains("is a directory"));
}

TEST_CASE("format names round-trip", "[io][format]") {
  for (const auto format : {VectorFormat::automatic, VectorFormat::word2vec,
                            VectorFormat::word2vec_binary, VectorFormat::glove}) {
    CHECK(emb::io::parse_format(emb::io::to_string(format)) == format);
  }
  CHECK_FALSE(emb::io::parse_format("fasttext-bin"));
}

TEMPLATE_TEST_CASE("save_vectors writes every format that load_vectors reads", "[io][save]", float,
                   double) {
  using T = TestType;
  emb::test::TempDir dir;
  const auto words = make_words(23);
  const Matrix<T> vectors = make_vectors(23, 5, 11).cast<T>();
  for (const auto format :
       {VectorFormat::word2vec, VectorFormat::word2vec_binary, VectorFormat::glove}) {
    INFO(emb::io::to_string(format));
    const auto path = dir / "v";
    emb::io::save_vectors(path, words, vectors, format);
    const auto loaded = emb::io::load_vectors<T>(path);
    CHECK(loaded.format == format);
    CHECK(loaded.words == words);
    if (format == VectorFormat::word2vec_binary) {
      CHECK(loaded.vectors == vectors.template cast<float>().template cast<T>());
    } else {
      CHECK(loaded.vectors == vectors);  // shortest round-trip text, in T
    }
  }
  REQUIRE_THROWS_WITH(emb::io::save_vectors(dir / "a", words, vectors, VectorFormat::automatic),
                      Catch::StartsWith("emb::io::save_vectors: name the format"));
  CHECK_FALSE(std::filesystem::exists(dir / "a"));
}

TEST_CASE("load_word2vec and load_glove follow options.format", "[io][load][format]") {
  emb::test::TempDir dir;
  const auto words = make_words(9);
  const Matrix<float> vectors = make_vectors(9, 3, 2);
  emb::io::save_word2vec(dir / "v.bin", words, vectors, VectorFormat::word2vec_binary);
  emb::io::save_word2vec(dir / "v.txt", words, vectors);
  emb::io::save_glove(dir / "v.glove", words, vectors);
  // automatic tells text from binary; a named format is read as named.
  CHECK(emb::io::load_word2vec(dir / "v.bin").format == VectorFormat::word2vec_binary);
  CHECK(emb::io::load_word2vec(dir / "v.txt").format == VectorFormat::word2vec);
  CHECK(emb::io::load_word2vec(dir / "v.bin", {.format = VectorFormat::word2vec_binary}).words ==
        words);
  CHECK_THROWS_WITH(emb::io::load_word2vec(dir / "v.bin", {.format = VectorFormat::word2vec}),
                    Catch::StartsWith("emb::io::load_word2vec: ") && Catch::Contains("line 2"));
  CHECK_THROWS_AS(emb::io::load_word2vec(dir / "v.txt", {.format = VectorFormat::glove}),
                  std::invalid_argument);
  CHECK_THROWS_WITH(emb::io::load_word2vec(dir / "v.glove"), Catch::Contains("line 1: bad header"));
  CHECK(emb::io::load_glove(dir / "v.glove", {.format = VectorFormat::glove}).words == words);
  CHECK_THROWS_AS(emb::io::load_glove(dir / "v.glove", {.format = VectorFormat::word2vec}),
                  std::invalid_argument);
  CHECK_THROWS_WITH(
      emb::io::save_word2vec(dir / "x", words, vectors, VectorFormat::glove),
      "emb::io::save_word2vec: format glove is not word2vec or word2vec-binary (see save_vectors)");
}
