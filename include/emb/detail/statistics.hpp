#pragma once
// Correlation coefficients as scipy.stats computes them (pearsonr, spearmanr), in double.

#include <algorithm>  // std::sort, std::clamp
#include <cmath>      // std::sqrt
#include <numeric>    // std::iota
#include <vector>     // std::vector

namespace emb::detail {

// Pearson's r of two equally long samples: centred, each scaled to unit norm, then their dot
// product, clipped to [-1, 1] (scipy.stats.pearsonr). NaN when a sample is constant.
inline double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const auto n = static_cast<double>(x.size());
  double mean_x = 0, mean_y = 0;
  for (std::size_t i = 0; i < x.size(); ++i) mean_x += x[i], mean_y += y[i];
  mean_x /= n, mean_y /= n;
  double xx = 0, yy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    xx += (x[i] - mean_x) * (x[i] - mean_x);
    yy += (y[i] - mean_y) * (y[i] - mean_y);
  }
  const double norm_x = std::sqrt(xx), norm_y = std::sqrt(yy);
  double r = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    r += ((x[i] - mean_x) / norm_x) * ((y[i] - mean_y) / norm_y);
  }
  return r != r ? r : std::clamp(r, -1.0, 1.0);
}

// Ranks from 1, ties sharing the average of their ranks (scipy.stats.rankdata 'average').
inline std::vector<double> average_ranks(const std::vector<double>& x) {
  std::vector<std::size_t> order(x.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
  std::vector<double> ranks(x.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && x[order[j + 1]] == x[order[i]]) ++j;
    const double rank = (static_cast<double>(i) + static_cast<double>(j)) / 2 + 1;
    for (std::size_t t = i; t <= j; ++t) ranks[order[t]] = rank;
    i = j + 1;
  }
  return ranks;
}

// Spearman's rho: Pearson's r of the average ranks (scipy.stats.spearmanr).
inline double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  return pearson(average_ranks(x), average_ranks(y));
}

}  // namespace emb::detail
