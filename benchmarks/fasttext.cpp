// Loading a fastText model: the .bin (emb::io::FastTextModel::load: dictionary and input matrix,
// the output matrix skipped) against the same model's .vec text (emb::io::load_vectors), and
// computing every vocabulary word's vector from the .bin (what a .vec holds). Bytes are the
// file's size. The files come from benchmarks/fasttext_vs_gensim.py, which also times gensim's
// load_facebook_model on them and prints the comparison:
//
//   cmake --preset bench && cmake --build build/bench -j2 --target bench_fasttext
//   /usr/bin/python3 benchmarks/fasttext_vs_gensim.py --bench build/bench/benchmarks/bench_fasttext
//
// Alone: EMB_BENCH_FASTTEXT=/path/model (model.bin and model.vec)
// build/bench/benchmarks/bench_fasttext

#include <cstdint>     // std::int64_t
#include <cstdlib>     // std::getenv
#include <filesystem>  // std::filesystem::path, file_size
#include <string>      // std::string

#include <benchmark/benchmark.h>
#include <emb/io/fasttext_bin.hpp>
#include <emb/io/load.hpp>

namespace {

// $EMB_BENCH_FASTTEXT + extension, or empty (the benchmark is then skipped with a message).
std::filesystem::path model_file(const char* extension) {
  const char* stem = std::getenv("EMB_BENCH_FASTTEXT");
  return stem && *stem ? std::filesystem::path(std::string(stem) + extension)
                       : std::filesystem::path();
}

bool have(benchmark::State& state, const std::filesystem::path& path) {
  if (!path.empty() && std::filesystem::exists(path)) return true;
  state.SkipWithError(
      "set EMB_BENCH_FASTTEXT to a model's path without extension "
      "(benchmarks/fasttext_vs_gensim.py writes one)");
  return false;
}

void set_bytes(benchmark::State& state, const std::filesystem::path& path) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(std::filesystem::file_size(path)));
}

void load_bin(benchmark::State& state) {
  const auto path = model_file(".bin");
  if (!have(state, path)) return;
  for (auto _ : state) {
    auto model = emb::io::FastTextModel::load(path);
    benchmark::DoNotOptimize(model.input_matrix().data());
  }
  set_bytes(state, path);
}

void load_vec(benchmark::State& state) {
  const auto path = model_file(".vec");
  if (!have(state, path)) return;
  for (auto _ : state) {
    auto loaded = emb::io::load_vectors<float>(path);
    benchmark::DoNotOptimize(loaded.vectors.data());
  }
  set_bytes(state, path);
}

// The .bin loaded, then the vectors of all its words (the .vec's contents) computed.
void load_bin_and_word_vectors(benchmark::State& state) {
  const auto path = model_file(".bin");
  if (!have(state, path)) return;
  for (auto _ : state) {
    const auto model = emb::io::FastTextModel::load(path);
    auto vectors = model.word_vectors();
    benchmark::DoNotOptimize(vectors.data());
  }
  set_bytes(state, path);
}

BENCHMARK(load_bin)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(load_vec)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(load_bin_and_word_vectors)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
