// Embedding forward (gather) and backward (coalesce) over sweeps of rows, dim, batch and index
// distribution; their bytes per second count the rows moved, N x D x sizeof(float) read and
// written. And backward's grouping of positions by row alone, in positions per second, a whole
// lazy SGD training step, and a gradient made dense (to_dense), in bytes of the table per second.
// And what one thread's memory does at all (memory): reading, and writing with ordinary and with
// non-temporal stores, buffers of the workloads' output sizes, the floor under a gather that must
// write its output and a backward that must read the gradients; writing a fresh one, the floor
// under an allocating forward; and copies, with memcpy and with non-temporal stores.

#include <algorithm>  // std::max
#include <cstddef>    // std::size_t
#include <cstdint>    // std::int64_t
#include <cstring>    // std::memcpy
#include <optional>   // std::optional
#include <utility>    // std::pair
#include <vector>     // std::vector

#include <benchmark/benchmark.h>
#include <emb/detail/huge_pages.hpp>
#include <emb/detail/row_copy.hpp>
#include <emb/detail/sort.hpp>
#include <emb/embedding.hpp>
#include <emb/optim.hpp>

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

// Backward's grouping alone (detail::group_positions). Args: rows, batch (Zipf ids), in_order
// (1: each position's group, for one thread's walk in input order; 0: the grouped order, for the
// walk by rows). Up to detail::bitmap_ratio rows per position it marks rows in a bitmap, beyond
// it radix-sorts the positions (docs/PERFORMANCE.md).
void grouping(benchmark::State& state) {
  const Index rows = state.range(0), n = state.range(1);
  const bool in_order = state.range(2) != 0;
  const auto idx = emb::bench::make_indices(rows, n, Distribution::zipf);
  for (auto _ : state) {
    auto groups = emb::detail::group_positions(idx.data(), idx.size(), rows, in_order);
    benchmark::DoNotOptimize(groups.rows.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * n);
}

// W1, W2, W3, then the sizes docs/PERFORMANCE.md measured the bitmap against the radix sort at.
void grouping_sizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"rows", "batch", "in_order"});
  for (const std::int64_t in_order : {0, 1}) {
    for (const auto& [rows, n] : std::vector<std::pair<Index, Index>>{{50'000, 16'384},
                                                                      {1'000'000, 65'536},
                                                                      {10'000, 4'096},
                                                                      {250'000, 4'096},
                                                                      {1'000'000, 16'384},
                                                                      {4'000'000, 65'536},
                                                                      {500'000, 4'096},
                                                                      {2'000'000, 16'384},
                                                                      {10'000'000, 65'536},
                                                                      {4'000'000, 16'384},
                                                                      {16'000'000, 65'536}}) {
      b->Args({rows, n, in_order});
    }
  }
}

// One lazy SGD training step, compare_libtorch's pair without LibTorch: forward, backward,
// step. Args: rows, dim, batch (Zipf ids), copied (1: the step trains a copy of the table, as
// compare_libtorch does). A copy must be as fast as the table it was made from: both on huge
// pages (detail/huge_pages.hpp).
void train_step(benchmark::State& state) {
  const Index rows = state.range(0), dim = state.range(1), n = state.range(2);
  emb::Embedding<float> made(rows, dim, {.seed = 1});
  std::optional<emb::Embedding<float>> copy;
  if (state.range(3) != 0) copy.emplace(made);
  emb::Embedding<float>& table = copy ? *copy : made;
  const auto idx = emb::bench::make_indices(rows, n, Distribution::zipf);
  emb::Matrix<float> out(n, dim);
  const emb::Matrix<float> grad_out = emb::Matrix<float>::Constant(n, dim, 0.5f);
  emb::optim::SGD<float> sgd(table, {.lr = 1e-3f, .lazy = true});
  for (auto _ : state) {
    table.forward(idx, out);
    sgd.step(table.backward(idx, grad_out));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * n);
}

// Gradient::to_dense of backward's gradient: a fresh (rows, dim) result, the size of the table,
// each call. Args: rows, dim, batch (Zipf ids).
void to_dense(benchmark::State& state) {
  const Index rows = state.range(0), dim = state.range(1), n = state.range(2);
  emb::Embedding<float> table(rows, dim, {.seed = 1});
  const auto idx = emb::bench::make_indices(rows, n, Distribution::zipf);
  const auto grad = table.backward(idx, emb::Matrix<float>::Ones(n, dim));
  for (auto _ : state) {
    auto dense = grad.to_dense();
    benchmark::DoNotOptimize(dense.data());
  }
  set_counters(state, rows, dim);
}

// One thread moving `bytes`: reading a buffer (op 0), writing one from a 64 KiB source that
// stays in cache with ordinary stores (op 1) or non-temporal ones (op 2), as the gather does
// (detail/row_copy.hpp: copy_row, copy_row_stream), or copying one buffer into the next with
// glibc's memcpy (op 4) or with non-temporal stores (op 5): compare_libtorch's roofline and the
// copy the gather's stores make. Each pass takes the next of the buffers that fill 512 MiB, so
// that its buffer has left the caches (the hosts measured have 32-33 MiB of L3) since its last
// pass. Op 3 writes, with non-temporal stores, a fresh buffer each pass instead, made as an
// allocating forward makes its result (detail::allocate_table, on huge pages where granted) and
// freed after: what new memory costs over memory already mapped. Args: bytes (a multiple of
// 64 KiB), op.
void memory(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  const auto op = state.range(1);
  constexpr std::size_t chunk = 64 << 10;
  const emb::Matrix<float> source = emb::Matrix<float>::Constant(chunk / 4, 1, 2.0f);
  const auto floats = static_cast<Index>(bytes / 4);
  std::vector<emb::Matrix<float>> buffers;
  if (op != 3) {
    const std::size_t count = std::max<std::size_t>(3, (std::size_t{512} << 20) / bytes);
    for (std::size_t b = 0; b < count; ++b) {
      buffers.push_back(emb::Matrix<float>::Constant(floats, 1, 1.0f));
    }
  }
  std::size_t next = 0;
  for (auto _ : state) {
    emb::Matrix<float> fresh;
    if (op == 3) fresh = emb::detail::allocate_table<float>(floats, 1);
    auto& buffer = op == 3 ? fresh : buffers[next++ % buffers.size()];
    auto* at = reinterpret_cast<char*>(buffer.data());
    const auto* from = reinterpret_cast<const char*>(op >= 4 ? buffers[next % buffers.size()].data()
                                                             : source.data());
    const std::size_t step = op >= 4 ? bytes : chunk;  // a copy's source is a whole buffer
    switch (op) {
      case 0:
        benchmark::DoNotOptimize(buffer.sum());
        break;
      case 1:
        for (std::size_t offset = 0; offset < bytes; offset += step) {
          emb::detail::copy_row(at + offset, from, step);
        }
        break;
      case 4:
        std::memcpy(at, from, bytes);
        break;
      default:  // 2, 3, 5
        for (std::size_t offset = 0; offset < bytes; offset += step) {
          emb::detail::copy_row_stream(at + offset, from, step);
        }
        emb::detail::store_fence();
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
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
BENCHMARK(grouping)->Apply(grouping_sizes)->UseRealTime();
BENCHMARK(train_step)
    ->ArgNames({"rows", "dim", "batch", "copied"})
    ->ArgsProduct({{50'000}, {300}, {16'384}, {0, 1}})
    ->ArgsProduct({{1'000'000}, {128}, {65'536}, {0, 1}})
    ->ArgsProduct({{10'000}, {64}, {4'096}, {0, 1}})
    ->UseRealTime();
BENCHMARK(to_dense)
    ->ArgNames({"rows", "dim", "batch"})
    ->Args({50'000, 300, 16'384})
    ->Args({1'000'000, 128, 65'536})
    ->Args({10'000, 64, 4'096})
    ->UseRealTime();
// W1's and W2's forward outputs (and per-position gradients).
BENCHMARK(memory)
    ->ArgNames({"bytes", "op"})
    ->ArgsProduct({{16'384 * 300 * 4, 65'536 * 128 * 4}, {0, 1, 2, 3, 4, 5}})
    ->UseRealTime();

}  // namespace
