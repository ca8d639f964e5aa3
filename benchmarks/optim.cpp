// Optimizer steps: lazy steps on a large table (cost must follow the touched rows, not the
// table) and dense steps (one fused pass over table and state).
//
//   cmake -S . -B build/bench -DEMB_BUILD_BENCHMARKS=ON -DCMAKE_BUILD_TYPE=Release
//   cmake --build build/bench --target bench_optim
//   build/bench/benchmarks/bench_optim --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true   (one command line)

#include <algorithm>  // std::sort, std::unique
#include <cstdint>    // std::uint64_t
#include <random>     // std::mt19937_64
#include <vector>     // std::vector

#include <benchmark/benchmark.h>
#include <emb/embedding.hpp>
#include <emb/optim.hpp>

namespace {

// A gradient of `touched` distinct random rows of a (num, dim) table.
emb::Gradient<float> random_gradient(emb::Index num, emb::Index dim, emb::Index touched) {
  std::mt19937_64 engine(42);
  std::uniform_int_distribution<emb::Index> row(0, num - 1);
  emb::Gradient<float> grad;
  grad.num_embeddings = num;
  while (static_cast<emb::Index>(grad.rows.size()) < touched) {
    grad.rows.push_back(row(engine));
    if (static_cast<emb::Index>(grad.rows.size()) == touched) {
      std::sort(grad.rows.begin(), grad.rows.end());
      grad.rows.erase(std::unique(grad.rows.begin(), grad.rows.end()), grad.rows.end());
    }
  }
  grad.values = emb::Matrix<float>::Random(touched, dim) * 0.01f;
  return grad;
}

// One step per iteration; args: num_embeddings, embedding_dim, touched rows.
template <class Opt, class Options>
void run(benchmark::State& state, Options options) {
  const emb::Index num = state.range(0), dim = state.range(1), touched = state.range(2);
  emb::Embedding<float> table(num, dim, {.seed = 1});
  Opt opt(table, options);
  const auto grad = random_gradient(num, dim, touched);
  for (auto _ : state) {
    opt.step(grad);
    benchmark::DoNotOptimize(table.weight().data());
    benchmark::ClobberMemory();
  }
  const auto rows = options.lazy ? touched : num;
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

void lazy_adam(benchmark::State& s) {
  run<emb::optim::Adam<float>>(s, emb::optim::AdamOptions{.lazy = true});
}
void lazy_adamw(benchmark::State& s) {
  run<emb::optim::AdamW<float>>(s, emb::optim::AdamWOptions{.lazy = true});
}
void lazy_sgd(benchmark::State& s) {
  run<emb::optim::SGD<float>>(s, emb::optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .lazy = true});
}
void lazy_adagrad(benchmark::State& s) {
  run<emb::optim::Adagrad<float>>(s, emb::optim::AdagradOptions{.lazy = true});
}
void lazy_rowwise_adagrad(benchmark::State& s) {
  run<emb::optim::RowWiseAdagrad<float>>(s, emb::optim::RowWiseAdagradOptions{.lazy = true});
}
void dense_adam(benchmark::State& s) {
  run<emb::optim::Adam<float>>(s, emb::optim::AdamOptions{});
}
void dense_adamw(benchmark::State& s) {
  run<emb::optim::AdamW<float>>(s, emb::optim::AdamWOptions{});
}
void dense_rowwise_adagrad(benchmark::State& s) {
  run<emb::optim::RowWiseAdagrad<float>>(s, emb::optim::RowWiseAdagradOptions{});
}
void dense_adagrad(benchmark::State& s) {
  run<emb::optim::Adagrad<float>>(s, emb::optim::AdagradOptions{});
}
void dense_sgd(benchmark::State& s) {
  run<emb::optim::SGD<float>>(s, emb::optim::SGDOptions{.lr = 0.1, .momentum = 0.9});
}

}  // namespace

// The target: a lazy Adam step on a 1,000,000 x 128 float table, 10,000 touched rows.
BENCHMARK(lazy_adam)
    ->Args({1'000'000, 128, 10'000})
    ->Args({20'000, 128, 10'000})  // the same work on a table that fits in cache
    ->Unit(benchmark::kMillisecond);
BENCHMARK(lazy_adamw)->Args({1'000'000, 128, 10'000})->Unit(benchmark::kMillisecond);
BENCHMARK(lazy_sgd)->Args({1'000'000, 128, 10'000})->Unit(benchmark::kMillisecond);
BENCHMARK(lazy_adagrad)->Args({1'000'000, 128, 10'000})->Unit(benchmark::kMillisecond);
BENCHMARK(lazy_rowwise_adagrad)->Args({1'000'000, 128, 10'000})->Unit(benchmark::kMillisecond);
BENCHMARK(dense_adam)->Args({100'000, 128, 10'000})->Unit(benchmark::kMillisecond);
BENCHMARK(dense_adagrad)->Args({100'000, 128, 10'000})->Unit(benchmark::kMillisecond);
BENCHMARK(dense_sgd)->Args({100'000, 128, 10'000})->Unit(benchmark::kMillisecond);
BENCHMARK(dense_adamw)->Args({100'000, 128, 10'000})->Unit(benchmark::kMillisecond);
BENCHMARK(dense_rowwise_adagrad)->Args({100'000, 128, 10'000})->Unit(benchmark::kMillisecond);
