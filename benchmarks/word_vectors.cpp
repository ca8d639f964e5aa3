// Word-vector queries on random vectors: the k nearest words of one word (over the float table
// and over compressed ones), of a batch of words (one matrix product), and 3CosAdd analogies. Items
// are queries; bytes are the unit vectors each query scans (words x dim x sizeof(float)), so
// bytes/s shows how close a query comes to streaming the table at memory speed.
//
//   cmake --preset bench && cmake --build build/bench -j2 --target bench_word_vectors
//   build/bench/benchmarks/bench_word_vectors --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true   (one command line)

#include <cstdint>  // std::int64_t
#include <string>   // std::string, std::to_string
#include <utility>  // std::move
#include <vector>   // std::vector

#include <benchmark/benchmark.h>
#include <emb/text/word_vectors.hpp>

namespace {

using emb::Index;

// The name of word i: its number.
std::string word(Index i) {
  return std::to_string(i);
}

// `words` random vectors of `dim` values, named "0", "1", ...; unit vectors computed up front
// (the first query of a real program pays for them once).
emb::WordVectors<float> random_vectors(Index words, Index dim) {
  std::vector<std::string> names(static_cast<std::size_t>(words));
  for (std::size_t i = 0; i < names.size(); ++i) names[i] = word(static_cast<Index>(i));
  emb::WordVectors<float> vectors(emb::Vocabulary(std::move(names)),
                                  emb::Matrix<float>::Random(words, dim));
  benchmark::DoNotOptimize(vectors.unit_vectors().data());
  return vectors;
}

void set_counters(benchmark::State& state, Index queries, Index words, Index dim) {
  const auto done = static_cast<std::int64_t>(state.iterations()) * queries;
  state.SetItemsProcessed(done);
  state.SetBytesProcessed(done * words * dim * static_cast<std::int64_t>(sizeof(float)));
}

// Args: words, dim, k. One word per call, a different one each time.
void similar(benchmark::State& state) {
  const Index words = state.range(0), dim = state.range(1), k = state.range(2);
  const auto vectors = random_vectors(words, dim);
  Index next = 0;
  for (auto _ : state) {
    auto answer = vectors.similar(word(next), k);
    benchmark::DoNotOptimize(answer.data());
    next = (next + 7919) % words;
  }
  set_counters(state, 1, words, dim);
}

// Args: words, dim, batch. k = 10 for every word of the batch, in one call.
void similar_batch(benchmark::State& state) {
  const Index words = state.range(0), dim = state.range(1), batch = state.range(2);
  const auto vectors = random_vectors(words, dim);
  std::vector<std::string> queries(static_cast<std::size_t>(batch));
  for (std::size_t i = 0; i < queries.size(); ++i) {
    queries[i] = word(static_cast<Index>(i * 7919) % words);
  }
  for (auto _ : state) {
    auto answers = vectors.similar_batch(queries, 10);
    benchmark::DoNotOptimize(answers.data());
  }
  set_counters(state, batch, words, dim);
}

// Args: words, dim. "a is to b as c is to ?", the 10 best by 3CosAdd.
void analogy(benchmark::State& state) {
  const Index words = state.range(0), dim = state.range(1);
  const auto vectors = random_vectors(words, dim);
  Index next = 0;
  for (auto _ : state) {
    auto answer = vectors.analogy(word(next), word(next + 1), word(next + 2));
    benchmark::DoNotOptimize(answer.data());
    next = (next + 7919) % (words - 2);
  }
  set_counters(state, 1, words, dim);
}

// Args: words, dim, storage (an emb::Storage). One word per call, as `similar`, over the table
// packed as that storage: each query decodes the rows it scans (the norms are kept after the
// first). Bytes are still the float table's, so bytes/s compares with `similar`.
void similar_compressed(benchmark::State& state) {
  const Index words = state.range(0), dim = state.range(1);
  const auto storage = static_cast<emb::Storage>(state.range(2));
  state.SetLabel(std::string(emb::to_string(storage)));
  const auto owned = random_vectors(words, dim);
  const emb::WordVectors<float> vectors(owned.vocabulary(),
                                        emb::QuantizedTable::quantize(owned.vectors(), storage));
  benchmark::DoNotOptimize(vectors.similar(word(0), 1).data());  // the norms
  Index next = 0;
  for (auto _ : state) {
    auto answer = vectors.similar(word(next), 10);
    benchmark::DoNotOptimize(answer.data());
    next = (next + 7919) % words;
  }
  set_counters(state, 1, words, dim);
}

}  // namespace

// GloVe-6B-like (400,000 x 100 and x 300) and a smaller vocabulary.
BENCHMARK(similar)
    ->ArgNames({"words", "dim", "k"})
    ->Args({50'000, 100, 10})
    ->Args({400'000, 100, 10})
    ->Args({400'000, 300, 10})
    ->Args({400'000, 300, 100})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(similar_compressed)
    ->ArgNames({"words", "dim", "storage"})
    ->Args({400'000, 300, static_cast<int>(emb::Storage::float16)})
    ->Args({400'000, 300, static_cast<int>(emb::Storage::int8)})
    ->Args({400'000, 300, static_cast<int>(emb::Storage::int4)})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(similar_batch)
    ->ArgNames({"words", "dim", "batch"})
    ->Args({50'000, 100, 256})
    ->Args({400'000, 300, 256})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(analogy)
    ->ArgNames({"words", "dim"})
    ->Args({50'000, 100})
    ->Args({400'000, 300})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
