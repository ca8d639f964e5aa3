#pragma once
// emb::optim::Adam: PyTorch's torch.optim.Adam, and torch.optim.SparseAdam when lazy.

#include <array>  // std::array

#include "emb/detail/adam.hpp"

namespace emb::optim {

// Aggregate: pass with designated initializers, e.g. {.lr = 1e-2, .lazy = true}.
struct AdamOptions {
  double lr = 1e-3;                         // >= 0
  std::array<double, 2> betas{0.9, 0.999};  // each in [0, 1)
  double eps = 1e-8;                        // > 0
  double weight_decay = 0;                  // >= 0; L2 penalty added to the gradient
  bool amsgrad = false;                     // normalize by the running maximum of v
  bool maximize = false;                    // ascend instead of descend
  bool lazy = false;                        // SparseAdam: update only the gradient's rows
};

// Adam (Kingma and Ba, 2015) over one embedding table; one step counter t per table.
// lazy = false is torch/optim/adam.py (_single_tensor_adam), every row stepping, rows absent
// from the gradient with g = 0:
//   g = maximize ? -g : g;   g += weight_decay * w
//   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2;   v' = amsgrad ? max(v', v) : v
//   w -= lr / (1 - beta1^t) * m / (sqrt(v') / sqrt(1 - beta2^t) + eps)
// lazy = true is torch.optim.SparseAdam (torch/optim/_functional.py, sparse_adam): only the
// gradient's rows and their moments change, and eps sits outside the bias correction:
//   w -= lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v') + eps)
// SparseAdam has no weight decay or amsgrad; here, lazily, they apply to the gradient's rows
// only (the L2 term uses those rows' weights; v' is their running maximum).
//
// Example:
//   emb::Embedding<float> table(1'000'000, 128);
//   emb::optim::Adam<float> opt(table, {.lr = 1e-3, .lazy = true});
//   opt.step(table.backward(indices, grad_output));  // O(rows in the batch x 128)
template <class T>
class Adam : public detail::AdamFamily<Adam<T>, T, AdamOptions, false> {
  using Base = detail::AdamFamily<Adam<T>, T, AdamOptions, false>;

 public:
  static constexpr const char* name = "emb::optim::Adam";

  // Binds to table.weight() (the table must outlive the optimizer) and allocates the moments,
  // (num_embeddings, embedding_dim) each, plus the amsgrad maximum when asked. Throws
  // std::invalid_argument for a negative lr or weight_decay, betas outside [0, 1), eps <= 0.
  // step(), exp_avg(), exp_avg_sq(), max_exp_avg_sq(): see detail::AdamFamily.
  template <class Table>
  requires detail::TableOf<Table, T>
  explicit Adam(Table& table, AdamOptions options = {}) : Base(table.weight(), options) {}
};

template <class Table>
Adam(Table&, AdamOptions = {}) -> Adam<detail::table_scalar_t<Table>>;

}  // namespace emb::optim
