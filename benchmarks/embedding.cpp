// Embedding forward (gather) and backward (coalesce) over sweeps of rows, dim, batch and index
// distribution. Bytes per second count the rows moved: N x D x sizeof(float) read and written.

#include <benchmark/benchmark.h>
#include <emb/embedding.hpp>

#include "workloads.hpp"

namespace {

using emb::Index;
using emb::bench::Distribution;

void set_counters(benchmark::State& state, Index n, Index dim) {
  const auto bytes = static_cast<std::int64_t>(n * dim) * static_cast<std::int64_t>(sizeof(float));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * bytes);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * n);
}

// Args: rows, dim, batch, distribution (0 uniform, 1 zipf).
void forward_into(benchmark::State& state) {
  const Index rows = state.range(0), dim = state.range(1), n = state.range(2);
  emb::Embedding<float> table(rows, dim, {.seed = 1});
  const auto idx = emb::bench::make_indices(rows, n, static_cast<Distribution>(state.range(3)));
  emb::Matrix<float> out(n, dim);
  for (auto _ : state) {
    table.forward(idx, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, n, dim);
}

void forward_alloc(benchmark::State& state) {
  const Index rows = state.range(0), dim = state.range(1), n = state.range(2);
  emb::Embedding<float> table(rows, dim, {.seed = 1});
  const auto idx = emb::bench::make_indices(rows, n, static_cast<Distribution>(state.range(3)));
  for (auto _ : state) {
    auto out = table.forward(idx);
    benchmark::DoNotOptimize(out.data());
  }
  set_counters(state, n, dim);
}

void backward(benchmark::State& state) {
  const Index rows = state.range(0), dim = state.range(1), n = state.range(2);
  emb::Embedding<float> table(rows, dim, {.seed = 1});
  const auto idx = emb::bench::make_indices(rows, n, static_cast<Distribution>(state.range(3)));
  const emb::Matrix<float> grad_out = emb::Matrix<float>::Ones(n, dim);
  for (auto _ : state) {
    auto grad = table.backward(idx, grad_out);
    benchmark::DoNotOptimize(grad.values.data());
  }
  set_counters(state, n, dim);
}

// The workloads W1 (NLP), W2 (recommendation), W3 (small), then sweeps of one knob.
void workloads(benchmark::internal::Benchmark* b) {
  b->ArgNames({"rows", "dim", "batch", "zipf"});
  b->Args({50'000, 300, 16'384, 1})
      ->Args({1'000'000, 128, 65'536, 1})
      ->Args({10'000, 64, 4'096, 1});
  for (Index rows : {10'000, 100'000, 1'000'000}) b->Args({rows, 128, 16'384, 0});
  for (Index dim : {16, 64, 256, 512}) b->Args({100'000, dim, 16'384, 0});
  for (Index batch : {1, 64, 1'024, 65'536}) b->Args({100'000, 128, batch, 0});
  b->Args({100'000, 128, 16'384, 1});
}

BENCHMARK(forward_into)->Apply(workloads)->UseRealTime();
BENCHMARK(forward_alloc)->Apply(workloads)->UseRealTime();
BENCHMARK(backward)->Apply(workloads)->UseRealTime();

}  // namespace
