// Checkpoints: Embedding and optimizer records, emb::save_checkpoint / load_checkpoint; every
// bad stream throws and changes nothing.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <emb/checkpoint.hpp>
#include <emb/embedding.hpp>
#include <emb/optim.hpp>

using emb::Embedding;
using emb::Gradient;
using emb::Index;
using emb::Matrix;

namespace {

template <class T>
Gradient<T> ones_gradient(Index num, std::vector<Index> rows, Index dim) {
  Gradient<T> g;
  g.num_embeddings = num;
  g.values = Matrix<T>::Ones(static_cast<Index>(rows.size()), dim);
  g.rows = std::move(rows);
  return g;
}

template <class Object>
std::string saved(const Object& object) {
  std::ostringstream out;
  object.save(out);
  return out.str();
}

// A fresh folder under the system temporary directory, removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device device;
    path = std::filesystem::temp_directory_path() / ("emb-checkpoint-" + std::to_string(device()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

}  // namespace

TEMPLATE_TEST_CASE("a table round-trips through save and load bit for bit", "[checkpoint]", float,
                   double) {
  using T = TestType;
  Embedding<T> table(7, 3, {.padding_idx = -2, .max_norm = 1.5, .norm_type = 3, .seed = 1});
  table.set_frozen(true);
  const std::string bytes = saved(table);
  CHECK(bytes.substr(0, 8) == "EMBCKPT\n");
  CHECK(bytes[8] == 1);                       // format version 1, little-endian
  CHECK(bytes[12] == char(sizeof(T)));        // element type
  CHECK(bytes.find("emb::Embedding") == 17);  // who wrote it

  Embedding<T> other(7, 3, {.seed = 2});
  std::istringstream in(bytes);
  other.load(in);
  CHECK(other.weight() == table.weight());
  CHECK(other.padding_idx() == 5);
  CHECK(other.max_norm() == 1.5);
  CHECK(other.norm_type() == 3);
  CHECK(other.frozen());
  CHECK(saved(other) == bytes);
}

TEMPLATE_TEST_CASE("every truncation and every flipped byte throws and changes nothing",
                   "[checkpoint][errors]", float, double) {
  using T = TestType;
  Embedding<T> source(3, 2, {.seed = 3});
  emb::optim::Adam<T> source_opt(source, {.amsgrad = true});
  source_opt.step(ones_gradient<T>(3, {1}, 2));
  for (const std::string& bytes : {saved(source), saved(source_opt)}) {
    const bool is_table = bytes.find("emb::Embedding") != std::string::npos;
    Embedding<T> table(3, 2, {.seed = 4});
    emb::optim::Adam<T> opt(table, {.lr = 0.5});
    const std::string table_before = saved(table), opt_before = saved(opt);
    auto load = [&](const std::string& stream) {
      std::istringstream in(stream);
      if (is_table) {
        table.load(in);
      } else {
        opt.load(in);
      }
    };
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      INFO("first " << n << " bytes");
      REQUIRE_THROWS_AS(load(bytes.substr(0, n)), std::runtime_error);
    }
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      for (int flip : {0x01, 0x80}) {
        INFO("byte " << i << " ^ " << flip);
        std::string bad = bytes;
        bad[i] = static_cast<char>(bad[i] ^ flip);
        REQUIRE_THROWS_AS(load(bad), std::runtime_error);
      }
    }
    CHECK(saved(table) == table_before);
    CHECK(saved(opt) == opt_before);
    load(bytes);  // the intact stream loads
    CHECK((is_table ? saved(table) : saved(opt)) == bytes);
  }
}

TEMPLATE_TEST_CASE("a stream of another kind, element type or shape is refused",
                   "[checkpoint][errors]", float, double) {
  using T = TestType;
  using Other = std::conditional_t<std::is_same_v<T, float>, double, float>;
  Embedding<T> table(6, 3, {.seed = 5});
  emb::optim::Adam<T> adam(table);
  const std::string table_before = saved(table), adam_before = saved(adam);
  auto load = [](auto& object, const std::string& bytes) {
    std::istringstream in(bytes);
    object.load(in);
  };
  const std::string other_type = std::is_same_v<T, float> ? "double" : "float";
  const std::string type = std::is_same_v<T, float> ? "float" : "double";
  Embedding<Other> other_table(6, 3, {.seed = 5});
  REQUIRE_THROWS_WITH(
      load(table, saved(other_table)),
      "emb::Embedding::load: the checkpoint holds " + other_type + " values, not " + type);
  REQUIRE_THROWS_WITH(load(table, saved(Embedding<T>(7, 3))),
                      "emb::Embedding::load: the checkpoint holds a (7, 3) matrix where (6, 3) "
                      "is needed");
  REQUIRE_THROWS_WITH(load(table, saved(adam)),
                      "emb::Embedding::load: the checkpoint holds emb::optim::Adam, not "
                      "emb::Embedding");
  REQUIRE_THROWS_WITH(load(adam, saved(emb::optim::SGD<T>(table))),
                      "emb::optim::Adam::load: the checkpoint holds emb::optim::SGD, not "
                      "emb::optim::Adam");
  REQUIRE_THROWS_WITH(load(adam, saved(emb::optim::AdamW<T>(table))),
                      "emb::optim::Adam::load: the checkpoint holds emb::optim::AdamW, not "
                      "emb::optim::Adam");
  Embedding<T> bigger(6, 4);
  REQUIRE_THROWS_WITH(load(adam, saved(emb::optim::Adam<T>(bigger))),
                      "emb::optim::Adam::load: the checkpoint holds a (6, 4) matrix where (6, 3) "
                      "is needed");
  std::string future = saved(table);
  future[8] = 2;
  REQUIRE_THROWS_WITH(load(table, future),
                      "emb::Embedding::load: checkpoint format version 2 is not supported (this "
                      "library reads version 1)");
  REQUIRE_THROWS_WITH(load(table, "not a checkpoint at all"),
                      "emb::Embedding::load: not an emb checkpoint (bad magic)");
  REQUIRE_THROWS_WITH(load(table, ""),
                      "emb::Embedding::load: truncated checkpoint (the header ends after 0 of 17 "
                      "bytes)");
  std::string flipped = saved(table);
  flipped[flipped.size() - 9] ^= 0x10;  // the last weight byte
  REQUIRE_THROWS_WITH(load(table, flipped),
                      "emb::Embedding::load: corrupted checkpoint (checksum mismatch)");
  CHECK(saved(table) == table_before);
  CHECK(saved(adam) == adam_before);
}

TEMPLATE_TEST_CASE(
    "save_checkpoint writes a file through a temporary; load_checkpoint is "
    "all-or-nothing",
    "[checkpoint][file]", float, double) {
  using T = TestType;
  TempDir dir;
  const auto path = dir.path / "model.ckpt";
  Embedding<T> table(8, 4, {.seed = 6});
  emb::optim::SGD<T> opt(table, {.lr = 0.1, .momentum = 0.9, .lazy = true});
  opt.step(ones_gradient<T>(8, {2, 5}, 4));
  emb::save_checkpoint(path, table, opt);
  // The file and nothing else: the temporary it was written to is gone.
  auto files = [&] {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  };
  CHECK(files() == std::vector<std::string>{"model.ckpt"});

  Embedding<T> table2(8, 4, {.seed = 7});
  emb::optim::SGD<T> opt2(table2);
  emb::load_checkpoint(path, table2, opt2);
  CHECK(table2.weight() == table.weight());
  CHECK(saved(opt2) == saved(opt));

  // A second save replaces the first in one rename.
  opt.step(ones_gradient<T>(8, {3}, 4));
  emb::save_checkpoint(path, table, opt);
  emb::load_checkpoint(path, table2, opt2);
  CHECK(table2.weight() == table.weight());
  CHECK(opt2.steps() == 2);

  // The optimizer record does not fit an Adam: neither object changes.
  Embedding<T> table3(8, 4, {.seed = 8});
  emb::optim::Adam<T> adam(table3);
  const std::string table3_before = saved(table3), adam_before = saved(adam);
  REQUIRE_THROWS_WITH(emb::load_checkpoint(path, table3, adam),
                      "emb::optim::Adam::load: the checkpoint holds emb::optim::SGD, not "
                      "emb::optim::Adam");
  CHECK(saved(table3) == table3_before);
  REQUIRE_THROWS_WITH(
      emb::load_checkpoint(path, table3),
      "emb::load_checkpoint: " + path.string() + " holds more records than objects were given");
  CHECK(saved(table3) == table3_before);
  CHECK(saved(adam) == adam_before);
  REQUIRE_THROWS_WITH(emb::load_checkpoint(dir.path / "missing.ckpt", table3),
                      "emb::load_checkpoint: " + (dir.path / "missing.ckpt").string() +
                          ": cannot open: No such file or directory");

  const auto nowhere = dir.path / "no such folder" / "model.ckpt";
  REQUIRE_THROWS_WITH(
      emb::save_checkpoint(nowhere, table),
      Catch::StartsWith("emb::save_checkpoint: " + nowhere.string() + ": cannot open "));
  CHECK_FALSE(std::filesystem::exists(nowhere));

  // A folder in the way: the temporary is written, the rename fails, the temporary is removed.
  std::filesystem::create_directory(dir.path / "taken");
  REQUIRE_THROWS_WITH(emb::save_checkpoint(dir.path / "taken", table),
                      Catch::Contains("cannot rename the temporary file"));
  CHECK(std::filesystem::is_directory(dir.path / "taken"));
  auto names = files();
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"model.ckpt", "taken"});
}
