#pragma once
// Index streams for benchmarks: uniform, and Zipf-distributed as word and item ids are.

#include <algorithm>  // std::lower_bound
#include <cmath>      // std::pow
#include <cstdint>    // std::uint64_t
#include <random>     // std::mt19937_64
#include <vector>     // std::vector

#include <emb/types.hpp>

namespace emb::bench {

enum class Distribution { uniform, zipf };

// `count` ids in [0, rows): uniform, or Zipf with exponent 1.05 (rank r drawn with probability
// proportional to 1 / (r + 1)^1.05), ranks shuffled over the ids so hot rows are scattered.
inline std::vector<Index> make_indices(Index rows, Index count, Distribution dist,
                                       std::uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::vector<Index> out(static_cast<std::size_t>(count));
  if (dist == Distribution::uniform) {
    std::uniform_int_distribution<Index> pick(0, rows - 1);
    for (auto& i : out) i = pick(rng);
    return out;
  }
  std::vector<double> cdf(static_cast<std::size_t>(rows));
  double total = 0;
  for (Index r = 0; r < rows; ++r) {
    total += 1.0 / std::pow(static_cast<double>(r + 1), 1.05);
    cdf[static_cast<std::size_t>(r)] = total;
  }
  std::vector<Index> id_of_rank(static_cast<std::size_t>(rows));
  for (Index r = 0; r < rows; ++r) id_of_rank[static_cast<std::size_t>(r)] = r;
  std::shuffle(id_of_rank.begin(), id_of_rank.end(), rng);
  std::uniform_real_distribution<double> u(0, total);
  for (auto& i : out) {
    const auto rank = std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin();
    i = id_of_rank[static_cast<std::size_t>(std::min<std::ptrdiff_t>(rank, rows - 1))];
  }
  return out;
}

}  // namespace emb::bench
