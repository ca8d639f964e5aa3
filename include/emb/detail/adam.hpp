#pragma once
// The Adam row update of emb::optim::AdamFamily (Adam and AdamW): PyTorch's dense formula
// (torch/optim/adam.py and adamw.py, _single_tensor_adam[w]) and SparseAdam's
// (torch/optim/_functional.py, sparse_adam) for lazy steps.

#include <algorithm>    // std::max
#include <array>        // std::array
#include <cmath>        // std::sqrt, std::pow
#include <cstddef>      // std::size_t
#include <cstdint>      // std::int64_t
#include <tuple>        // std::tie
#include <type_traits>  // std::bool_constant
#include <utility>      // std::pair

#include "emb/detail/optimizer.hpp"
#include "emb/gradient.hpp"
#include "emb/types.hpp"

namespace emb::detail {

// Per-step constants, computed in double as PyTorch's Python scalars and rounded to T once, as
// PyTorch does when it applies a Python float to a float tensor.
template <class T>
struct AdamStep {
  T beta1, beta2, one_minus_beta1, one_minus_beta2;
  T l2;          // weight decay added to the gradient (Adam), else 0
  T decay;       // 1 - lr * weight_decay (AdamW), applied to w first
  T bias2_sqrt;  // sqrt(1 - beta2^step), dense form
  T eps;
  T neg_step_size;    // -lr / (1 - beta1^step), dense form
  T neg_sparse_step;  // -lr * sqrt(1 - beta2^step) / (1 - beta1^step), SparseAdam's form
  T sign;             // -1 to maximize, else 1

  AdamStep(double lr, std::array<double, 2> betas, double eps_, double weight_decay, bool decoupled,
           bool maximize, std::int64_t step)
      : beta1(static_cast<T>(betas[0])),
        beta2(static_cast<T>(betas[1])),
        one_minus_beta1(static_cast<T>(1 - betas[0])),
        one_minus_beta2(static_cast<T>(1 - betas[1])),
        l2(static_cast<T>(decoupled ? 0.0 : weight_decay)),
        decay(static_cast<T>(1 - lr * (decoupled ? weight_decay : 0.0))),
        eps(static_cast<T>(eps_)),
        sign(maximize ? T(-1) : T(1)) {
    const double bias1 = 1 - std::pow(betas[0], static_cast<double>(step));
    const double bias2 = 1 - std::pow(betas[1], static_cast<double>(step));
    bias2_sqrt = static_cast<T>(std::sqrt(bias2));
    neg_step_size = static_cast<T>(-(lr / bias1));
    neg_sparse_step = static_cast<T>(-(lr * std::sqrt(bias2) / bias1));
  }

  // torch.optim.Adam/AdamW: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g g;
  // w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), v -> max(vmax, v) with amsgrad.
  // maximize is g * sign (exact), AdamW's decay w * decay (exact when decay is 1).
  template <bool with_l2, bool with_amsgrad>
  void dense_row(std::bool_constant<with_l2>, std::bool_constant<with_amsgrad>, T* w, const T* grad,
                 T* m, T* v, T* vmax, Index dim) const {
    for_columns(dim, [&](Index j) {
      T g = sign * grad[j];
      if constexpr (with_l2) g = g + l2 * w[j];
      w[j] = w[j] * decay;
      m[j] = m[j] * beta1 + one_minus_beta1 * g;
      v[j] = v[j] * beta2 + one_minus_beta2 * g * g;
      if constexpr (with_amsgrad) vmax[j] = std::max(vmax[j], v[j]);
    });
    // The square roots in a second pass, vectorized (see for_sqrt_chunks); then the same
    // operations in the same order as addcdiv_.
    for_sqrt_chunks(with_amsgrad ? vmax : v, dim, [&](Index at, const T* root, Index n) {
      for_columns(n, [&](Index j) {
        w[at + j] = w[at + j] + neg_step_size * m[at + j] / (root[j] / bias2_sqrt + eps);
      });
    });
  }

  // torch.optim.SparseAdam, on one row: the moments move by (1 - b) (new - old) and
  // w -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps); amsgrad as above.
  template <bool with_l2, bool with_amsgrad>
  void sparse_row(std::bool_constant<with_l2>, std::bool_constant<with_amsgrad>, T* w,
                  const T* grad, T* m, T* v, T* vmax, Index dim) const {
    for_columns(dim, [&](Index j) {
      T g = sign * grad[j];
      if constexpr (with_l2) g = g + l2 * w[j];
      w[j] = w[j] * decay;
      const T m_old = m[j], v_old = v[j];
      // SparseAdam's numer and denom are m_step + m_old and v_step + v_old: the same sums
      // (addition commutes exactly) as the new m and v stored here.
      m[j] = m_old + (g - m_old) * one_minus_beta1;
      v[j] = v_old + (g * g - v_old) * one_minus_beta2;
      if constexpr (with_amsgrad) vmax[j] = std::max(vmax[j], v[j]);
    });
    for_sqrt_chunks(with_amsgrad ? vmax : v, dim, [&](Index at, const T* root, Index n) {
      for_columns(n, [&](Index j) {
        w[at + j] = w[at + j] + neg_sparse_step * (m[at + j] / (root[j] + eps));
      });
    });
  }
};

}  // namespace emb::detail
