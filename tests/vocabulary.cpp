// Vocabulary: word <-> index, counts, copies, errors; and the upper-casing the evaluations use.

#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <emb/detail/utf8.hpp>
#include <emb/text/vocabulary.hpp>

TEST_CASE("Vocabulary maps words to rows and back", "[vocabulary]") {
  emb::Vocabulary vocab({"the", "king", "\xc3\xb6", "caf\xe9"});
  CHECK(vocab.size() == 4);
  CHECK(vocab.index("king") == 1);
  CHECK(vocab.index("\xc3\xb6") == 2);
  CHECK(vocab.index("caf\xe9") == 3);  // not UTF-8: still a word
  CHECK(vocab.word(2) == "\xc3\xb6");
  CHECK_FALSE(vocab.find("King"));  // byte for byte, case-sensitive
  CHECK_FALSE(vocab.has_counts());
  CHECK(vocab.count(1) == 0);
  REQUIRE_THROWS_AS(vocab.index("queen"), std::out_of_range);
  REQUIRE_THROWS_WITH(vocab.word(4), "emb::Vocabulary::word: index 4 is out of range [0, 4)");
  REQUIRE_THROWS_AS(vocab.word(-1), std::out_of_range);
}

TEST_CASE("Vocabulary::add appends new words and counts repeats", "[vocabulary]") {
  emb::Vocabulary vocab;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 1000; ++i) vocab.add("w" + std::to_string(i), 1);
  }
  CHECK(vocab.size() == 1000);
  REQUIRE(vocab.has_counts());
  for (int i = 0; i < 1000; i += 37) {
    CHECK(vocab.index("w" + std::to_string(i)) == i);  // survives the vector's reallocations
    CHECK(vocab.count(i) == 3);
  }
  emb::Vocabulary copy = vocab;  // the copy's index views its own strings
  vocab = emb::Vocabulary({"x"});
  CHECK(copy.index("w999") == 999);
  CHECK(vocab.index("x") == 0);
}

TEST_CASE("Vocabulary rejects duplicates and mismatched counts", "[vocabulary][errors]") {
  REQUIRE_THROWS_WITH(emb::Vocabulary({"a", "b", "a"}),
                      "emb::Vocabulary: the word \"a\" appears twice (rows 0 and 2)");
  REQUIRE_THROWS_AS(emb::Vocabulary({"a", "b"}, {1}), std::invalid_argument);
  const emb::Vocabulary counted({"a", "b"}, {5, 7});
  CHECK(counted.count(1) == 7);
}

TEST_CASE("to_upper follows Python's str.upper on the scripts of word lists", "[utf8]") {
  using emb::detail::to_upper;
  CHECK(to_upper("paris") == "PARIS");
  CHECK(to_upper("\xc3\xb6lfass") == "\xc3\x96LFASS");  // ölfass -> ÖLFASS
  CHECK(to_upper("stra\xc3\x9f"
                 "e") == "STRASSE");  // straße -> STRASSE
  CHECK(to_upper("\xce\xb1\xce\xbb\xcf\x86\xce\xb1") ==
        "\xce\x91\xce\x9b\xce\xa6\xce\x91");                                  // αλφα
  CHECK(to_upper("\xd0\xbc\xd0\xb8\xd1\x80") == "\xd0\x9c\xd0\x98\xd0\xa0");  // мир -> МИР
  CHECK(to_upper("\xc5\x82\xc3\xb3"
                 "d\xc5\xba") ==
        "\xc5\x81\xc3\x93"
        "D\xc5\xb9");                       // łódź
  CHECK(to_upper("caf\xe9") == "CAF\xe9");  // not UTF-8: bytes kept
  CHECK_FALSE(emb::detail::invalid_utf8_offset("\xc3\xb6"));
  CHECK(emb::detail::invalid_utf8_offset("ab\xc3") == 2u);
  CHECK(emb::detail::invalid_utf8_offset("\xed\xa0\x80") == 0u);  // a surrogate
  CHECK(emb::detail::invalid_utf8_offset("\xc0\xaf") == 0u);      // overlong
}
