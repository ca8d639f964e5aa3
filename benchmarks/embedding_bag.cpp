// EmbeddingBag forward and backward on a recommendation-sized workload: a 1,000,000 x 128 float
// table, 4,096 bags of 20 indices drawn uniformly (a random gather over 512 MB). Calls cycle
// through 7 such batches, so a batch's rows are no longer in cache when it comes back.
//
//   cmake --preset bench && cmake --build build/bench -j2 --target bench_embedding_bag
//   build/bench/benchmarks/bench_embedding_bag

#include <cstdint>  // std::uint64_t
#include <random>   // std::mt19937_64
#include <vector>   // std::vector

#include <benchmark/benchmark.h>
#include <emb/embedding_bag.hpp>

namespace {

constexpr emb::Index num_embeddings = 1'000'000;
constexpr emb::Index embedding_dim = 128;
constexpr emb::Index bags = 4096;
constexpr emb::Index bag_size = 20;

constexpr int batches = 7;

struct Workload {
  std::vector<std::vector<emb::Index>> indices;  // one per batch
  std::vector<emb::Index> offsets;
  emb::Matrix<float> grad_output;
};

const Workload& workload() {
  static const Workload w = [] {
    Workload made;
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<emb::Index> row(0, num_embeddings - 1);
    made.indices.resize(batches);
    for (auto& batch : made.indices) {
      for (emb::Index i = 0; i < bags * bag_size; ++i) batch.push_back(row(rng));
    }
    for (emb::Index b = 0; b < bags; ++b) made.offsets.push_back(b * bag_size);
    made.grad_output = emb::Matrix<float>::Ones(bags, embedding_dim);
    return made;
  }();
  return w;
}

// One table per mode, built once: filling 128M normals takes longer than the benchmark.
emb::EmbeddingBag<float>& table(emb::BagMode mode) {
  static emb::EmbeddingBag<float> sum(num_embeddings, embedding_dim,
                                      {.mode = emb::BagMode::sum, .seed = 1});
  static emb::EmbeddingBag<float> mean(num_embeddings, embedding_dim,
                                       {.mode = emb::BagMode::mean, .seed = 1});
  static emb::EmbeddingBag<float> max(num_embeddings, embedding_dim,
                                      {.mode = emb::BagMode::max, .seed = 1});
  return mode == emb::BagMode::sum ? sum : mode == emb::BagMode::mean ? mean : max;
}

void set_counters(benchmark::State& state) {
  const auto rows = static_cast<double>(bags * bag_size);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * bags * bag_size);
  state.counters["gathered_GB/s"] = benchmark::Counter(
      rows * embedding_dim * sizeof(float) * static_cast<double>(state.iterations()) / 1e9,
      benchmark::Counter::kIsRate);
}

void BM_forward(benchmark::State& state, emb::BagMode mode) {
  const auto& w = workload();
  auto& t = table(mode);
  int call = 0;
  for (auto _ : state) {
    auto result = t.forward(w.indices[static_cast<std::size_t>(call++ % batches)], w.offsets);
    benchmark::DoNotOptimize(result.output.data());
  }
  set_counters(state);
}

void BM_backward(benchmark::State& state, emb::BagMode mode) {
  const auto& w = workload();
  auto& t = table(mode);
  std::vector<emb::BagResult<float>> results;
  for (const auto& batch : w.indices) results.push_back(t.forward(batch, w.offsets));
  int call = 0;
  for (auto _ : state) {
    auto grad = t.backward(results[static_cast<std::size_t>(call++ % batches)], w.grad_output);
    benchmark::DoNotOptimize(grad.weight.values.data());
  }
  set_counters(state);
}

void BM_forward_per_sample_weights(benchmark::State& state) {
  const auto& w = workload();
  auto& t = table(emb::BagMode::sum);
  const std::vector<float> weights(w.indices.front().size(), 0.5f);
  int call = 0;
  for (auto _ : state) {
    auto result =
        t.forward(w.indices[static_cast<std::size_t>(call++ % batches)], w.offsets, weights);
    benchmark::DoNotOptimize(result.output.data());
  }
  set_counters(state);
}

}  // namespace

BENCHMARK_CAPTURE(BM_forward, sum, emb::BagMode::sum)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_forward, mean, emb::BagMode::mean)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_forward, max, emb::BagMode::max)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_forward_per_sample_weights)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_backward, sum, emb::BagMode::sum)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_backward, mean, emb::BagMode::mean)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_backward, max, emb::BagMode::max)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
