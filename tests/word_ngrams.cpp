// emb/text/word_ngrams.hpp: fastText's word hash and hashed word n-grams.

#include <cstdint>  // std::uint32_t
#include <string>   // std::string
#include <vector>   // std::vector

#include <catch2/catch.hpp>
#include <emb/text/word_ngrams.hpp>

#include "support/golden.hpp"

using emb::Index;

TEST_CASE("fasttext_hash is FNV-1a with sign-extended bytes", "[word_ngrams]") {
  STATIC_REQUIRE(emb::text::fasttext_hash("") == 2166136261u);
  // Textbook 32-bit FNV-1a values for ASCII.
  STATIC_REQUIRE(emb::text::fasttext_hash("a") == 0xe40c292cu);
  STATIC_REQUIRE(emb::text::fasttext_hash("foobar") == 0xbf9cf968u);
  // A byte >= 0x80 is xored as 0xffffff80 | byte, not as the byte.
  const std::uint32_t textbook = (2166136261u ^ 0xe9u) * 16777619u;
  const std::uint32_t fasttext = (2166136261u ^ 0xffffffe9u) * 16777619u;
  CHECK(emb::text::fasttext_hash("\xe9") == fasttext);
  CHECK(emb::text::fasttext_hash("\xe9") != textbook);
}

TEST_CASE("word n-gram ids match fastText's addWordNgrams on golden cases",
          "[word_ngrams][golden]") {
  const auto cases = emb::test::read_golden(EMB_GOLDEN_DIR "/word_ngrams.txt");
  REQUIRE(cases.size() >= 20);
  for (const auto& c : cases) {
    INFO(c.name);
    const auto bytes = c.ints("bytes");
    const auto lengths = c.ints("lengths");
    const auto want_hashes = c.ints("hashes");
    std::vector<std::uint32_t> hashes;
    std::size_t at = 0;
    for (std::size_t w = 0; w < lengths.size(); ++w) {
      std::string word;
      for (Index k = 0; k < lengths[w]; ++k) word.push_back(static_cast<char>(bytes[at++]));
      hashes.push_back(emb::text::fasttext_hash(word));
      REQUIRE(hashes.back() == static_cast<std::uint32_t>(want_hashes[w]));
    }
    std::vector<Index> ids{-7};  // appended to, never cleared
    emb::text::add_word_ngrams(ids, hashes, static_cast<int>(c.scalar("n")),
                               static_cast<Index>(c.scalar("bucket")),
                               static_cast<Index>(c.scalar("nwords")));
    const auto want = c.ints("ids");
    REQUIRE(ids.size() == want.size() + 1);
    CHECK(ids[0] == -7);
    CHECK(std::vector<Index>(ids.begin() + 1, ids.end()) == want);
  }
}

TEST_CASE("add_word_ngrams gives n - 1 ids per full window and rejects bad buckets",
          "[word_ngrams]") {
  const std::vector<std::uint32_t> hashes{1, 2, 3, 4};
  std::vector<Index> ids;
  emb::text::add_word_ngrams(ids, hashes, 1, 0, 10);  // n = 1: nothing, buckets unused
  CHECK(ids.empty());
  emb::text::add_word_ngrams(ids, hashes, 3, 5, 10);  // (1,2) (1,2,3) (2,3) (2,3,4) (3,4)
  CHECK(ids.size() == 5);
  for (const Index id : ids) CHECK((id >= 10 && id < 15));
  REQUIRE_THROWS_WITH(emb::text::add_word_ngrams(ids, hashes, 2, 0, 10),
                      "emb::text::add_word_ngrams: buckets must be in [1, 2^31), got 0");
  REQUIRE_THROWS_WITH(emb::text::add_word_ngrams(ids, hashes, 2, 5, -1),
                      "emb::text::add_word_ngrams: offset must be >= 0, got -1");
  CHECK(ids.size() == 5);
}
