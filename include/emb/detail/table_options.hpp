#pragma once
// The options every table kind takes (padding_idx, max_norm, norm_type, scale_grad_by_freq),
// validated once with PyTorch's rules.

#include <optional>  // std::optional

#include "emb/detail/check.hpp"
#include "emb/types.hpp"

namespace emb::detail {

// The options both table kinds take, already validated.
struct TableOptions {
  std::optional<Index> padding_idx{};  // normalized to [0, num_embeddings)
  std::optional<double> max_norm{};
  double norm_type = 2.0;
  bool scale_grad_by_freq = false;
};

inline void check_shape(const char* where, Index num_embeddings, Index embedding_dim) {
  if (num_embeddings <= 0) {
    throw_invalid(where, ": num_embeddings must be positive, got ", num_embeddings);
  }
  if (embedding_dim <= 0) {
    throw_invalid(where, ": embedding_dim must be positive, got ", embedding_dim);
  }
}

// PyTorch's rules: padding_idx in [-num, num), negative counting from the end; max_norm and
// norm_type positive (norm_type may be infinity: the max-abs norm).
inline TableOptions make_table_options(const char* where, Index num_embeddings,
                                       std::optional<Index> padding_idx,
                                       std::optional<double> max_norm, double norm_type,
                                       bool scale_grad_by_freq) {
  TableOptions options{.norm_type = norm_type, .scale_grad_by_freq = scale_grad_by_freq};
  if (padding_idx) {
    const Index p = *padding_idx;
    if (p < -num_embeddings || p >= num_embeddings) {
      throw_out_of_range(where, ": padding_idx ", p, " is out of range [", -num_embeddings, ", ",
                         num_embeddings, ")");
    }
    options.padding_idx = p < 0 ? p + num_embeddings : p;
  }
  if (max_norm) {
    if (!(*max_norm > 0)) throw_invalid(where, ": max_norm must be positive, got ", *max_norm);
    options.max_norm = max_norm;
  }
  if (!(norm_type > 0)) throw_invalid(where, ": norm_type must be positive, got ", norm_type);
  return options;
}

}  // namespace emb::detail
