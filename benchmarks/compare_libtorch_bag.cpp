// emb's EmbeddingBag forward next to LibTorch's torch::embedding_bag, in one process on the same
// table memory: a 1,000,000 x 128 float table, 4,096 bags of 20 uniform indices, sum mode (the
// fastest LibTorch path). The two run alternately, so both see the same machine load, on batches
// that change every call (7 of them, 40 MB of rows each), so neither finds the other's rows in
// cache. The program prints the median time of each and their ratio, for one thread and for
// all of them.
//
//   cmake --preset bench && cmake --build build/bench -j2 --target compare_libtorch_bag
//   build/bench/benchmarks/compare_libtorch_bag [rounds]

#include <algorithm>  // std::sort
#include <chrono>     // std::chrono::steady_clock
#include <cstdio>     // std::printf
#include <cstdlib>    // std::atoi, EXIT_FAILURE
#include <random>     // std::mt19937_64
#include <thread>     // std::thread::hardware_concurrency
#include <vector>     // std::vector

#include <torch/torch.h>

#include <emb/embedding_bag.hpp>

#include "side_by_side.hpp"

namespace {

constexpr emb::Index num_embeddings = 1'000'000;
constexpr emb::Index embedding_dim = 128;
constexpr emb::Index bags = 4096;
constexpr emb::Index bag_size = 20;

using emb::bench::median;
using emb::bench::set_threads;

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 30;
  if (rounds < 1) {
    std::fprintf(stderr, "usage: compare_libtorch_bag [rounds >= 1]\n");
    return EXIT_FAILURE;
  }
  emb::EmbeddingBag<float> table(num_embeddings, embedding_dim,
                                 {.mode = emb::BagMode::sum, .seed = 1});
  // LibTorch reads the very same memory: no copy, no difference in where rows live.
  const torch::Tensor weight =
      torch::from_blob(table.weight().data(), {num_embeddings, embedding_dim}, torch::kFloat);

  // Consecutive calls use different batches; a batch comes back after 6 others (240 MB).
  constexpr int batches = 7;
  std::vector<std::vector<emb::Index>> indices(batches);
  std::vector<emb::Index> offsets;
  std::vector<torch::Tensor> t_indices;
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<emb::Index> row(0, num_embeddings - 1);
  for (auto& batch : indices) {
    for (emb::Index i = 0; i < bags * bag_size; ++i) batch.push_back(row(rng));
    t_indices.push_back(torch::from_blob(batch.data(), {bags * bag_size}, torch::kLong));
  }
  for (emb::Index b = 0; b < bags; ++b) offsets.push_back(b * bag_size);
  const torch::Tensor t_offsets = torch::from_blob(offsets.data(), {bags}, torch::kLong);

  auto run_torch = [&](int batch) {
    // mode 0 = sum; scale_grad_by_freq and sparse off; no per_sample_weights.
    return std::get<0>(torch::embedding_bag(weight, t_indices[static_cast<std::size_t>(batch)],
                                            t_offsets, false, 0, false, {}, false));
  };
  auto run_emb = [&](int batch) {
    return table.forward(indices[static_cast<std::size_t>(batch)], offsets);
  };

  // Same numbers first: the comparison is only worth something if both compute the same thing.
  const torch::Tensor want = run_torch(0);
  const auto got = run_emb(0);
  const torch::Tensor got_t =
      torch::from_blob(const_cast<float*>(got.output.data()), {bags, embedding_dim}, torch::kFloat);
  const double diff = (want - got_t).abs().max().item<double>();
  std::printf("LibTorch %s, %d hardware threads; max |emb - torch| = %g\n", TORCH_VERSION,
              static_cast<int>(std::thread::hardware_concurrency()), diff);
  if (!(diff <= 1e-4)) {
    std::fprintf(stderr, "outputs differ\n");
    return EXIT_FAILURE;
  }

  const int all = static_cast<int>(std::thread::hardware_concurrency());
  std::vector<int> thread_counts{1};
  if (all > 1) thread_counts.push_back(all);
  std::printf("%-8s %14s %14s %12s\n", "threads", "torch ms", "emb ms", "torch / emb");
  for (int threads : thread_counts) {
    set_threads(threads);
    int call = 0;  // the batch of call k is k % batches
    for (int warm = 0; warm < batches; ++warm) {
      run_torch(call++ % batches);
      run_emb(call++ % batches);
    }
    std::vector<double> torch_ms, emb_ms;
    for (int r = 0; r < rounds; ++r) {
      torch_ms.push_back(emb::bench::time_once_ms([&] { run_torch(call++ % batches); }));
      emb_ms.push_back(emb::bench::time_once_ms([&] { run_emb(call++ % batches); }));
    }
    const double t = median(torch_ms), e = median(emb_ms);
    std::printf("%-8d %14.3f %14.3f %12.2f\n", threads, t, e, t / e);
  }
}
