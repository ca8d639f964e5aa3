// Compressed tables: how fast rows decode (the inner loop of every quantized lookup) and how fast
// a table packs, per storage. Counters: row_bytes (resident bytes per row) and values/s.
//
//   cmake --preset bench && cmake --build build/bench -j2 --target bench_quantized
//   build/bench/benchmarks/bench_quantized --benchmark_repetitions=5

#include <cstdint>  // std::uint32_t
#include <random>   // std::mt19937
#include <vector>   // std::vector

#include <benchmark/benchmark.h>

#include <emb/quantized.hpp>

namespace {

using emb::Index;
using emb::Storage;

emb::Matrix<float> random_table(Index rows, Index cols) {
  std::mt19937 gen(7);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  emb::Matrix<float> w(rows, cols);
  for (Index i = 0; i < w.size(); ++i) w.data()[i] = normal(gen);
  return w;
}

// Decodes every column of 4,096 rows of a 4,096-row table (resident in L2/L3: the decode, not
// memory, is measured), 64 columns at a time as the bag kernels ask.
void decode(benchmark::State& state, Storage storage) {
  const Index rows = 4096, dim = state.range(0);
  const auto table = emb::QuantizedTable::quantize(random_table(rows, dim), storage);
  std::vector<float> scratch(64);
  table.visit_rows([&](const auto& source) {
    for (auto _ : state) {
      for (Index r = 0; r < rows; ++r) {
        for (Index c = 0; c < dim; c += 64) {
          const float* got = source.columns(r, c, std::min<Index>(64, dim - c), scratch.data());
          benchmark::DoNotOptimize(got);
          benchmark::ClobberMemory();
        }
      }
    }
  });
  state.counters["row_bytes"] = static_cast<double>(table.row_bytes());
  state.SetItemsProcessed(state.iterations() * rows * dim);
}

void quantize(benchmark::State& state, Storage storage) {
  const auto weight = random_table(10000, state.range(0));
  for (auto _ : state) {
    auto table = emb::QuantizedTable::quantize(weight, storage);
    benchmark::DoNotOptimize(table.bytes().data());
  }
  state.SetItemsProcessed(state.iterations() * weight.size());
}

#define EMB_STORAGE_BENCHMARKS(name)                                  \
  BENCHMARK_CAPTURE(decode, name, Storage::name)->Arg(128)->Arg(300); \
  BENCHMARK_CAPTURE(quantize, name, Storage::name)->Arg(128)->Unit(benchmark::kMillisecond)

EMB_STORAGE_BENCHMARKS(float32);
EMB_STORAGE_BENCHMARKS(float16);
EMB_STORAGE_BENCHMARKS(bfloat16);
EMB_STORAGE_BENCHMARKS(int8);
EMB_STORAGE_BENCHMARKS(int4);
EMB_STORAGE_BENCHMARKS(int2);

}  // namespace
