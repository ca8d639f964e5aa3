// Sharded tables over MPI, run by CTest under mpirun on 1 to 4 ranks. The reference is one whole
// Embedding / EmbeddingBag (itself checked against PyTorch) fed the concatenation of every rank's
// ids in rank order: each rank builds every rank's batch from a seed shared by all ranks (fresh on
// every run unless EMB_TEST_SEED is set), so each can compute the reference on its own.
//
// Assertions are CHECKs, not REQUIREs, wherever ranks could disagree: a rank leaving a test case
// early would leave the others waiting in the next collective call.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <mpi.h>
#include <catch2/catch.hpp>
#include <emb/checkpoint.hpp>
#include <emb/distributed.hpp>
#include <emb/optim.hpp>

#include "support/huge_pages.hpp"
#include "support/random.hpp"

using emb::BagMode;
using emb::Index;
using emb::Matrix;
using emb::distributed::ShardedEmbedding;
using emb::distributed::ShardedEmbeddingBag;

namespace {

std::uint64_t run_seed = 0;  // shared by every rank

// A table that outlives MPI_Finalize, as one may in a user's main: declared before the MPI
// guard, it is destroyed after the guard has finalized MPI, and its destructor must not call MPI.
std::optional<ShardedEmbedding<float>> survivor;

// MPI for the whole program, around Catch's main: initialized before any test runs, finalized
// after the last. Rank 0 draws the run's seed and tells the others.
struct Mpi {
  Mpi() {
    MPI_Init(nullptr, nullptr);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rank == 0) {
      const char* fixed = std::getenv("EMB_TEST_SEED");
      run_seed = fixed ? std::strtoull(fixed, nullptr, 10) : std::random_device{}();
      std::printf("emb distributed tests: %d ranks, seed %llu (EMB_TEST_SEED to repeat)\n", size,
                  static_cast<unsigned long long>(run_seed));
    }
    MPI_Bcast(&run_seed, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    survivor.emplace(MPI_COMM_WORLD, 7, 3, emb::EmbeddingOptions{.seed = 1});
  }
  Mpi(const Mpi&) = delete;
  Mpi& operator=(const Mpi&) = delete;
  ~Mpi() { MPI_Finalize(); }
} mpi;

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int world_size() {
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

// Every rank's ids, the same on every rank. sizes[r] ids for rank r, drawn from [low, high).
std::vector<std::vector<Index>> batches(std::uint64_t seed, const std::vector<Index>& sizes,
                                        Index low, Index high) {
  std::mt19937_64 engine(seed);
  std::vector<std::vector<Index>> out;
  for (const Index n : sizes) {
    std::vector<Index> ids(static_cast<std::size_t>(n));
    for (auto& id : ids)
      id = low + static_cast<Index>(engine() % static_cast<std::uint64_t>(high - low));
    out.push_back(std::move(ids));
  }
  return out;
}

std::vector<Index> concatenated(const std::vector<std::vector<Index>>& parts) {
  std::vector<Index> all;
  for (const auto& part : parts) all.insert(all.end(), part.begin(), part.end());
  return all;
}

// Where rank r's part starts in the concatenation.
Index offset_of(const std::vector<std::vector<Index>>& parts, int rank) {
  Index at = 0;
  for (int r = 0; r < rank; ++r)
    at += static_cast<Index>(parts[static_cast<std::size_t>(r)].size());
  return at;
}

// The rows [begin, end) of a whole table's gradient, renumbered from 0: what the shard holding
// them must return.
template <class T>
emb::Gradient<T> restricted(const emb::Gradient<T>& whole, Index begin, Index end) {
  emb::Gradient<T> out;
  std::vector<Index> keep;
  for (std::size_t k = 0; k < whole.rows.size(); ++k) {
    if (whole.rows[k] >= begin && whole.rows[k] < end) keep.push_back(static_cast<Index>(k));
  }
  out.values.resize(static_cast<Index>(keep.size()), whole.values.cols());
  for (std::size_t k = 0; k < keep.size(); ++k) {
    out.rows.push_back(whole.rows[static_cast<std::size_t>(keep[k])] - begin);
    out.values.row(static_cast<Index>(k)) = whole.values.row(keep[k]);
  }
  return out;
}

template <class T>
void check_same_gradient(const emb::Gradient<T>& got, const emb::Gradient<T>& want) {
  CHECK(got.rows == want.rows);
  if (got.rows == want.rows) CHECK(got.values == want.values);
}

// Batch sizes with an empty batch on rank 1 (when there is one).
std::vector<Index> batch_sizes(Index base) {
  std::vector<Index> sizes;
  for (int r = 0; r < world_size(); ++r) sizes.push_back(r == 1 ? 0 : base + 3 * r);
  return sizes;
}

}  // namespace

TEMPLATE_TEST_CASE("sharded lookups and gradients equal one whole Embedding's on all ranks' ids",
                   "[distributed][embedding]", float, double) {
  using T = TestType;
  const int rank = world_rank();
  const Index num = GENERATE(2, 37);  // 2: fewer rows than ranks at 3 and 4 ranks
  const Index dim = 5;
  const int variant = GENERATE(0, 1, 2, 3);
  emb::EmbeddingOptions options{.seed = run_seed};
  if (variant == 1) options.padding_idx = -1;
  if (variant == 2) options.scale_grad_by_freq = true;
  if (variant == 3) options.max_norm = 1.5;
  const bool one_owner = GENERATE(false, true);  // every id in the last row's block
  CAPTURE(num, variant, one_owner, run_seed);

  emb::Embedding<T> whole(num, dim, options);
  ShardedEmbedding<T> sharded(MPI_COMM_WORLD, num, dim, options);
  const Index begin = sharded.row_begin(), end = sharded.row_end();
  CHECK(sharded.num_local_rows() == end - begin);
  CHECK(sharded.local().weight().topRows(end - begin) ==
        whole.weight().middleRows(begin, end - begin));
  const Matrix<T> gathered = sharded.gather(0);
  if (rank == 0) CHECK(gathered == whole.weight());
  if (rank != 0) CHECK(gathered.rows() == 0);

  const Index low = one_owner ? sharded.row_begin(sharded.owner(num - 1)) : 0;
  const auto parts = batches(run_seed + 1, batch_sizes(6), low, num);
  const auto all = concatenated(parts);
  const auto& mine = parts[static_cast<std::size_t>(rank)];
  const Index at = offset_of(parts, rank), n = static_cast<Index>(mine.size());

  const Matrix<T> out = sharded.forward(mine);
  const Matrix<T> want = whole.forward(all);  // with max_norm, renorms the same rows
  CHECK(out == want.middleRows(at, n));
  CHECK(sharded.local().weight().topRows(end - begin) ==
        whole.weight().middleRows(begin, end - begin));

  const auto grad_all = emb::test::random_matrix<T>(static_cast<Index>(all.size()), dim,
                                                    static_cast<unsigned>(run_seed + 2));
  const emb::Gradient<T> got = sharded.backward(mine, grad_all.middleRows(at, n));
  check_same_gradient(got, restricted(whole.backward(all, grad_all), begin, end));

  // int32 ids take the same path.
  const std::vector<std::int32_t> narrow(mine.begin(), mine.end());
  const Matrix<T> again = sharded.forward(std::span<const std::int32_t>(narrow));
  CHECK(again == whole.forward(all).middleRows(at, n));  // max_norm may renorm again: both do
}

TEST_CASE("every optimizer steps the shards as it steps one whole table", "[distributed][optim]") {
  using T = float;
  const int rank = world_rank();
  const Index num = 29, dim = 6;
  const emb::EmbeddingOptions options{.padding_idx = 3, .seed = run_seed};
  auto run = [&](auto make) {
    emb::Embedding<T> whole(num, dim, options);
    ShardedEmbedding<T> sharded(MPI_COMM_WORLD, num, dim, options);
    auto whole_opt = make(whole);
    auto shard_opt = make(sharded.local());
    const Index begin = sharded.row_begin(), rows = sharded.num_local_rows();
    for (int step = 0; step < 3; ++step) {
      const auto parts =
          batches(run_seed + 10 + static_cast<std::uint64_t>(step), batch_sizes(5), 0, num);
      const auto all = concatenated(parts);
      const auto& mine = parts[static_cast<std::size_t>(rank)];
      // loss = 0.5 * |forward|^2: the output's gradient is the output.
      const Matrix<T> out = sharded.forward(mine);
      shard_opt.step(sharded.backward(mine, out));
      const Matrix<T> out_all = whole.forward(all);
      whole_opt.step(whole.backward(all, out_all));
      CHECK(sharded.local().weight().topRows(rows) == whole.weight().middleRows(begin, rows));
    }
    const Matrix<T> gathered = sharded.gather(0);
    if (rank == 0) CHECK(gathered == whole.weight());
  };
  using namespace emb::optim;
  for (const bool lazy : {false, true}) {
    CAPTURE(lazy);
    run([&](auto& t) {
      return SGD(t, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .lazy = lazy});
    });
    run([&](auto& t) { return Adam(t, {.lr = 0.05, .lazy = lazy}); });
    run([&](auto& t) { return AdamW(t, {.lr = 0.05, .lazy = lazy}); });
    run([&](auto& t) { return Adagrad(t, {.lr = 0.1, .lazy = lazy}); });
    run([&](auto& t) { return RowWiseAdagrad(t, {.lr = 0.1, .lazy = lazy}); });
  }
}

TEST_CASE("a bad argument on one rank throws the same exception on every rank",
          "[distributed][errors]") {
  const int rank = world_rank(), size = world_size();
  const Index num = 37, dim = 4;
  ShardedEmbedding<float> sharded(MPI_COMM_WORLD, num, dim, {.seed = 5});
  const Matrix<float> before = sharded.local().weight();
  const std::vector<Index> good{0, 36, 5};
  const std::vector<Index> bad{0, 36, rank == size - 1 ? num : 5};
  const std::string where =
      "(on rank " + std::to_string(size - 1) + " of " + std::to_string(size) + ")";
  CHECK_THROWS_AS(sharded.forward(bad), std::out_of_range);
  CHECK_THROWS_WITH(sharded.forward(bad),
                    Catch::Contains("ShardedEmbedding::forward: index 37 at position 2 is out of "
                                    "range [0, 37)") &&
                        Catch::EndsWith(where));
  CHECK_THROWS_AS(sharded.backward(bad, Matrix<float>::Zero(3, dim)), std::out_of_range);
  const Index rows = rank == 0 ? 2 : 3;  // rank 0's grad_output has the wrong shape
  CHECK_THROWS_WITH(sharded.backward(good, Matrix<float>::Zero(rows, dim)),
                    Catch::Contains("grad_output has shape (2, 4) but (3, 4) is needed") &&
                        Catch::EndsWith("(on rank 0 of " + std::to_string(size) + ")"));
  CHECK(sharded.local().weight() == before);
  CHECK(sharded.forward(good).rows() == 3);  // and the next call works

  // Options that differ between ranks are found at construction, on every rank.
  if (size > 1) {
    const auto padding = rank == 0 ? std::optional<Index>(0) : std::nullopt;
    CHECK_THROWS_WITH((ShardedEmbedding<float>(MPI_COMM_WORLD, num, dim, {.padding_idx = padding})),
                      Catch::Contains("padding_idx is set differs between rank 0 and rank 1"));
    CHECK_THROWS_AS((ShardedEmbedding<float>(MPI_COMM_WORLD, rank == 1 ? num + 1 : num, dim)),
                    std::invalid_argument);
  }
  // A bad option on one rank only: its own message, everywhere.
  CHECK_THROWS_WITH(
      (ShardedEmbedding<float>(MPI_COMM_WORLD, rank == size - 1 ? 0 : num, dim)),
      Catch::Contains("num_embeddings must be positive, got 0") && Catch::EndsWith(where));
  CHECK_THROWS_AS(sharded.gather(size), std::invalid_argument);
}

TEST_CASE("gather collects the table on any root", "[distributed][gather]") {
  const int size = world_size(), rank = world_rank();
  const int root = size - 1;
  ShardedEmbedding<double> sharded(MPI_COMM_WORLD, 11, 3, {.seed = 8});
  const Matrix<double> gathered = sharded.gather(root);
  if (rank == root) CHECK(gathered == emb::Embedding<double>(11, 3, {.seed = 8}).weight());
  if (rank != root) CHECK(gathered.rows() == 0);
}

TEMPLATE_TEST_CASE("sharded bags pool and differentiate as one whole EmbeddingBag",
                   "[distributed][bag]", float, double) {
  using T = TestType;
  const int rank = world_rank(), size = world_size();
  const Index num = GENERATE(3, 41), dim = 7;
  const BagMode mode = GENERATE(BagMode::sum, BagMode::mean, BagMode::max);
  const int variant = GENERATE(0, 1, 2, 3, 4);
  if (variant == 3 && mode == BagMode::max) return;  // refused, as PyTorch (tested below)
  emb::EmbeddingBagOptions options{.mode = mode, .seed = run_seed + 3};
  if (variant == 1) options.padding_idx = 1;
  if (variant == 2) options.include_last_offset = true;
  if (variant == 3) options.scale_grad_by_freq = true;
  if (variant == 4) options.max_norm = 2.0;
  const bool weighted = mode == BagMode::sum && variant != 1;  // rank 0 passes weights
  CAPTURE(num, to_string(mode), variant, run_seed);

  // Every rank's bags: rank 1 has none; lengths 0 to 4 (empty bags too).
  std::mt19937_64 engine(run_seed + 4);
  std::vector<std::vector<Index>> ids(static_cast<std::size_t>(size)), offsets(ids.size());
  std::vector<std::vector<T>> weights(ids.size());
  std::vector<Index> all_ids, all_offsets;
  std::vector<T> all_weights;
  std::vector<Index> bag_begin(ids.size());  // each rank's first bag in the concatenation
  for (int r = 0; r < size; ++r) {
    const auto sr = static_cast<std::size_t>(r);
    bag_begin[sr] = static_cast<Index>(all_offsets.size());
    const int bags = r == 1 ? 0 : 3 + r;
    for (int b = 0; b < bags; ++b) {
      offsets[sr].push_back(static_cast<Index>(ids[sr].size()));
      all_offsets.push_back(static_cast<Index>(all_ids.size()));
      const auto length = engine() % 5;
      for (std::uint64_t k = 0; k < length; ++k) {
        const auto id = static_cast<Index>(engine() % static_cast<std::uint64_t>(num));
        const T w = static_cast<T>(0.25 * static_cast<double>(engine() % 8) - 0.5);
        ids[sr].push_back(id);
        all_ids.push_back(id);
        if (weighted && r == 0) weights[sr].push_back(w);
        all_weights.push_back(weighted && r == 0 ? w : T(1));
      }
    }
    if (options.include_last_offset) {
      offsets[sr].push_back(static_cast<Index>(ids[sr].size()));
      ids[sr].push_back(num - 1);  // in no bag
      if (weighted && r == 0) weights[sr].push_back(T(3));
    }
  }
  const auto sr = static_cast<std::size_t>(rank);
  const Index my_bags =
      static_cast<Index>(offsets[sr].size()) - (options.include_last_offset ? 1 : 0);

  auto whole_options = options;
  whole_options.include_last_offset = false;
  emb::EmbeddingBag<T> whole(num, dim, whole_options);
  ShardedEmbeddingBag<T> sharded(MPI_COMM_WORLD, num, dim, options);
  REQUIRE(sharded.local().weight().topRows(sharded.num_local_rows()) ==
          whole.weight().middleRows(sharded.row_begin(), sharded.num_local_rows()));

  const auto want = whole.forward(
      all_ids, all_offsets, weighted ? std::span<const T>(all_weights) : std::span<const T>());
  const auto got = sharded.forward(ids[sr], offsets[sr], weights[sr]);
  const Matrix<T> expected = want.output.middleRows(bag_begin[sr], my_bags);
  REQUIRE(got.output.rows() == my_bags);
  if (mode == BagMode::max || size == 1) {
    CHECK(got.output == expected);
  } else {
    const T tolerance = std::is_same_v<T, float> ? T(1e-5) : T(1e-12);
    CHECK(((got.output - expected).cwiseAbs().array() <=
           tolerance * (1 + expected.cwiseAbs().array()))
              .all());
  }

  const Index total = static_cast<Index>(all_offsets.size());
  const auto grad_all =
      emb::test::random_matrix<T>(total, dim, static_cast<unsigned>(run_seed + 5));
  const auto whole_grad = whole.backward(want, grad_all);
  const auto grad = sharded.backward(got, grad_all.middleRows(bag_begin[sr], my_bags));
  const auto want_grad = restricted(whole_grad.weight, sharded.row_begin(), sharded.row_end());
  if (mode == BagMode::mean && options.scale_grad_by_freq) {
    // (1 / f) * ((1 / n) * g) here, ((1 / f) / n) * g there: equal to rounding.
    CHECK(grad.weight.rows == want_grad.rows);
    if (grad.weight.rows == want_grad.rows) {
      const T tolerance = std::is_same_v<T, float> ? T(1e-6) : T(1e-14);
      CHECK(((grad.weight.values - want_grad.values).cwiseAbs().array() <=
             tolerance * (1 + want_grad.values.cwiseAbs().array()))
                .all());
    }
  } else {
    check_same_gradient(grad.weight, want_grad);
  }
  if (weighted && rank == 0) {
    REQUIRE(grad.per_sample_weights.size() == ids[sr].size());
    const auto n_in_bags = static_cast<std::ptrdiff_t>(
        options.include_last_offset ? ids[sr].size() - 1 : ids[sr].size());
    CHECK(std::vector<T>(grad.per_sample_weights.begin(),
                         grad.per_sample_weights.begin() + n_in_bags) ==
          std::vector<T>(whole_grad.per_sample_weights.begin(),
                         whole_grad.per_sample_weights.begin() + n_in_bags));
    if (options.include_last_offset) CHECK(grad.per_sample_weights.back() == T(0));
  } else {
    CHECK(grad.per_sample_weights.empty());
  }
}

TEST_CASE("sharded bags refuse bad arguments on every rank", "[distributed][bag][errors]") {
  const int rank = world_rank(), size = world_size();
  ShardedEmbeddingBag<float> bag(MPI_COMM_WORLD, 10, 3, {.mode = BagMode::mean, .seed = 2});
  const std::vector<Index> ids{1, 2, 3};
  const std::vector<Index> offsets{0, rank == size - 1 ? 4 : 1};
  CHECK_THROWS_AS(bag.forward(ids, offsets), std::out_of_range);
  const std::vector<float> weights{1, 1, 1};
  CHECK_THROWS_WITH(bag.forward(ids, std::vector<Index>{0, 1}, weights),
                    Catch::Contains("per_sample_weights is only supported with mode sum"));
  const auto result = bag.forward(ids, std::vector<Index>{0, 1});
  CHECK_THROWS_AS(bag.backward(result, Matrix<float>::Zero(rank == 0 ? 3 : 2, 3)),
                  std::invalid_argument);
  CHECK_THROWS_WITH((ShardedEmbeddingBag<float>(
                        MPI_COMM_WORLD, 10, 3, {.mode = BagMode::max, .scale_grad_by_freq = true})),
                    Catch::Contains("scale_grad_by_freq is not supported with mode max"));
}

TEST_CASE("sharded checkpoints load into a whole table, back, and onto other rank counts",
          "[distributed][checkpoint]") {
  namespace fs = std::filesystem;
  const int rank = world_rank(), size = world_size();
  const Index num = 23, dim = 5;
  // One folder for all ranks: rank 0 names it.
  std::uint64_t tag = std::random_device{}();
  MPI_Bcast(&tag, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  const fs::path dir = fs::temp_directory_path() / ("emb-distributed-" + std::to_string(tag));
  if (rank == 0) fs::create_directories(dir);
  MPI_Barrier(MPI_COMM_WORLD);
  std::vector<fs::path> files;
  for (int r = 0; r < size; ++r) files.push_back(dir / ("shard-" + std::to_string(r)));

  const emb::EmbeddingOptions options{.padding_idx = 4, .max_norm = 3.0, .seed = run_seed + 6};
  ShardedEmbedding<float> sharded(MPI_COMM_WORLD, num, dim, options);
  emb::optim::Adam opt(sharded.local(), {.lr = 0.1, .lazy = true});
  const std::vector<Index> ids{static_cast<Index>(rank) % num, 22, 4, 7};
  opt.step(sharded.backward(ids, sharded.forward(ids)));
  emb::save_checkpoint(files[static_cast<std::size_t>(rank)], sharded, opt);
  MPI_Barrier(MPI_COMM_WORLD);
  const Matrix<float> table = sharded.gather(0);
  const Index begin = sharded.row_begin(), rows = sharded.num_local_rows();

  // Shards -> one whole Embedding (no MPI needed), on every rank.
  const auto whole = emb::distributed::load_embedding<float>(files);
  CHECK(whole.weight().middleRows(begin, rows) == sharded.local().weight().topRows(rows));
  CHECK(whole.padding_idx() == std::optional<Index>(4));
  CHECK(whole.max_norm() == std::optional<double>(3.0));
  CHECK_FALSE(whole.frozen());
  if (rank == 0) CHECK(whole.weight() == table);

  // The same layout, with the optimizer: training resumes bit for bit.
  ShardedEmbedding<float> resumed(MPI_COMM_WORLD, num, dim, {.padding_idx = 4, .max_norm = 3.0});
  emb::optim::Adam resumed_opt(resumed.local(), {.lr = 0.1, .lazy = true});
  emb::load_checkpoint(files[static_cast<std::size_t>(rank)], resumed, resumed_opt);
  opt.step(sharded.backward(ids, sharded.forward(ids)));
  resumed_opt.step(resumed.backward(ids, resumed.forward(ids)));
  CHECK(resumed.local().weight() == sharded.local().weight());

  // Onto fewer ranks: the shards of `size` ranks read by size - 1 of them (or 1).
  MPI_Comm fewer = MPI_COMM_NULL;
  const int ranks = std::max(1, size - 1);
  MPI_Comm_split(MPI_COMM_WORLD, rank < ranks ? 0 : MPI_UNDEFINED, rank, &fewer);
  if (fewer != MPI_COMM_NULL) {
    ShardedEmbedding<float> other(fewer, num, dim, {.padding_idx = 4, .max_norm = 3.0});
    other.load_shards(files);
    CHECK(other.size() == ranks);
    CHECK(other.local().weight().topRows(other.num_local_rows()) ==
          whole.weight().middleRows(other.row_begin(), other.num_local_rows()));
    MPI_Comm_free(&fewer);
  }

  // A whole Embedding's checkpoint -> shards.
  if (rank == 0) emb::save_checkpoint(dir / "whole", whole);
  MPI_Barrier(MPI_COMM_WORLD);
  ShardedEmbedding<float> from_whole(MPI_COMM_WORLD, num, dim, {.padding_idx = 4, .max_norm = 3.0});
  const std::vector<fs::path> whole_file{dir / "whole"};
  from_whole.load_shards(whole_file);
  CHECK(from_whole.local().weight().topRows(rows) == whole.weight().middleRows(begin, rows));

  // A missing file on one rank: every rank throws, none changes.
  const Matrix<float> before = from_whole.local().weight();
  std::vector<fs::path> some = files;
  if (rank == size - 1) some = {dir / "missing"};
  CHECK_THROWS_AS(from_whole.load_shards(some), std::runtime_error);
  CHECK(from_whole.local().weight() == before);
  // Other options than the table's are refused.
  ShardedEmbedding<float> plain(MPI_COMM_WORLD, num, dim);
  CHECK_THROWS_WITH(plain.load_shards(files), Catch::Contains("other options"));

  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) fs::remove_all(dir);
}

TEST_CASE("from_pretrained keeps each rank's block of the given weight, frozen by default",
          "[distributed][pretrained]") {
  const int rank = world_rank();
  const Index num = 13, dim = 3;
  const auto weight = emb::test::random_matrix<double>(num, dim, 21);
  auto frozen =
      ShardedEmbedding<float>::from_pretrained(MPI_COMM_WORLD, weight, {.padding_idx = 0});
  const Matrix<float> converted = weight.cast<float>();
  CHECK(frozen.frozen());
  CHECK(frozen.local().weight().topRows(frozen.num_local_rows()) ==
        converted.middleRows(frozen.row_begin(), frozen.num_local_rows()));
  CHECK(frozen.local().weight().topRows(frozen.num_local_rows()).row(0).isZero() == false);
  const std::vector<Index> ids{0, 12, static_cast<Index>(rank) % num};
  const Matrix<float> out = frozen.forward(ids);
  for (std::size_t k = 0; k < ids.size(); ++k) {
    CHECK(out.row(static_cast<Index>(k)) == converted.row(ids[k]));  // padding row not zeroed
  }
  CHECK(frozen.backward(ids, out).empty());

  auto trainable = ShardedEmbedding<float>::from_pretrained(MPI_COMM_WORLD, weight, {}, false);
  CHECK_FALSE(trainable.frozen());
  const auto grad = trainable.backward(ids, out);
  CHECK(grad.num_embeddings == trainable.local().num_embeddings());

  auto bag = ShardedEmbeddingBag<float>::from_pretrained(MPI_COMM_WORLD, weight,
                                                         {.mode = BagMode::sum}, false);
  const std::vector<Index> bag_ids{1, 2, 12}, offsets{0, 1};
  const auto pooled = bag.forward(bag_ids, offsets);
  CHECK(pooled.output.row(0) == converted.row(1));
  CHECK((pooled.output.row(1) - (converted.row(2) + converted.row(12))).cwiseAbs().maxCoeff() <=
        1e-6f);
}

TEST_CASE("sharded bag checkpoints load into a whole EmbeddingBag", "[distributed][checkpoint]") {
  namespace fs = std::filesystem;
  const int rank = world_rank(), size = world_size();
  std::uint64_t tag = std::random_device{}();
  MPI_Bcast(&tag, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  const fs::path dir = fs::temp_directory_path() / ("emb-distributed-bag-" + std::to_string(tag));
  if (rank == 0) fs::create_directories(dir);
  MPI_Barrier(MPI_COMM_WORLD);
  std::vector<fs::path> files;
  for (int r = 0; r < size; ++r) files.push_back(dir / ("shard-" + std::to_string(r)));

  const emb::EmbeddingBagOptions options{.mode = BagMode::max, .padding_idx = 2, .seed = 31};
  ShardedEmbeddingBag<double> bag(MPI_COMM_WORLD, 9, 4, options);
  emb::save_checkpoint(files[static_cast<std::size_t>(rank)], bag);
  MPI_Barrier(MPI_COMM_WORLD);
  const auto whole = emb::distributed::load_embedding_bag<double>(files);
  CHECK(whole.mode() == BagMode::max);
  CHECK(whole.padding_idx() == std::optional<Index>(2));
  CHECK(whole.weight() == emb::EmbeddingBag<double>(9, 4, options).weight());

  // Onto the same layout through load_checkpoint, and refused onto another shape.
  ShardedEmbeddingBag<double> same(MPI_COMM_WORLD, 9, 4, {.mode = BagMode::max, .padding_idx = 2});
  emb::load_checkpoint(files[static_cast<std::size_t>(rank)], same);
  CHECK(same.local().weight() == bag.local().weight());
  ShardedEmbeddingBag<double> other(MPI_COMM_WORLD, 10, 4,
                                    {.mode = BagMode::max, .padding_idx = 2});
  CHECK_THROWS_AS(emb::load_checkpoint(files[static_cast<std::size_t>(rank)], other),
                  std::runtime_error);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) fs::remove_all(dir);
}

TEST_CASE("each rank's shard is on huge pages, as a whole table is", "[distributed][huge_pages]") {
  using emb::test::advised_cols;
  using emb::test::advised_rows;
  using emb::test::huge_page_advice_of;
  if (!emb::test::huge_page_advice_visible()) return;
  const Index rows = advised_rows * world_size();  // advised_rows a rank
  ShardedEmbedding<float> drawn(MPI_COMM_WORLD, rows, advised_cols, {.seed = 1});
  CHECK(huge_page_advice_of(drawn.local().weight()) == true);
  const Matrix<float> whole = Matrix<float>::Constant(rows, advised_cols, 0.5f);
  const auto pretrained = ShardedEmbedding<float>::from_pretrained(MPI_COMM_WORLD, whole);
  CHECK(huge_page_advice_of(pretrained.local().weight()) == true);
  CHECK(pretrained.local().weight() == whole.topRows(advised_rows));

  // Results of a table's size: the gathered table and a forward over advised_rows ids.
  const Matrix<float> gathered = pretrained.gather(0);
  if (world_rank() == 0) {
    CHECK(gathered == whole);
    CHECK(huge_page_advice_of(gathered) == true);
  }
  std::vector<Index> ids(static_cast<std::size_t>(advised_rows));
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<Index>(i) * world_size();
  const Matrix<float> out = drawn.forward(ids);
  const Matrix<float> drawn_whole = drawn.gather(0);
  if (world_rank() == 0) CHECK(out.row(1) == drawn_whole.row(world_size()));
  CHECK(huge_page_advice_of(out) == true);

  // A whole table read back from the shards, as one read from a whole table's checkpoint.
  namespace fs = std::filesystem;
  std::uint64_t tag = std::random_device{}();
  MPI_Bcast(&tag, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  const fs::path dir = fs::temp_directory_path() / ("emb-distributed-huge-" + std::to_string(tag));
  if (world_rank() == 0) fs::create_directories(dir);
  MPI_Barrier(MPI_COMM_WORLD);
  std::vector<fs::path> files;
  for (int r = 0; r < world_size(); ++r) files.push_back(dir / ("shard-" + std::to_string(r)));
  emb::save_checkpoint(files[static_cast<std::size_t>(world_rank())], pretrained);
  MPI_Barrier(MPI_COMM_WORLD);
  if (world_rank() == 0) {  // needs no MPI: one rank reads every shard
    const auto loaded = emb::distributed::load_embedding<float>(files);
    CHECK(loaded.weight() == whole);
    CHECK(huge_page_advice_of(loaded.weight()) == true);
    fs::remove_all(dir);
  }
}
