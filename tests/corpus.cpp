// Corpus reading (against fastText's dictionary), subsampling and the negative table.

#include <cmath>        // std::sqrt, std::ceil, std::pow
#include <cstdint>      // std::int32_t, std::int64_t
#include <cstdlib>      // std::getenv
#include <filesystem>   // std::filesystem::path, exists
#include <fstream>      // std::ifstream
#include <map>          // std::map
#include <sstream>      // std::istringstream
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <vector>       // std::vector

#include <catch2/catch.hpp>
#include <emb/text/corpus.hpp>
#include <emb/text/sampling.hpp>

using emb::Corpus;
using emb::Index;

namespace {

std::vector<std::string> words_of(const Corpus& c) {
  return {c.vocabulary.words().begin(), c.vocabulary.words().end()};
}

std::vector<std::vector<std::string>> lines_of(const Corpus& c) {
  std::vector<std::vector<std::string>> lines;
  for (Index k = 0; k < c.lines(); ++k) {
    lines.emplace_back();
    for (std::int32_t id : c.line(k)) lines.back().push_back(c.vocabulary.word(id));
  }
  return lines;
}

}  // namespace

TEST_CASE("parse_corpus splits on whitespace and ends every line with </s>", "[corpus]") {
  // '\r', '\v', '\f', '\t' and '\0' separate words; each '\n' is a </s> token of its own, also on
  // an empty line; the last line has no '\n', so no </s>.
  constexpr char raw[] = "b a\tb\r\nc\va\n\nb\0a\fb  a";
  const std::string text(raw, sizeof raw - 1);
  const Corpus c = emb::parse_corpus(text, {.min_count = 1});
  CHECK(words_of(c) == std::vector<std::string>{"b", "a", "</s>", "c"});
  CHECK(std::vector<std::int64_t>(c.vocabulary.counts().begin(), c.vocabulary.counts().end()) ==
        std::vector<std::int64_t>{4, 4, 3, 1});  // b and a tie: b came first
  CHECK(c.tokens == 12);
  CHECK(c.line_ends == 3);
  using L = std::vector<std::string>;
  CHECK(
      lines_of(c) ==
      std::vector<L>{{"b", "a", "b", "</s>"}, {"c", "a", "</s>"}, {"</s>"}, {"b", "a", "b", "a"}});
}

TEST_CASE("min_count drops rare words from the vocabulary and the lines", "[corpus]") {
  // Ties keep the order of first occurrence: "y" before "x".
  const Corpus c = emb::parse_corpus("y x z\nx y\nz q q\n", {.min_count = 2, .end_of_line = "EOL"});
  CHECK(words_of(c) == std::vector<std::string>{"EOL", "y", "x", "z", "q"});
  const Corpus rare = emb::parse_corpus("y x z\nx y\nz q w\n", {.min_count = 3});
  CHECK(words_of(rare) == std::vector<std::string>{"</s>"});
  CHECK(rare.tokens == 11);
  CHECK(lines_of(rare) == std::vector<std::vector<std::string>>(3, {"</s>"}));
  const Corpus none = emb::parse_corpus("a b", {.min_count = 2});
  CHECK(none.vocabulary.empty());
  CHECK(none.lines() == 0);
  CHECK(emb::parse_corpus("").tokens == 0);
}

TEST_CASE("read_corpus gives fastText's dictionary and token count", "[corpus][golden]") {
  const char* env = std::getenv("EMB_GOLDEN_CORPUS");
  std::ifstream golden(env ? env : EMB_GOLDEN_DIR "/corpus.txt");
  REQUIRE(golden);
  std::string line;
  int cases = 0, skipped = 0;
  while (std::getline(golden, line)) {
    std::istringstream head(line);
    std::string tag, path;
    std::int64_t min_count = 0, tokens = 0;
    std::size_t n = 0;
    head >> tag >> path >> min_count;
    REQUIRE(tag == "case");
    std::string skip;
    golden >> skip >> tokens >> skip >> n;
    golden.ignore();
    std::map<std::string, std::int64_t> want;
    for (std::size_t k = 0; k < n; ++k) {
      std::getline(golden, line);
      const auto space = line.rfind(' ');
      want[line.substr(0, space)] = std::stoll(line.substr(space + 1));
    }
    std::filesystem::path file = path;
    if (file.is_relative()) file = std::filesystem::path(EMB_SHARED_DATA_DIR) / file;
    if (!std::filesystem::exists(file)) {
      WARN("no " << file << ": case skipped");
      ++skipped;
      continue;
    }
    INFO("corpus " << file << ", min_count " << min_count);
    const Corpus c = emb::read_corpus(file, {.min_count = min_count});
    CHECK(c.tokens == tokens);
    std::map<std::string, std::int64_t> got;
    for (Index w = 0; w < c.vocabulary.size(); ++w) {
      got[c.vocabulary.word(w)] = c.vocabulary.count(w);
      if (w > 0) CHECK(c.vocabulary.count(w) <= c.vocabulary.count(w - 1));
    }
    CHECK(got == want);
    // Every kept token is in a line; the lines hold exactly the kept occurrences.
    std::int64_t kept = 0;
    for (Index w = 0; w < c.vocabulary.size(); ++w) kept += c.vocabulary.count(w);
    CHECK(static_cast<std::int64_t>(c.ids.size()) == kept);
    ++cases;
  }
  CHECK(cases + skipped > 0);
}

TEST_CASE("read_corpus and parse_corpus refuse what they cannot read", "[corpus][errors]") {
  REQUIRE_THROWS_WITH(emb::read_corpus("/nonexistent/corpus.txt"),
                      "emb::read_corpus: /nonexistent/corpus.txt: No such file or directory");
  REQUIRE_THROWS_WITH(emb::read_corpus(std::filesystem::temp_directory_path()),
                      Catch::Matchers::EndsWith(": is a directory"));
  REQUIRE_THROWS_WITH(emb::parse_corpus("a", {.min_count = 0}),
                      "emb::parse_corpus: min_count must be at least 1, got 0");
  REQUIRE_THROWS_AS(emb::parse_corpus("a", {.end_of_line = ""}), std::invalid_argument);
  REQUIRE_THROWS_AS(emb::parse_corpus("a", {.end_of_line = "a b"}), std::invalid_argument);
  const Corpus c = emb::parse_corpus("a b\n", {.min_count = 1});
  REQUIRE_THROWS_WITH(c.line(1), "emb::Corpus::line: line 1 is out of range [0, 1)");
}

TEST_CASE("Subsampler keeps a word with fastText's probability sqrt(t/f) + t/f", "[sampling]") {
  const std::vector<std::int64_t> counts{500, 40, 1};
  const emb::Subsampler keep(counts, 1000, 1e-2);
  // f = 0.5, 0.04, 0.001 (values from Python: math.sqrt(t / f) + t / f)
  CHECK(keep.keep_probability(0) == Approx(0.16142135623730950).epsilon(1e-7));
  CHECK(keep.keep_probability(1) == Approx(0.75).epsilon(1e-7));
  CHECK(keep.keep_probability(2) == Approx(13.16227766016838).epsilon(1e-7));
  CHECK(keep(0, 0.16f));
  CHECK_FALSE(keep(0, 0.17f));
  CHECK(keep(2, 0.9999f));
  REQUIRE_THROWS_WITH(emb::Subsampler(counts, 1000, 0.0),
                      "emb::Subsampler: t must be in (0, 1], got 0");
  REQUIRE_THROWS_AS(emb::Subsampler(counts, 100), std::invalid_argument);  // 500 > 100
  REQUIRE_THROWS_AS(emb::Subsampler(std::vector<std::int64_t>{0}, 10), std::invalid_argument);
}

TEST_CASE("NegativeSampler's table gives each word ceil(count^power * size / z) entries",
          "[sampling]") {
  const std::vector<std::int64_t> counts{1000, 300, 7, 1};
  const auto power = GENERATE(0.75, 0.5);
  const emb::NegativeSampler sampler(counts, {.power = power, .table_size = 5003, .seed = 9});
  double z = 0;
  for (auto c : counts) z += std::pow(static_cast<double>(c), power);
  std::vector<std::int64_t> entries(counts.size());
  for (std::int32_t w : sampler.table()) ++entries[static_cast<std::size_t>(w)];
  for (std::size_t w = 0; w < counts.size(); ++w) {
    CHECK(entries[w] == static_cast<std::int64_t>(std::ceil(
                            std::pow(static_cast<double>(counts[w]), power) * 5003.0 / z)));
  }
  // Shuffled: the first hundred entries are not one word's run.
  std::map<std::int32_t, int> head;
  for (std::size_t i = 0; i < 100; ++i) ++head[sampler.table()[i]];
  CHECK(head.size() > 1);
  // The same seed, the same table; another seed, another order.
  const emb::NegativeSampler same(counts, {.power = power, .table_size = 5003, .seed = 9});
  const emb::NegativeSampler other(counts, {.power = power, .table_size = 5003, .seed = 10});
  CHECK(std::equal(same.table().begin(), same.table().end(), sampler.table().begin()));
  CHECK_FALSE(std::equal(other.table().begin(), other.table().end(), sampler.table().begin()));
}

TEST_CASE("NegativeSampler::draw reads on from the cursor, never the positive word", "[sampling]") {
  const std::vector<std::int64_t> counts{50, 30, 20};
  const emb::NegativeSampler sampler(counts, {.table_size = 1000, .seed = 1});
  const auto table = sampler.table();
  std::size_t cursor = sampler.start(table.size() * 7 + table.size() - 2);
  CHECK(cursor == table.size() - 2);
  std::size_t expected = cursor;
  for (int i = 0; i < 3000; ++i) {
    const std::int32_t word = sampler.draw(cursor, 0);
    CHECK(word != 0);
    while (table[expected] == 0) expected = (expected + 1) % table.size();
    CHECK(word == table[expected]);
    expected = (expected + 1) % table.size();
    CHECK(cursor == expected);
  }
  const emb::NegativeSampler single(std::vector<std::int64_t>{4}, {.table_size = 10});
  std::size_t c = 0;
  CHECK(single.draw(c, 0) == 0);  // one word: it is the only negative there is
  REQUIRE_THROWS_WITH(emb::NegativeSampler(std::vector<std::int64_t>{}),
                      "emb::NegativeSampler: no words");
  REQUIRE_THROWS_AS(emb::NegativeSampler(counts, {.power = -1}), std::invalid_argument);
  REQUIRE_THROWS_AS(emb::NegativeSampler(counts, {.table_size = 0}), std::invalid_argument);
  REQUIRE_THROWS_AS(emb::NegativeSampler(std::vector<std::int64_t>{3, 0}), std::invalid_argument);
}
