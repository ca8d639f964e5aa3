// fastText .bin models and subwords: fastText's and gensim's answers on models trained by
// fastText (goldens made by tests/golden/make_fasttext_golden.py), and every kind of bad file.

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <emb/io/fasttext_bin.hpp>
#include <emb/text/fasttext_vectors.hpp>
#include <emb/text/subwords.hpp>

#include "support/files.hpp"
#include "support/golden.hpp"
#include "support/temp_dir.hpp"

using Catch::Matchers::Contains;
using emb::Index;
using emb::io::FastTextModel;

using emb::test::read_bytes;
using emb::test::require_equal;
using emb::test::require_file_error;
using emb::test::write_bytes;

namespace {

std::vector<std::string> fields_of(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> fields;
  for (std::string f; in >> f;) fields.push_back(f);
  return fields;
}

std::string unhex(const std::string& hex) {
  std::string bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return bytes;
}

template <class V>
void put(std::string& bytes, std::size_t offset, V value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}
template <class V>
V get(const std::string& bytes, std::size_t offset) {
  V value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

const std::filesystem::path golden_dir = EMB_GOLDEN_DIR "/fasttext";

// gensim's answers `f[first...]` (word, similarity pairs) against ours: every similarity to float
// rounding, every word unless its similarity is within 1e-5 of a neighbour's (a near-tie that
// rounding may order either way).
void check_neighbours(const std::vector<emb::Neighbour>& got, const std::vector<std::string>& f,
                      std::size_t first, double tolerance) {
  REQUIRE(got.size() == (f.size() - first) / 2);
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("neighbour " << i);
    const double expected = std::stod(f[first + 2 * i + 1]);
    CHECK(std::abs(got[i].similarity - expected) <= tolerance * std::max(1.0, std::abs(expected)));
    const auto near = [&](std::size_t j) {
      return j < got.size() && std::abs(std::stod(f[first + 2 * j + 1]) - expected) < 1e-5;
    };
    if (!near(i - 1) && !near(i + 1)) CHECK(got[i].word == unhex(f[first + 2 * i]));
  }
}

// Byte offsets in a .bin file (fastText's layout; see emb/io/fasttext_bin.hpp).
constexpr std::size_t version_at = 4, dim_at = 8, loss_at = 32, model_at = 36, bucket_at = 40,
                      minn_at = 44, size_at = 64, nwords_at = 68, nlabels_at = 72, pruneidx_at = 84,
                      entries_at = 92;

// Where the dictionary's entries end (the quantization flag), and the first entry's type byte.
std::size_t dictionary_end(const std::string& bytes) {
  std::size_t at = entries_at;
  for (std::int32_t i = 0; i < get<std::int32_t>(bytes, size_at); ++i) {
    at = bytes.find('\0', at) + 1 + 8 + 1;
  }
  return at;
}

}  // namespace

TEST_CASE("fasttext_hash is FNV-1a over sign-extended bytes, as fastText and gensim hash",
          "[fasttext][subwords]") {
  // Values from gensim.models.fasttext_inner.ft_hash_bytes.
  CHECK(emb::fasttext_hash("") == 2166136261u);
  CHECK(emb::fasttext_hash("a") == 3826002220u);
  CHECK(emb::fasttext_hash("<ki") == 1468299675u);
  CHECK(emb::fasttext_hash("stra\xc3\x9f"
                           "e") == 3998610456u);
  CHECK(emb::fasttext_hash("\xe6\x9d\xb1\xe4\xba\xac") == 1997330287u);
  CHECK(emb::fasttext_hash("\x80\xff") == 2489175584u);
  static_assert(emb::fasttext_hash("a") == 3826002220u, "usable at compile time");
}

TEST_CASE("char_ngrams counts UTF-8 characters and leaves out the lone brackets",
          "[fasttext][subwords]") {
  CHECK(emb::char_ngrams("ab", 1, 2) ==
        std::vector<std::string>{"<a", "a", "ab", "b", "b>"});  // not "<" or ">"
  CHECK(emb::char_ngrams("ab", 3, 6) == std::vector<std::string>{"<ab", "<ab>", "ab>"});
  CHECK(emb::char_ngrams("\xc3\x9f", 2, 2) ==
        std::vector<std::string>{"<\xc3\x9f", "\xc3\x9f>"});  // ß is one character
  CHECK(emb::char_ngrams("word", 3, 0).empty());              // maxn 0: subwords off
  CHECK(emb::char_ngrams("word", 7, 6).empty());
  CHECK(emb::char_ngrams("</s>", 1, 6).empty());  // the end-of-sentence token
  std::vector<Index> rows{7};
  emb::append_ngram_rows("ab", {.minn = 3, .maxn = 6, .bucket = 10}, 100, rows);
  CHECK(rows == std::vector<Index>{7, 100 + emb::fasttext_hash("<ab") % 10,
                                   100 + emb::fasttext_hash("<ab>") % 10,
                                   100 + emb::fasttext_hash("ab>") % 10});
  CHECK_THROWS_WITH(emb::append_ngram_rows("ab", {.minn = 3, .maxn = 6, .bucket = 0}, 5, rows),
                    Contains("bucket is 0 but maxn is 6"));
  CHECK_THROWS_AS(emb::append_ngram_rows("ab", {.minn = -1}, 5, rows), std::invalid_argument);
}

TEST_CASE("FastTextModel reads fastText's models and gives fastText's and gensim's vectors",
          "[fasttext][golden]") {
  const std::filesystem::path golden =
      emb::test::golden_path("EMB_GOLDEN_FASTTEXT", (golden_dir / "golden.txt").string());
  std::ifstream in(golden);
  REQUIRE(in);
  std::optional<FastTextModel> model;
  std::optional<emb::WordVectors<float>> vectors;
  int fasttext_checked = 0, gensim_checked = 0, ngrams_checked = 0, queries_checked = 0;
  for (std::string line; std::getline(in, line);) {
    const auto f = fields_of(line);
    if (f.empty()) continue;
    INFO(line.substr(0, 160));
    if (f[0] == "model") {
      model.emplace(FastTextModel::load(golden.parent_path() / f[1]));
      CHECK(model->version() == std::stoi(f[2]));
      CHECK(model->dim() == std::stoi(f[3]));
      CHECK(model->args().minn == std::stoi(f[4]));
      CHECK(model->args().maxn == std::stoi(f[5]));
      CHECK(model->num_ngram_rows() == std::stoi(f[6]));
      CHECK(model->num_words() == std::stoi(f[7]));
      CHECK(model->ntokens() == std::stoll(f[8]));
      CHECK(model->input_matrix().rows() == model->num_words() + model->num_ngram_rows());
      vectors.emplace(emb::to_word_vectors(*model));
      continue;
    }
    REQUIRE(model);
    if (f[0] == "entry") {
      const Index i = std::stoll(f[1]);
      CHECK(model->vocabulary().word(i) == unhex(f[2]));
      CHECK(model->vocabulary().count(i) == std::stoll(f[3]));
      continue;
    }
    if (f[0] == "similar" || f[0] == "similarity" || f[0] == "analogy" || f[0] == "cosmul" ||
        f[0] == "odd") {
      constexpr double tolerance = 2e-6;  // a cosine in float
      if (f[0] == "similar") {
        check_neighbours(vectors->similar(unhex(f[1]), std::stoll(f[2])), f, 3, tolerance);
      } else if (f[0] == "similarity") {
        CHECK(std::abs(vectors->similarity(unhex(f[1]), unhex(f[2])) - std::stod(f[3])) <=
              tolerance);
      } else if (f[0] == "odd") {
        std::vector<std::string> group;
        for (std::size_t k = 2; k + 1 < f.size(); ++k) group.push_back(unhex(f[k]));
        CHECK(vectors->odd_one_out(group) == unhex(f.back()));
      } else {
        const auto method = f[0] == "analogy" ? emb::AnalogyMethod::add : emb::AnalogyMethod::mul;
        // 3CosMul divides by (1 + cos a) / 2 + 1e-6: its score's rounding is that of a cosine
        // scaled by up to the score itself.
        check_neighbours(
            vectors->analogy(unhex(f[1]), unhex(f[2]), unhex(f[3]), std::stoll(f[4]), method), f, 5,
            f[0] == "analogy" ? tolerance : 1e-5);
      }
      ++queries_checked;
      continue;
    }
    const std::string word = unhex(f[1]);
    if (f[0] == "ngrams") {
      std::vector<std::string> expected;
      for (std::size_t k = 2; k < f.size(); ++k) expected.push_back(unhex(f[k]));
      auto got = emb::char_ngrams(word, model->args().minn, model->args().maxn);
      const auto rows = model->subword_rows(word);
      if (model->vocabulary().contains(word)) {
        got.insert(got.begin(), word);  // print-ngrams lists a known word first
        REQUIRE(!rows.empty());
        CHECK(rows.front() == model->vocabulary().index(word));
      }
      CHECK(got == expected);
      CHECK(rows.size() == got.size());
      ++ngrams_checked;
      continue;
    }
    const Eigen::RowVectorXf vector = model->word_vector(word);
    REQUIRE(static_cast<std::size_t>(vector.size()) + 2 == f.size());
    for (Index j = 0; j < vector.size(); ++j) {
      const double expected = std::stod(f[static_cast<std::size_t>(j) + 2]);
      INFO("value " << j);
      if (f[0] == "fasttext") {
        // print-word-vectors prints 5 significant digits.
        CHECK(std::abs(vector(j) - expected) <= 5e-5 * std::abs(expected) + 1e-9);
      } else {
        // gensim divides by the count where fastText multiplies by its inverse: float rounding.
        CHECK(std::abs(vector(j) - expected) <= 1e-6 * std::abs(expected) + 1e-7);
      }
    }
    ++(f[0] == "fasttext" ? fasttext_checked : gensim_checked);
  }
  CHECK(fasttext_checked >= 60);
  CHECK(gensim_checked >= 40);
  CHECK(ngrams_checked >= 10);
  CHECK(queries_checked >= 30);
}

TEST_CASE("A known word's vector is the mean of its own row and its n-gram rows", "[fasttext]") {
  const auto model = FastTextModel::load(golden_dir / "skipgram.bin");
  const std::string word = model.vocabulary().word(3);
  const auto rows = model.subword_rows(word);
  REQUIRE(rows.size() > 1);
  CHECK(rows.front() == 3);
  Eigen::RowVectorXd mean = Eigen::RowVectorXd::Zero(model.dim());
  for (const Index row : rows) mean += model.input_matrix().row(row).cast<double>();
  mean /= static_cast<double>(rows.size());
  CHECK((model.word_vector(word).cast<double>() - mean).cwiseAbs().maxCoeff() < 1e-6);

  const emb::Matrix<float> all = model.word_vectors();
  REQUIRE(all.rows() == model.num_words());
  REQUIRE(all.cols() == model.dim());
  for (const Index i : {Index{0}, Index{17}, model.num_words() - 1}) {
    CHECK(all.row(i) == model.word_vector(model.vocabulary().word(i)));
  }
  Eigen::RowVectorXf wrong(model.dim() + 1);
  CHECK_THROWS_AS(model.word_vector(word, wrong), std::invalid_argument);
}

TEST_CASE("A model without n-grams gives its own row to a known word and zeros to others",
          "[fasttext]") {
  const auto model = FastTextModel::load(golden_dir / "word2vec.bin");
  CHECK(model.num_ngram_rows() == 0);
  CHECK(model.args().maxn == 0);
  CHECK(model.word_vector(model.vocabulary().word(5)) == model.input_matrix().row(5));
  CHECK(model.word_vector("kingz").isZero(0));
  CHECK(model.subword_rows("kingz").empty());
}

TEST_CASE("A version 11 file reads as version 12 (the same layout for word vectors)",
          "[fasttext]") {
  emb::test::TempDir dir;
  std::string bytes = read_bytes(golden_dir / "cbow.bin");
  put<std::int32_t>(bytes, version_at, 11);
  write_bytes(dir / "v11.bin", bytes);
  const auto v11 = FastTextModel::load(dir / "v11.bin");
  const auto v12 = FastTextModel::load(golden_dir / "cbow.bin");
  CHECK(v11.version() == 11);
  CHECK(v11.input_matrix() == v12.input_matrix());
  CHECK(v11.word_vector("kingz") == v12.word_vector("kingz"));
}

TEST_CASE("Bad .bin files throw std::runtime_error naming the file and the problem",
          "[fasttext][errors]") {
  emb::test::TempDir dir;
  const std::string good = read_bytes(golden_dir / "skipgram.bin");
  const std::size_t quant_at = dictionary_end(good);
  const std::size_t rows_at = quant_at + 1, cols_at = quant_at + 9;
  const auto nwords = get<std::int32_t>(good, nwords_at);
  const auto rows = nwords + std::int64_t{get<std::int32_t>(good, bucket_at)};
  REQUIRE(get<std::int64_t>(good, rows_at) == rows);
  REQUIRE(get<std::int64_t>(good, cols_at) == 8);
  const auto refuses = [&](std::string bytes, const std::string& what) {
    const auto path = dir / "bad.bin";
    write_bytes(path, bytes);
    INFO(what);
    CHECK_THROWS_AS(FastTextModel::load(path), std::runtime_error);
    CHECK_THROWS_WITH(FastTextModel::load(path), Contains(path.string()) && Contains(what));
  };
  const auto with = [&](auto edit) {
    std::string bytes = good;
    edit(bytes);
    return bytes;
  };

  SECTION("truncated anywhere") {
    for (const std::size_t size : {std::size_t{0}, std::size_t{3}, std::size_t{7}, std::size_t{30},
                                   size_at + 2, entries_at + 3, quant_at, rows_at + 4,
                                   cols_at + 8 + 100, good.size() - 400, good.size() - 1}) {
      INFO("first " << size << " bytes");
      refuses(good.substr(0, size), size == 0 ? "empty" : "truncated");
    }
  }
  SECTION("not a fastText file") {
    refuses(with([](std::string& b) { put<std::int32_t>(b, 0, 12345); }), "not a fastText .bin");
    refuses("3 2\nthe 0.1 0.2\n", "load_vectors");
    refuses(with([](std::string& b) { put<std::int32_t>(b, version_at, 13); }), "version 13");
    refuses(with([](std::string& b) { put<std::int32_t>(b, version_at, 10); }), "version 10");
  }
  SECTION("supervised, quantized and pruned models") {
    refuses(read_bytes(golden_dir / "classifier.ftz"), "supervised");
    refuses(with([](std::string& b) { put<std::int32_t>(b, model_at, 3); }), "supervised");
    refuses(with([&](std::string& b) { b[quant_at] = 1; }), "quantized");
    refuses(with([&](std::string& b) { b[quant_at] = 7; }), "quantization flag is 7");
    refuses(with([](std::string& b) { put<std::int64_t>(b, pruneidx_at, 0); }), "pruned");
    refuses(with([](std::string& b) { put<std::int32_t>(b, nlabels_at, 2); }), "labels");
  }
  SECTION("arguments out of range") {
    refuses(with([](std::string& b) { put<std::int32_t>(b, model_at, 9); }), "model type is 9");
    refuses(with([](std::string& b) { put<std::int32_t>(b, loss_at, 0); }), "loss is 0");
    refuses(with([](std::string& b) { put<std::int32_t>(b, dim_at, 0); }), "dim is 0");
    refuses(with([](std::string& b) { put<std::int32_t>(b, minn_at, -2); }), "negative");
    refuses(with([](std::string& b) { put<std::int32_t>(b, bucket_at, -5); }), "bucket -5");
    // A bucket of 0 would leave every n-gram (of every unknown word) without a row.
    refuses(with([](std::string& b) { put<std::int32_t>(b, bucket_at, 0); }),
            "bucket is 0 but maxn is 5");
  }
  SECTION("a dictionary size that lies") {
    for (const std::int32_t size : {std::int32_t{2147483647}, nwords + 1}) {
      refuses(with([&](std::string& b) {
                put<std::int32_t>(b, size_at, size);
                put<std::int32_t>(b, nwords_at, size);
              }),
              size > 1000 ? "bytes follow" : "");
    }
    refuses(with([&](std::string& b) { put<std::int32_t>(b, nwords_at, nwords - 1); }),
            "must be equal");
    refuses(with([](std::string& b) { put<std::int32_t>(b, size_at, -1); }), "must be equal");
    // A word without its NUL, 5 MB long, to the end of the file.
    refuses(good.substr(0, entries_at) + std::string(5 << 20, 'x'), "truncated");
    refuses(with([](std::string& b) { b[entries_at + b.substr(entries_at).find('\0') + 9] = 1; }),
            "has type 1");
    // A duplicate word: the second word spelled as the first.
    refuses(with([](std::string& b) {
              const std::size_t first_end = b.find('\0', entries_at);
              const std::size_t second = first_end + 10;
              const std::string first = b.substr(entries_at, first_end - entries_at);
              const std::size_t second_end = b.find('\0', second);
              b.replace(second, second_end - second, first);
            }),
            "twice");
  }
  SECTION("a matrix shape that disagrees with the dictionary") {
    refuses(with([&](std::string& b) { put<std::int64_t>(b, rows_at, rows - 1); }),
            std::to_string(rows - 1) + " x 8");
    refuses(with([&](std::string& b) { put<std::int64_t>(b, cols_at, 9); }), "x 9");
    refuses(with([&](std::string& b) { put<std::int64_t>(b, rows_at, -1); }), "-1 x 8");
    // A shape that agrees with a huge bucket: refused before allocating 68 GB.
    refuses(with([&](std::string& b) {
              put<std::int32_t>(b, bucket_at, 2147483647);
              put<std::int64_t>(b, rows_at, nwords + std::int64_t{2147483647});
            }),
            "truncated");
    const auto out_rows_at = cols_at + 8 + static_cast<std::size_t>(rows) * 8 * 4 + 1;
    refuses(with([&](std::string& b) { put<std::int64_t>(b, out_rows_at, nwords + 1); }),
            "output matrix is " + std::to_string(nwords + 1) + " x 8");
    refuses(good + std::string(3, '\0'), "extra bytes");
  }
  SECTION("not a file") {
    CHECK_THROWS_WITH(FastTextModel::load(dir / "missing.bin"), Contains("cannot open"));
    CHECK_THROWS_WITH(FastTextModel::load(dir.path()), Contains("directory"));
  }
}

TEST_CASE("WordVectors over a fastText model knows unknown words only when they have n-grams",
          "[fasttext][word_vectors]") {
  const auto with_ngrams = emb::to_word_vectors(FastTextModel::load(golden_dir / "cbow.bin"));
  CHECK(!with_ngrams.contains("kingz"));
  CHECK(with_ngrams.vector("kingz").size() == 6);
  CHECK(with_ngrams.similar("kingz", 3).size() == 3);
  const auto without = emb::to_word_vectors(FastTextModel::load(golden_dir / "word2vec.bin"));
  CHECK_THROWS_AS(without.vector("kingz"), emb::UnknownWord);
  CHECK_THROWS_AS(without.similar("kingz"), emb::UnknownWord);
  const std::string known = without.vocabulary().word(3);
  CHECK(without.vector(known) ==
        FastTextModel::load(golden_dir / "word2vec.bin").input_matrix().row(3));
}

TEST_CASE("FastTextModel's constructor checks the parts it is given", "[fasttext][errors]") {
  emb::io::FastTextArgs args{.dim = 3, .bucket = 4, .minn = 2, .maxn = 3};
  CHECK(FastTextModel(args, emb::Vocabulary({"a", "b"}), emb::Matrix<float>::Ones(6, 3))
            .word_vector("a")
            .isOnes(0));
  CHECK_THROWS_AS(FastTextModel(args, emb::Vocabulary({"a", "b"}), emb::Matrix<float>(5, 3)),
                  std::invalid_argument);
  CHECK_THROWS_AS(FastTextModel(args, emb::Vocabulary(), emb::Matrix<float>(4, 3)),
                  std::invalid_argument);
  args.model = emb::io::FastTextModelType::supervised;
  CHECK_THROWS_AS(FastTextModel(args, emb::Vocabulary({"a", "b"}), emb::Matrix<float>(6, 3)),
                  std::invalid_argument);
}

namespace {

// A small model with every argument away from its default and values that are not round.
FastTextModel made_up_model() {
  const emb::io::FastTextArgs args{.dim = 5,
                                   .ws = 4,
                                   .epoch = 3,
                                   .min_count = 2,
                                   .neg = 7,
                                   .loss = emb::io::FastTextLoss::negative_sampling,
                                   .model = emb::io::FastTextModelType::cbow,
                                   .bucket = 11,
                                   .minn = 2,
                                   .maxn = 4,
                                   .lr_update_rate = 50,
                                   .t = 1e-3};
  emb::Vocabulary vocabulary({"</s>", "king", "queen",
                              "stra\xc3\x9f"
                              "e"},
                             {9, 5, 3, 2});
  emb::Matrix<float> input = emb::Matrix<float>::Random(4 + 11, 5);
  return FastTextModel(args, std::move(vocabulary), std::move(input), 12345);
}

}  // namespace

TEST_CASE("save_fasttext writes a .bin that FastTextModel::load reads back unchanged",
          "[fasttext][save]") {
  emb::test::TempDir dir;
  const FastTextModel model = made_up_model();
  const emb::Matrix<float> output = emb::Matrix<float>::Random(4, 5);
  const auto path = dir / "model.bin";
  write_bytes(path, "an older file");
  emb::io::save_fasttext(path, model, output);

  const FastTextModel back = FastTextModel::load(path);
  CHECK(back.version() == 12);
  const auto &a = model.args(), &b = back.args();
  CHECK(b.dim == a.dim);
  CHECK(b.ws == a.ws);
  CHECK(b.epoch == a.epoch);
  CHECK(b.min_count == a.min_count);
  CHECK(b.neg == a.neg);
  CHECK(b.word_ngrams == a.word_ngrams);
  CHECK(b.loss == a.loss);
  CHECK(b.model == a.model);
  CHECK(b.bucket == a.bucket);
  CHECK(b.minn == a.minn);
  CHECK(b.maxn == a.maxn);
  CHECK(b.lr_update_rate == a.lr_update_rate);
  CHECK(b.t == a.t);
  CHECK(back.ntokens() == 12345);
  REQUIRE(back.num_words() == model.num_words());
  for (Index i = 0; i < model.num_words(); ++i) {
    CHECK(back.vocabulary().word(i) == model.vocabulary().word(i));
    CHECK(back.vocabulary().count(i) == model.vocabulary().count(i));
  }
  CHECK(back.input_matrix() == model.input_matrix());
  CHECK(back.word_vector("kingz") == model.word_vector("kingz"));

  // The output matrix closes the file: a quantization flag of 0, its shape, its values.
  const std::string bytes = read_bytes(path);
  const std::size_t values = 4 * 5 * sizeof(float);
  REQUIRE(bytes.size() > values + 17);
  const std::size_t at = bytes.size() - values - 17;
  CHECK(bytes[at] == '\0');
  CHECK(get<std::int64_t>(bytes, at + 1) == 4);
  CHECK(get<std::int64_t>(bytes, at + 9) == 5);
  if constexpr (std::endian::native == std::endian::little) {
    CHECK(std::memcmp(bytes.data() + at + 17, output.data(), values) == 0);
  }
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()),
                      std::filesystem::directory_iterator()) == 1);  // no temporary left
}

TEST_CASE("save_fasttext refuses a wrong output matrix or a word with a NUL and writes nothing",
          "[fasttext][save][errors]") {
  emb::test::TempDir dir;
  const FastTextModel model = made_up_model();
  CHECK_THROWS_WITH(emb::io::save_fasttext(dir / "a.bin", model, emb::Matrix<float>(4, 6)),
                    Contains("emb::io::save_fasttext") && Contains("output matrix is 4 x 6"));
  CHECK_THROWS_AS(emb::io::save_fasttext(dir / "a.bin", model, emb::Matrix<float>(3, 5)),
                  std::invalid_argument);
  const FastTextModel nul(model.args(), emb::Vocabulary({std::string("a\0b", 3)}),
                          emb::Matrix<float>::Zero(1 + 11, 5));
  CHECK_THROWS_WITH(emb::io::save_fasttext(dir / "a.bin", nul, emb::Matrix<float>(1, 5)),
                    Contains("NUL"));
  CHECK(!std::filesystem::exists(dir / "a.bin"));
  CHECK_THROWS_AS(
      emb::io::save_fasttext(dir / "no" / "such" / "a.bin", model, emb::Matrix<float>::Zero(4, 5)),
      std::runtime_error);
}

// Run by examples/train_word2vec_test.cmake (CASE=subwords) on a model train-word2vec has just
// trained: EMB_TRAINED_FASTTEXT names a folder with model.bin (-saveModel), vectors.vec (the
// tool's own vectors, -output), fasttext.txt (`fasttext print-word-vectors model.bin` on known
// and unknown words) and, when gensim is installed, gensim.txt (load_facebook_model(...).wv[w]).
TEST_CASE("A model train-word2vec trained reads back as its vectors, fastText's and gensim's",
          "[.trained]") {
  const char* folder = std::getenv("EMB_TRAINED_FASTTEXT");
  REQUIRE(folder != nullptr);
  const std::filesystem::path dir = folder;
  const FastTextModel model = FastTextModel::load(dir / "model.bin");
  REQUIRE(model.args().maxn > 0);
  REQUIRE(model.num_ngram_rows() > 0);

  // The tool's .vec: every word's vector, printed exactly.
  std::ifstream vec(dir / "vectors.vec");
  REQUIRE(vec);
  Index words = 0, dim = 0;
  vec >> words >> dim;
  CHECK(words == model.num_words());
  CHECK(dim == model.dim());
  std::string line;
  std::getline(vec, line);
  Index rows = 0;
  while (std::getline(vec, line)) {
    const auto f = fields_of(line);
    REQUIRE(static_cast<Index>(f.size()) == dim + 1);
    const Eigen::RowVectorXf got = model.word_vector(f[0]);
    for (Index j = 0; j < dim; ++j) {
      CHECK(got(j) == std::stof(f[static_cast<std::size_t>(j) + 1]));
    }
    ++rows;
  }
  CHECK(rows == words);

  // fastText's and gensim's vectors of the same model, for known and unknown words.
  for (const char* name : {"fasttext.txt", "gensim.txt"}) {
    const bool fasttext = std::string(name) == "fasttext.txt";
    std::ifstream in(dir / name);
    if (!fasttext && !in) continue;  // gensim absent
    REQUIRE(in);
    int known = 0, unknown = 0;
    while (std::getline(in, line)) {
      const auto f = fields_of(line);
      // gensim gives "</s>" n-grams that fastText does not (its vector is then not fastText's).
      if (f.empty() || (!fasttext && f[0] == emb::end_of_sentence)) continue;
      INFO(name << ": " << line.substr(0, 80));
      REQUIRE(static_cast<Index>(f.size()) == model.dim() + 1);
      const Eigen::RowVectorXf got = model.word_vector(f[0]);
      REQUIRE(!got.isZero(0));
      for (Index j = 0; j < model.dim(); ++j) {
        const double want = std::stod(f[static_cast<std::size_t>(j) + 1]);
        // print-word-vectors prints 5 significant digits; gensim divides where fastText
        // multiplies by the inverse.
        CHECK(std::abs(got(j) - want) <=
              (fasttext ? 5e-5 * std::abs(want) + 1e-9 : 1e-6 * std::abs(want) + 1e-7));
      }
      ++(model.vocabulary().contains(f[0]) ? known : unknown);
    }
    CHECK(known >= 3);
    CHECK(unknown >= 3);
  }
}
