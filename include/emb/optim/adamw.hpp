#pragma once
// emb::optim::AdamW: Adam with decoupled weight decay, PyTorch's torch.optim.AdamW.

#include <array>  // std::array

#include "emb/optim/adam.hpp"  // AdamFamily

namespace emb::optim {

// Aggregate: as AdamOptions, but weight decay is decoupled and defaults to 1e-2.
struct AdamWOptions {
  double lr = 1e-3;                         // >= 0
  std::array<double, 2> betas{0.9, 0.999};  // each in [0, 1)
  double eps = 1e-8;                        // > 0
  double weight_decay = 1e-2;               // >= 0; w *= 1 - lr * weight_decay each step
  bool amsgrad = false;                     // normalize by the running maximum of v
  bool maximize = false;                    // ascend instead of descend
  bool lazy = false;                        // update only the gradient's rows
};

// AdamW (Loshchilov and Hutter, 2019) over one embedding table; one step counter t per table.
// lazy = false is torch/optim/adamw.py (_single_tensor_adamw), every row stepping, rows absent
// from the gradient with g = 0:
//   w *= 1 - lr * weight_decay;   g = maximize ? -g : g
//   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2;   v' = amsgrad ? max(v', v) : v
//   w -= lr / (1 - beta1^t) * m / (sqrt(v') / sqrt(1 - beta2^t) + eps)
// lazy = true has no PyTorch counterpart. It is lazy Adam (SparseAdam's formula, eps outside
// the bias correction) with the decay applied to the gradient's rows only:
//   w *= 1 - lr * weight_decay;   w -= lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v') +
//   eps)
// so a row decays only in the steps where it receives gradient.
//
// Example:
//   emb::Embedding<float> table(50'000, 64);
//   emb::optim::AdamW<float> opt(table, {.lr = 1e-3, .weight_decay = 1e-2});
//   opt.step(table.backward(indices, grad_output));
template <class T>
class AdamW : public AdamFamily<AdamW<T>, T, AdamWOptions, true> {
  using Base = AdamFamily<AdamW<T>, T, AdamWOptions, true>;

 public:
  static constexpr const char* name = "emb::optim::AdamW";

  // Binds to a Parameter (a table, a Matrix<T> or an Eigen::VectorX<T>; it must outlive the
  // optimizer) and allocates the moments,
  // (num_embeddings, embedding_dim) each, plus the amsgrad maximum when asked. Throws
  // std::invalid_argument for a negative lr or weight_decay, betas outside [0, 1), eps <= 0.
  // step(), exp_avg(), exp_avg_sq(), max_exp_avg_sq(): see AdamFamily (emb/optim/adam.hpp).
  template <class P>
  requires Parameter<P, T>
  explicit AdamW(P& parameter, AdamWOptions options = {}) : Base(parameter, options) {}
};

template <class P>
AdamW(P&, AdamWOptions = {}) -> AdamW<parameter_scalar_t<P>>;

}  // namespace emb::optim
